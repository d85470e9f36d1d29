package import DurinCore
package import DurinStore
package import RedisClient

/// Moves a one-server keyspace into a Redis Cluster (`durinctl migrate --from URL`),
/// with every live token, so that nobody is logged out by the switch.
///
/// Clients, issuers and users are copied where the cluster does not have them yet;
/// each token moves with its index entry in one script in its user's slot
/// (`MoveTokenScript`), keeping its digest, sealed copy, expiry and session id. A
/// token's digest was drawn on one server, so it does not start with its user's tag:
/// its digest's slot gets a home pointer (`KeySpace.tokenHome`, the user's tag, expiring
/// with the token), which the scripts that start from a token follow (`Located`).
/// Each tag's session-id counter is then raised above the largest id moved.
///
/// Safe to run again (after the switch, for what the server did meanwhile): records
/// the cluster has already are left as they are; a token takes the later of the two
/// expiries; a token an earlier run moved (its mark, `MoveTokenScript`) is never
/// created again, so one revoked on the cluster since stays revoked; and a moved token
/// the server no longer has live is revoked here, as is a user the server deactivated.
/// Users and clients removed on the server in between are not: remove them here too.
package struct ClusterMove {
    package struct Report: Equatable, Sendable, CustomStringConvertible {
        package var clients = 0
        package var issuers = 0
        package var users = 0
        package var tokens = 0
        /// Tokens whose hash lives under their user's tag, found through a pointer.
        package var homePointers = 0
        package var unchanged = 0
        /// Tokens refreshed on the server since an earlier run: the later expiry taken.
        package var updated = 0
        /// Tokens an earlier run moved and that are gone here since: not brought back.
        package var gone = 0
        /// Moved tokens revoked here because the server revoked them since.
        package var revoked = 0
        /// Users deactivated here because the server deactivated them since.
        package var deactivated = 0
        /// Tokens whose pair already has a newer live token on the cluster.
        package var superseded = 0
        package var dryRun = false

        package var description: String {
            (dryRun ? "would move " : "moved ")
                + "\(clients) clients, \(issuers) issuers, \(users) users and \(tokens) live tokens"
                + " (\(homePointers) found through a home pointer)"
                + (unchanged + updated + gone + superseded + revoked + deactivated > 0
                    ? "; of those seen before: \(unchanged) unchanged, \(updated) with a later expiry, \(gone) gone here since"
                        + ", \(superseded) superseded here; \(revoked) tokens revoked and \(deactivated) users deactivated"
                        + " as the server did since" : "")
        }
    }

    private let source: any RedisCommandConnection
    private let destination: any RedisCommandConnection
    private let from: KeySpace
    private let keys: KeySpace
    private let context: ScriptContext
    /// The console's client: a user deactivated on the server loses its console session here too.
    private let console: String
    private let graceMillis: Int64

    /// - Parameters:
    ///   - source: the one server (layout 2), under the same key prefix.
    ///   - destination: the store `configuration` names (a cluster, or another server).
    package init(source: any RedisCommandConnection, destination: any RedisCommandConnection, configuration: Configuration) {
        self.source = source
        self.destination = destination
        from = KeySpace(prefix: configuration.keyPrefix)
        keys = KeySpace(configuration: configuration)
        context = ScriptContext(keys: keys, eventsMaxLength: configuration.eventsMaxLength)
        console = configuration.consoleClientName
        graceMillis = configuration.expiredGraceSeconds * 1000
    }

    package func run(dryRun: Bool = false, now: EpochMillis = WallClock.nowMillis()) throws(StoreError) -> Report {
        guard try source.call(["GET", from.layout]).string == LayoutMigration.current else {
            throw .unexpected("the source is not in layout \(LayoutMigration.current): run `durinctl migrate` against it first")
        }
        var report = Report(dryRun: dryRun)
        if let secret = try source.call(["GET", from.secret]).string, !dryRun {
            _ = try destination.call(["SET", keys.secret, secret, "NX"])
        }
        for name in try members(from.clients) {
            if try copy(from.client(name), to: keys.client(name), dryRun: dryRun) {
                report.clients += 1
                if !dryRun { _ = try destination.call(["SADD", keys.clients, name]) }
            }
        }
        for (name, digest) in try source.call(["HGETALL", from.issuers]).fieldMap.sorted(by: { $0.key < $1.key }) {
            if try copy(from.issuer(digest), to: keys.issuer(digest), dryRun: dryRun) {
                report.issuers += 1
                if !dryRun { _ = try destination.call(["HSET", keys.issuers, name, digest]) }
            }
        }
        var largestID: Int64 = 0
        for name in try members(from.users).sorted() {
            let fields = try source.call(["HGETALL", from.user(name)]).fieldMap
            guard !fields.isEmpty else { continue }
            let index = fields.filter { $0.key.hasPrefix(KeySpace.tokenIndexPrefix) }
            let record = fields.filter { !$0.key.hasPrefix(KeySpace.tokenIndexPrefix) && $0.key != "password" }
            if try copy(record, to: keys.user(name), dryRun: dryRun) {
                report.users += 1
                if !dryRun {
                    // The hash in its own key here (layout 3), from the server's key or,
                    // before its migration, its user hash.
                    if let hash = try source.call(["GET", from.password(name)]).string ?? fields["password"] {
                        _ = try destination.call(["SET", keys.password(name), hash, "NX"])
                    }
                    _ = try destination.call(["SADD", keys.users, name])
                    _ = try destination.call(["ZADD", keys.userIndex, "0", name])
                }
            }
            var live: [(client: String, digest: String, token: [String: String])] = []
            for (field, digest) in index.sorted(by: { $0.key < $1.key }) {
                let token = try source.call(["HGETALL", from.token(digest)]).fieldMap
                guard let expiry = token["e"], token["u"] == name else { continue }
                if let expiresAt = StoredToken.expiry(expiry), expiresAt <= now { continue }
                live.append((String(field.dropFirst(KeySpace.tokenIndexPrefix.count)), digest, token))
            }
            try follow(name, server: fields, live: Set(live.map(\.digest)), dryRun: dryRun, report: &report)
            for (client, digest, token) in live {
                guard let id = token["i"].flatMap({ Int64($0) }) else { continue }
                largestID = max(largestID, id)
                let movedIn = keys.cluster && !digest.hasPrefix(KeySpace.userTag(name))
                if dryRun {
                    report.tokens += 1
                    if movedIn { report.homePointers += 1 }
                    continue
                }
                let pairs = StoredToken.fields.flatMap { f in token[f].map { [f, $0] } ?? [] }
                switch try destination.run(
                    MoveTokenScript(
                        user: name, client: client, digest: digest, fields: pairs,
                        graceMillis: graceMillis), context: context)
                {
                case .moved: report.tokens += 1
                case .unchanged: report.unchanged += 1
                case .updated: report.updated += 1
                case .gone:
                    report.gone += 1
                    continue
                case .superseded:
                    report.superseded += 1
                    continue
                case .noUser: continue
                }
                if movedIn {
                    // The pointer lives as long as the token's hash (its expiry, as
                    // the script left it, plus the grace period).
                    report.homePointers += 1
                    let stored = try destination.call(["HGET", keys.token(digest, of: name), "e"]).string
                    var set = ["SET", keys.tokenHome(digest), KeySpace.userTag(name)]
                    if let until = StoredToken.expiry(stored) { set += ["PXAT", String(until + graceMillis)] }
                    _ = try destination.call(set)
                }
            }
        }
        if !dryRun && largestID > 0 { try raiseSessionCounters(above: largestID) }
        return report
    }

    /// What the server did to a user since an earlier run: a token moved then (marked
    /// here) that the server no longer has live is revoked here, and a deactivation is
    /// copied. Before the user's tokens move, so that a pair's new token (the server
    /// rotated it) finds its place free.
    private func follow(
        _ name: String, server: [String: String], live: Set<String>, dryRun: Bool,
        report: inout Report
    ) throws(StoreError) {
        let here = try destination.call(["HGETALL", keys.user(name)]).fieldMap
        guard !here.isEmpty else { return }
        if server["is_active"] == "0" && here["is_active"] == "1" {
            report.deactivated += 1
            if !dryRun { _ = try destination.run(SetActiveScript(name: name, active: false, console: console), context: context) }
        }
        for (field, digest) in here where field.hasPrefix(KeySpace.tokenIndexPrefix) && !live.contains(digest) {
            // Only tokens that came from the server: one issued here has no mark.
            guard try destination.call(["EXISTS", keys.movedMark(digest, of: name)]).int == 1 else { continue }
            let client = String(field.dropFirst(KeySpace.tokenIndexPrefix.count))
            report.revoked += 1
            if dryRun { continue }
            _ = try destination.run(RevokeUserTokensScript(user: name, client: client, reason: "logout"), context: context)
            _ = try destination.call(["DEL", keys.tokenHome(digest)])
        }
    }

    /// Session ids after the move never repeat a moved one: one server's counter is
    /// raised to the largest; on a cluster, where an id is counter x 4,096 + tag,
    /// every tag's counter is raised past largest / 4,096.
    private func raiseSessionCounters(above largest: Int64) throws(StoreError) {
        guard keys.cluster else {
            _ = try destination.run(SessionFloorScript(key: keys.tokenSequence, floor: largest), context: context)
            return
        }
        let floor = largest / Int64(KeySpace.tagCount) + 1
        for number in 0..<KeySpace.tagCount {
            let key = keys.tokenSequence(tag: KeySpace.tag(number: number))
            _ = try destination.run(SessionFloorScript(key: key, floor: floor), context: context)
        }
    }

    private func members(_ set: String) throws(StoreError) -> [String] {
        (try source.call(["SMEMBERS", set]).array ?? []).compactMap(\.string).sorted()
    }

    /// Copies a hash unless the destination has it; whether it was (or would be) copied.
    private func copy(_ key: String, to target: String, dryRun: Bool) throws(StoreError) -> Bool {
        try copy(try source.call(["HGETALL", key]).fieldMap, to: target, dryRun: dryRun)
    }

    private func copy(_ fields: [String: String], to target: String, dryRun: Bool) throws(StoreError) -> Bool {
        guard !fields.isEmpty, try destination.call(["EXISTS", target]).int == 0 else { return false }
        if !dryRun {
            _ = try destination.call(["HSET", target] + fields.sorted(by: { $0.key < $1.key }).flatMap { [$0.key, $0.value] })
        }
        return true
    }
}
