package import DurinCore
import Glibc
package import RedisClient

/// Clients, users and token listings: what `durinctl` manages, and the reads the
/// login path needs. Writes that touch several keys go through scripts.
package final class AdminStore {
    package let connection: any RedisCommandConnection
    package let keys: KeySpace
    package let context: ScriptContext

    private let redisTimeoutMillis: Int
    /// The operator console's client (`TokenStore.consoleClient`): no issuer may
    /// name it, and a user who loses the console loses its session with it.
    package let consoleClient: String
    /// DURIN_LAST_USED_RESOLUTION in ms: how late a token's last use may be written,
    /// so how long past its idle timeout a token may still be in use.
    private let lastUsedResolution: Int64?

    /// The time its changes are made at.
    package let clock: any WallTime
    /// The request this store is working for (empty: none, as in durinctl): its events carry it.
    package var trace = ""

    package init(connection: any RedisCommandConnection, configuration: Configuration, clock: any WallTime = .system) {
        self.connection = connection
        self.clock = clock
        redisTimeoutMillis = configuration.redisTimeoutMillis
        lastUsedResolution = configuration.lastUsedResolutionMillis
        consoleClient = configuration.consoleClientName
        keys = KeySpace(configuration: configuration)
        context = ScriptContext(keys: keys, eventsMaxLength: configuration.eventsMaxLength)
    }

    func run<Call: ScriptCall>(_ call: Call) throws(Failure) -> Call.Outcome {
        do { return try connection.run(call, context: context, now: clock.nowMillis(), trace: trace) } catch { throw .store(error) }
    }

    package enum Failure: Error, Equatable, CustomStringConvertible {
        case exists(String)
        case notFound(String)
        /// A name this operation may not use (the console's client for an issuer).
        case reserved(String)
        case store(StoreError)

        package var description: String {
            switch self {
            case .exists(let what): return "\(what) already exists"
            case .notFound(let what): return "no \(what)"
            case .reserved(let why): return why
            case .store(let e): return e.description
            }
        }
    }

    // MARK: Clients

    package func client(named name: String) throws(StoreError) -> ClientRecord? {
        try connection.clientRecord(named: name, keys: keys)
    }

    package func clients() throws(StoreError) -> [ClientRecord] {
        try connection.clientRecords(keys: keys)
    }

    package func addClient(_ client: ClientRecord) throws(Failure) {
        if try !run(AddClientScript(client: client)) { throw .exists("client \(client.name)") }
    }

    /// Changes a client's settings. A new TTL applies to tokens issued or refreshed
    /// from now on (as durin's does); a new idle timeout (`idle`: seconds, `.some(nil)`
    /// for none) also reaches the client's live tokens (`stampIdleTimeout`): returns
    /// how many it changed.
    @discardableResult
    package func updateClient(
        _ name: String, ttl: TokenTTL?, throttle: ThrottleRate??, idle: Int64?? = nil, cookie: Bool? = nil,
        rotate: Bool? = nil, reuseGrace: Int64? = nil, requireOTP: Bool? = nil
    ) throws(Failure) -> Int {
        var pairs: [String] = []
        if let cookie { pairs += ["cookie", cookie ? "1" : ""] }
        if let rotate { pairs += ["rotate", rotate ? "1" : ""] }
        if let reuseGrace { pairs += ["reuse_grace", String(reuseGrace)] }
        if let requireOTP { pairs += ["otp", requireOTP ? "1" : ""] }
        if let ttl { pairs += ["token_ttl", ttl.storedValue] }
        if let throttle { pairs += ["throttle_rate", throttle?.description ?? ""] }
        if let idle { pairs += ["idle_timeout", idle.map(String.init) ?? ""] }
        try setFields(key: keys.client(name), pairs, what: "client \(name)")
        guard let idle else { return 0 }
        return try stampIdleTimeout(client: name, idle: idle)
    }

    /// Gives the client's live tokens its idle timeout, `batch` users at a time (one
    /// at a time on a cluster), as `removeClient` walks them, and expires those
    /// already idle under it. A login or refresh meanwhile takes the client's
    /// setting itself. Returns how many tokens now have the timeout.
    func stampIdleTimeout(client: String, idle: Int64?, batch: Int = 500) throws(Failure) -> Int {
        var stamped = 0
        do {
            try forEachBatchOfUsernames(count: batch) { names throws(StoreError) in
                if keys.cluster {
                    for user in names {
                        stamped += try connection.run(
                            StampClientIdleScript(
                                client: client, idle: idle, resolution: lastUsedResolution,
                                users: [user], cluster: true),
                            context: context, now: clock.nowMillis(), trace: trace)
                    }
                } else {
                    stamped += try connection.run(
                        StampClientIdleScript(
                            client: client, idle: idle, resolution: lastUsedResolution,
                            users: names, cluster: false),
                        context: context, now: clock.nowMillis(), trace: trace)
                }
                return true
            }
        } catch { throw .store(error) }
        return stamped
    }

    /// Removes the client and every token issued to it. Returns how many tokens went.
    ///
    /// The record goes first, in one script: from then on no login issues a token of
    /// the client. Then its tokens go, `batch` users at a time (SSCAN of the user
    /// names), so that no script holds Redis for long however many users there are:
    /// a token of the client may still be checked until its user's batch has run.
    /// On a cluster, where users live in other slots, it is one user at a time, after
    /// a pause longer than a login that read the client record just before its removal
    /// can take (its script's Redis timeout, twice, and the cluster connection's
    /// retries). Running it again for a client already gone sweeps again, so an
    /// interrupted removal can be finished.
    @discardableResult
    package func removeClient(_ name: String, batch: Int = 500) throws(Failure) -> Int {
        let removed = try run(RemoveClientScript(name: name))
        if keys.cluster {
            usleep(UInt32(max(TokenStore.clientCopyMillis, 2 * EpochMillis(redisTimeoutMillis)) * 1000 + 2_500_000))
        }
        var revoked = 0
        do {
            try forEachBatchOfUsernames(count: batch) { names throws(StoreError) in
                if keys.cluster {
                    for user in names {
                        revoked += try connection.run(
                            RevokeUserTokensScript(user: user, client: name, reason: "client_removed"),
                            context: context, now: clock.nowMillis(), trace: trace
                        ).count
                    }
                    return true
                }
                // nil: the client was added again meanwhile; its new tokens stay.
                guard
                    let n = try connection.run(
                        RevokeClientTokensScript(client: name, users: names), context: context, now: clock.nowMillis(), trace: trace)
                else { return false }
                revoked += n
                return true
            }
        } catch { throw .store(error) }
        if !removed && revoked == 0 { throw .notFound("client \(name)") }
        return revoked
    }

    /// Walks the set of usernames with SSCAN, about `count` names a call, until the end
    /// or until `body` answers false.
    package func forEachBatchOfUsernames(count: Int, _ body: ([String]) throws(StoreError) -> Bool) throws(StoreError) {
        var cursor = "0"
        repeat {
            let reply = try connection.call(["SSCAN", keys.users, cursor, "COUNT", String(count)])
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string else {
                throw .unexpected("SSCAN: \(reply)")
            }
            cursor = next
            let names = (parts[1].array ?? []).compactMap(\.string)
            if !names.isEmpty, try !body(names) { return }
        } while cursor != "0"
    }

    // MARK: Users

    package func user(named name: String) throws(StoreError) -> UserRecord? {
        UserRecord(fields: try connection.call(["HGETALL", keys.user(name)]).fieldMap)
    }

    package func users() throws(StoreError) -> [UserRecord] {
        var out: [UserRecord] = []
        for name in try usernames().sorted() { if let u = try user(named: name) { out.append(u) } }
        return out
    }

    /// The set of usernames. On a cluster it may name a user whose removal was cut
    /// short before the name left it; readers skip names without a record. Read in
    /// batches: one SMEMBERS of a million names would be a 20 MB reply, above the
    /// cap durin-redis.conf puts on a client's unread replies.
    func usernames() throws(StoreError) -> [String] {
        var names = Set<String>()
        try forEachBatchOfUsernames(count: 1000) { (batch: [String]) throws(StoreError) -> Bool in
            names.formUnion(batch)
            return true
        }
        return Array(names)
    }

    package func addUser(_ user: UserRecord) throws(Failure) {
        // On a cluster the name set has a slot of its own: the name goes in first, so
        // that no user exists without it (a name without a user is skipped).
        if keys.cluster { try run(IndexUsernameScript(name: user.username, add: true)) }
        if try !run(AddUserScript(user: user, created: clock.nowMillis(), passwordKey: keys.password(user.username))) {
            throw .exists("user \(user.username)")
        }
    }

    /// A user's password hash: its own key, else (layout 2, before the migration) the
    /// user hash's field. nil: no such user, or none.
    package func passwordHash(of name: String) throws(StoreError) -> String? {
        if let hash = try connection.call(["GET", keys.password(name)]).string { return hash }
        return try connection.call(["HGET", keys.user(name), "password"]).string
    }

    /// Sets a user's password hash and what goes with it, in one step (see
    /// ChangePasswordScript). Returns how many of the user's tokens were revoked.
    @discardableResult
    package func changePassword(
        _ name: String, hash: String, keeping digest: String? = nil, revokeOthers: Bool, requireChange: Bool = false,
        event: String, by: String = ""
    ) throws(Failure) -> Int {
        guard
            let n = try run(
                ChangePasswordScript(
                    name: name, passwordKey: keys.password(name), hash: hash, keep: digest ?? "", revoke: revokeOthers,
                    requireChange: requireChange, event: event, by: by))
        else { throw .notFound("user \(name)") }
        return n
    }

    /// Sets and removes profile fields of an existing user (names checked by the
    /// caller: `Names.isValidProfileField`), with a `user_changed` event.
    package func updateProfile(_ name: String, set: [String: String], remove: [String], by: String) throws(Failure) {
        if try !run(UpdateProfileScript(name: name, set: set, remove: remove, by: by)) { throw .notFound("user \(name)") }
    }

    /// Whether the user must choose a new password at their next login (`pw_change`:
    /// `1`, or empty, which reads as no).
    package func requirePasswordChange(_ name: String, _ required: Bool) throws(Failure) {
        try setFields(key: keys.user(name), ["pw_change", required ? "1" : ""], what: "user \(name)")
    }

    package func setPasswordHash(_ name: String, hash: String) throws(Failure) {
        if try !run(SetPasswordScript(name: name, passwordKey: keys.password(name), hash: hash)) { throw .notFound("user \(name)") }
    }

    /// Deactivated users keep their tokens, which answer "User inactive or deleted."
    /// (and work again on reactivation), except their console session, which ends.
    package func setActive(_ name: String, _ active: Bool) throws(Failure) {
        if try !run(SetActiveScript(name: name, active: active, console: consoleClient)) { throw .notFound("user \(name)") }
    }

    /// Removes the user and their tokens. Returns how many tokens went.
    @discardableResult
    package func removeUser(_ name: String) throws(Failure) -> Int {
        guard
            let n = try run(
                RemoveUserScript(
                    name: name, failuresKey: keys.loginFailures(user: name),
                    passwordKey: keys.password(name), totpKey: keys.totp(name)))
        else { throw .notFound("user \(name)") }
        if keys.cluster { try run(IndexUsernameScript(name: name, add: false)) }
        return n
    }

    // MARK: Tokens

    /// Live tokens, optionally of one user and/or client, ordered by session id.
    package func tokens(user: String? = nil, client: String? = nil) throws(StoreError) -> [TokenRecord] {
        let usernames: [String]
        if let user { usernames = [user] } else { usernames = try self.usernames() }
        var found: [TokenRecord] = []
        for name in usernames {
            found += try connection.liveTokens(of: name, keys: keys, now: clock.nowMillis()).map(\.record).filter {
                client == nil || $0.client == client
            }
        }
        return found.sorted { $0.id < $1.id }
    }

    // MARK: Internals

    private func setFields(key: String, _ pairs: [String], what: String) throws(Failure) {
        guard !pairs.isEmpty else { return }
        if try !run(SetExistingScript(key: key, pairs: pairs)) { throw .notFound(what) }
    }
}

// MARK: - The operator console's reads

extension AdminStore {
    /// Records an event of its own (the console's actions: `kind` `console`, `user`
    /// the operator, `client` what they acted on, `reason` the action).
    package func recordEvent(kind: String, user: String, client: String, reason: String, issuer: String = "") throws(Failure) {
        try run(RecordEventScript(kind: kind, user: user, client: client, reason: reason, issuer: issuer))
    }

    /// Grants or takes away the console (`is_staff`). Taken away, the user's console
    /// session ends with it: granting it again needs a new sign-in.
    package func setStaff(_ name: String, _ staff: Bool) throws(Failure) {
        if try !run(SetStaffScript(name: name, staff: staff, console: consoleClient)) { throw .notFound("user \(name)") }
    }

    /// Usernames starting with `prefix`, in byte order, at most `limit`: a ZRANGE BYLEX
    /// of the username index, O(log n + limit) however many users there are. The
    /// index may still name a removed user (durin's ACL has no ZREM, and an index
    /// entry costs less than a right operators must add): such names are skipped.
    package func usernames(prefix: String, limit: Int) throws(StoreError) -> [String] {
        let start = Array("[\(prefix)".utf8)
        // Every name with the prefix sorts before the prefix followed by 0xFF (no
        // UTF-8 byte is 0xFF).
        let end = Array("[\(prefix)".utf8) + [0xFF]
        let args: [[UInt8]] = [
            Array("ZRANGE".utf8), Array(keys.userIndex.utf8), start, end, Array("BYLEX".utf8),
            Array("LIMIT".utf8), Array("0".utf8), Array(String(limit * 2 + 10).utf8),
        ]
        let reply: RedisReply
        do { reply = try connection.send(args) } catch { throw StoreError(error) }
        if case .error(let message) = reply { throw StoreError(reply: message) }
        let names = (reply.array ?? []).compactMap(\.string)
        guard !names.isEmpty else { return [] }
        let exists: [RedisReply]
        let commands = names.map { ["EXISTS", keys.user($0)] }
        do throws(RedisError) { exists = try connection.pipeline(commands) } catch { throw StoreError(error) }
        return Array(zip(names, exists).filter { $0.1.int == 1 }.map(\.0).prefix(limit))
    }

    /// Builds the username index from the set of usernames when it is missing while
    /// users exist (data from before the index), `batch` names a round trip. Returns
    /// how many names it added.
    @discardableResult
    package func ensureUserIndex(batch: Int = 1000) throws(StoreError) -> Int {
        guard (try connection.call(["ZCARD", keys.userIndex]).int ?? 0) == 0 else { return 0 }
        var added = 0
        try forEachBatchOfUsernames(count: batch) { names throws(StoreError) in
            _ = try connection.call(["ZADD", keys.userIndex] + names.flatMap { ["0", $0] })
            added += names.count
            return true
        }
        return added
    }

    /// About how many live tokens each client has: one pass over the users, `batch`
    /// of them a pipelined round trip (an HMGET of their index entries for `clients`),
    /// so no command holds Redis for long. An index entry whose token expired and was
    /// not yet swept still counts: "about".
    package func tokenCounts(clients: [String], batch: Int = 500) throws(StoreError) -> [String: Int] {
        var counts = Dictionary(uniqueKeysWithValues: clients.map { ($0, 0) })
        guard !clients.isEmpty else { return counts }
        let fields = clients.map { KeySpace.tokenIndexPrefix + $0 }
        try forEachBatchOfUsernames(count: batch) { names throws(StoreError) in
            let replies: [RedisReply]
            if keys.cluster {
                replies = try names.map { name throws(StoreError) in try connection.call(["HMGET", keys.user(name)] + fields) }
            } else {
                let commands = names.map { ["HMGET", keys.user($0)] + fields }
                do throws(RedisError) { replies = try connection.pipeline(commands) } catch { throw StoreError(error) }
            }
            for reply in replies {
                for (client, value) in zip(clients, reply.array ?? []) where value.string != nil { counts[client, default: 0] += 1 }
            }
            return true
        }
        return counts
    }
}
