import Codecs
package import DurinCore
package import RedisClient

/// Token operations on one Redis connection: each is a single atomic script.
/// Not thread-safe, like the connection it owns: one per worker thread.
package final class TokenStore {
    package let connection: any RedisCommandConnection
    package let keys: KeySpace
    package let context: ScriptContext
    package let graceMillis: Int64
    /// The operator console's client (DURIN_CONSOLE_CLIENT). Its tokens are console
    /// sessions: made only by the console's sign-in (`consoleSignIn`), valid only in
    /// the console's own check (`AccessRules.consoleSession`). No login, issuer, tool
    /// or import makes one, and no other check, introspection or issuer's revocation
    /// sees one: a credential that can reach those routes cannot become a console
    /// administrator.
    package let consoleClient: String
    private let defaultTTL: TokenTTL
    private let tokenLength: Int
    private let minReplicas: Int
    private let waitMillis: Int
    /// DURIN_LAST_USED_RESOLUTION in ms; nil: checks never write a token's last use.
    private let lastUsedResolution: Int64?
    private var seal: TokenSeal?
    /// The time a call is made at when it is not given one.
    package let clock: any WallTime
    /// The request this store is working for (nginx's `$request_id`, or empty): set
    /// by the request pipeline before each request, carried by the events it records.
    package var trace = ""
    /// Whether `seal` was recorded (service) or found recorded (tool) in Redis.
    private var sealAgreed = false
    private let sealing: SealingRole
    /// On a cluster, this store's copy of the client records for the throttled
    /// check (they live in another slot than the scripts that need them), and when
    /// it was read. Login and refresh read the one client they need instead.
    private var clientCopy: (records: [String: ClientRecord], readAt: EpochMillis)?
    /// How old the copy may be: a changed throttle rate reaches every responder's
    /// throttled checks within this.
    package static let clientCopyMillis: EpochMillis = 1000

    /// Who seals through a store. A token is sealed so that the service can hand it
    /// back; one sealed under another secret cannot be, and its user silently gets a
    /// new token at the next login. So the service records its secret's fingerprint
    /// (`KeySpace.sealingFingerprint`), and a tool must have the same secret to seal.
    package enum SealingRole: Sendable {
        /// durin-fcgi: its secret is the one that counts; it records it.
        case service
        /// durinctl: seals only under the secret the service recorded (or, before any
        /// service has, records its own).
        case tool
    }

    /// The sealing secret is `configuration.secretKey` (DURIN_SECRET_KEY), else the one kept in Redis.
    package init(
        connection: any RedisCommandConnection, configuration: Configuration, sealing: SealingRole = .tool,
        clock: any WallTime = .system
    ) {
        self.connection = connection
        self.clock = clock
        self.sealing = sealing
        keys = KeySpace(configuration: configuration)
        context = ScriptContext(keys: keys, eventsMaxLength: configuration.eventsMaxLength)
        consoleClient = configuration.consoleClientName
        graceMillis = configuration.expiredGraceSeconds * 1000
        defaultTTL = configuration.defaultTokenTTL
        tokenLength = configuration.tokenCharacterLength
        minReplicas = configuration.redisMinReplicas
        waitMillis = max(10, configuration.redisTimeoutMillis / 2)
        lastUsedResolution = configuration.lastUsedResolutionMillis
        if let secret = configuration.secretKey { seal = TokenSeal(secret: secret) }
    }

    func run<Call: ScriptCall>(_ call: Call, now: EpochMillis? = nil) throws(StoreError) -> Call.Outcome {
        try connection.run(call, context: context, now: now ?? clock.nowMillis(), trace: trace)
    }

    /// Runs a write that must survive a failover: with DURIN_REDIS_MIN_REPLICAS, it
    /// counts only once that many replicas have it (WAIT, bounded), else 503.
    func runDurably<Call: ScriptCall>(_ call: Call, now: EpochMillis? = nil) throws(StoreError) -> Call.Outcome {
        let now = now ?? clock.nowMillis()
        let outcome = try run(call, now: now)
        guard minReplicas > 0 else { return outcome }
        let acknowledged = try connection.call(["WAIT", String(minReplicas), String(waitMillis)]).int ?? 0
        if acknowledged < minReplicas {
            throw .unavailable("\(acknowledged) of \(minReplicas) replicas acknowledged the write within \(waitMillis) ms")
        }
        return outcome
    }

    /// Looks a token up by its digest and applies a location's rules: one round trip.
    /// `address` and `agent` (the request's) name where a replaced token was reused.
    ///
    /// The common case is one plain read of the token hash (deactivation marks a
    /// user's tokens, so the user hash need not be read). A throttled location needs
    /// the script (its count is a write), and so does a missing token (the script
    /// reports an expiry once and records it).
    package func authenticate(
        digest: String, rules: AccessRules = .none,
        now: EpochMillis? = nil, from address: String? = nil, agent: String? = nil
    ) throws(StoreError) -> Authentication {
        let now = now ?? clock.nowMillis()
        if !rules.throttle, let found = try read(digest: digest, now: now) {
            switch found {
            case .inactive: return .userInactive
            case .active(let record):
                guard admits(client: record.client, rules) else { return .invalid }
                guard rules.permits(client: record.client) else { return .denied(user: record.user, client: record.client) }
                return .valid(noteUse(record, now: now))
            }
        }
        let rates = rules.throttle ? try clientSettings(\.rate) : "-"
        // Bounded as stored values are, only here: the common check never needs them.
        let from = SessionDetails(address: address, userAgent: agent)
        // The script writes a stale last use itself.
        let outcome = try runLocated { home throws(StoreError) in
            try run(
                VerifyScript(
                    digest: digest, rules: rules, rates: rates, resolution: lastUsedResolution, requester: from, home: home),
                now: now)
        }.outcome
        switch outcome {
        case .valid(let record) where !admits(client: record.client, rules): return .invalid
        case .denied(_, let client) where !admits(client: client, rules): return .invalid
        case .throttled(_, _, let client) where !admits(client: client, rules): return .invalid
        default: return outcome
        }
    }

    /// Whether a token of `client` is a token at all for a check with `rules`: a
    /// console session only in the console's check, and the console's check takes
    /// nothing else. Anything else is answered as an unknown token.
    package func admits(client: String, _ rules: AccessRules) -> Bool {
        (client == consoleClient) == rules.console
    }

    /// After a check that did not go through the script (a plain read, a cache hit):
    /// writes the token's last use when it is stale (LastUse), at most once per write
    /// interval, so the common check costs no write. A failed write is not an error
    /// of the check: the next check tries again. Returns the record as written.
    /// A user's staff flag and the named profile fields (a user removed meanwhile
    /// has neither): for what a check passes to an upstream or requires of it.
    package func userDetails(of user: String, fields: [String]) throws(StoreError) -> UserDetails {
        let values = try connection.call(["HMGET", keys.user(user), "is_staff"] + fields).array ?? []
        var found: [String: String] = [:]
        for (name, value) in zip(fields, values.dropFirst()) { if let text = value.string { found[name] = text } }
        return UserDetails(isStaff: values.first?.string == "1", fields: found)
    }

    package func noteUse(_ record: TokenRecord, now: EpochMillis? = nil) -> TokenRecord {
        let now = now ?? clock.nowMillis()
        guard LastUse.isStale(lastUsed: record.lastUsed, idleSeconds: record.idleSeconds, resolution: lastUsedResolution, now: now),
            (try? run(TouchScript(digest: record.digest), now: now)) != nil
        else { return record }
        var used = record
        used.lastUsed = now
        return used
    }

    /// Whether a token read as valid (from a plain read or the cache) has passed its
    /// idle timeout: the full check then removes it and answers that it expired.
    package func isIdle(_ record: TokenRecord, now: EpochMillis? = nil) -> Bool {
        let now = now ?? clock.nowMillis()
        return LastUse.isIdle(
            lastUsed: record.lastUsed, created: record.created, idleSeconds: record.idleSeconds, resolution: lastUsedResolution, now: now)
    }

    /// Runs a script that starts from a token's digest; when it answers that the
    /// token was moved into this cluster from one server, runs it again under the
    /// token's home (the user's tag). Returns the outcome and that home, if any.
    func runLocated<Outcome>(_ body: (String?) throws(StoreError) -> Located<Outcome>)
        throws(StoreError) -> (outcome: Outcome, home: String?)
    {
        switch try body(nil) {
        case .here(let outcome): return (outcome, nil)
        case .moved(let home):
            guard case .here(let outcome) = try body(home) else { throw .unexpected("a token's home points elsewhere again") }
            return (outcome, home)
        }
    }

    /// Keeps a moved-in token's home pointer alive as long as the token (refresh and
    /// login renew only the token's hash, in its user's slot).
    private func rearmHome(_ stored: StoredToken) throws(StoreError) {
        let pointer = keys.tokenHome(stored.record.digest)
        if let expiry = stored.record.expiry {
            _ = try connection.call(["PEXPIREAT", pointer, String(expiry + graceMillis)])
        } else {
            _ = try connection.call(["PERSIST", pointer])
        }
    }

    /// Counts a login attempt from an address group (`ClientAddress.group`); the
    /// wait in seconds when it is over `rate`.
    package func loginAddressCheck(addressGroup: String, rate: ThrottleRate) throws(StoreError) -> Int? {
        try run(RateWindowScript(key: keys.loginAddress(addressGroup), rate: rate))
    }

    /// Counts an issuer's call to introspect/ or revoke/; the wait in seconds when
    /// the issuer is over `rate`.
    package func issuerCallCheck(issuer: String, rate: ThrottleRate) throws(StoreError) -> Int? {
        try run(RateWindowScript(key: keys.issuerCalls(issuer), rate: rate))
    }

    /// Counts a login attempt against the username from this address group (a
    /// success clears that count) and against the username from anywhere, and
    /// returns the user record, unless either is over its rate.
    package func loginPrecheck(
        username: String, addressGroup: String, pairRate: ThrottleRate?,
        userRate: ThrottleRate?
    ) throws(StoreError) -> LoginPrecheck {
        try run(
            LoginPrecheckScript(
                username: username, pairKey: keys.loginFailures(user: username, addressGroup: addressGroup),
                backstopKey: keys.loginFailures(user: username), pairRate: pairRate, userRate: userRate,
                passwordKey: keys.password(username)))
    }

    /// Emits `login_failed` (loginPrecheck counted the attempt).
    package func loginFailed(username: String) throws(StoreError) {
        try run(LoginFailedScript(username: username))
    }

    /// Replaces a user's password hash with one at the configured cost after a
    /// successful login (Django's `must_update`), unless it changed meanwhile.
    package func upgradePasswordHash(user: String, from old: String, to new: String) throws(StoreError) {
        _ = try run(UpgradePasswordHashScript(user: user, checked: old, replacement: new, passwordKey: keys.password(user)))
    }

    /// Returns, renews or creates the one token of (user, client), atomically: any
    /// number of concurrent logins of one pair end with exactly one token.
    /// - Parameter event: the event to record besides the token's own (`login`, `token_issued`), or none.
    /// - Parameter issuer: the issuer of a trusted issuance, named in the events.
    /// - Parameter addressGroup: for a password login, where it came from: its
    ///   failure window is cleared.
    /// - Parameter details: where the login came from, kept with the token.
    ///
    /// The console's client is no client here (`.noClient`): its sessions come only
    /// from `consoleSignIn`.
    package func login(
        user: String, client: String, mode: LoginMode, event: String? = nil, issuer: String? = nil,
        clearingFailuresFrom addressGroup: String? = nil, details: SessionDetails = SessionDetails(),
        now: EpochMillis? = nil
    ) throws(StoreError) -> Result<IssuedToken, LoginFailure> {
        let now = now ?? clock.nowMillis()
        guard client != consoleClient else { return .failure(.noClient) }
        return try issue(
            user: user, client: client, mode: mode, event: event, issuer: issuer,
            clearingFailuresFrom: addressGroup, details: details, now: now)
    }

    /// A console session for a staff user whose password was just checked: always a
    /// new token, and the user's previous console session revoked with it, so a
    /// session taken before this sign-in ends with it.
    package func consoleSignIn(
        user: String, clearingFailuresFrom addressGroup: String? = nil,
        details: SessionDetails = SessionDetails(),
        now: EpochMillis? = nil
    ) throws(StoreError) -> Result<IssuedToken, LoginFailure> {
        let now = now ?? clock.nowMillis()
        return try issue(
            user: user, client: consoleClient, mode: .rotate, event: "login",
            clearingFailuresFrom: addressGroup, details: details, now: now)
    }

    private func issue(
        user: String, client: String, mode: LoginMode, event: String?, issuer: String? = nil,
        clearingFailuresFrom addressGroup: String?, details: SessionDetails,
        now: EpochMillis
    ) throws(StoreError) -> Result<IssuedToken, LoginFailure> {
        let seal = try sealingKey()
        // On a cluster: the user's tag, which the new token's digest must start with.
        let tag = keys.cluster ? KeySpace.userTag(user) : nil
        var ttls = "-"
        var idles = "-"
        if keys.cluster {
            // Read now, not from the copy: a client just added logs in at once, and
            // one just removed never does.
            guard let record = try connection.clientRecord(named: client, keys: keys) else { return .failure(.noClient) }
            ttls = " \(client)=\(record.tokenTTL.storedValue) "
            idles = " \(client)=\(record.idleTimeout.map(String.init) ?? "") "
        }
        let candidate = tag.map { Token.generate(length: tokenLength, digestPrefix: $0) } ?? Token.generate(length: tokenLength)
        let call = LoginScript(
            user: user, client: client, candidateDigest: candidate.digest,
            sealed: seal.seal(candidate, digest: candidate.digest), graceMillis: graceMillis, mode: mode,
            event: event, issuer: issuer, ttls: ttls, idles: idles, tagNumber: tag.map(KeySpace.tagNumber),
            failuresKey: addressGroup.map { keys.loginFailures(user: user, addressGroup: $0) },
            details: details, resolution: lastUsedResolution)
        let kind: IssuedToken.Outcome
        let stored: StoredToken
        let replacedID: Int64?
        switch try runDurably(call, now: now) {
        case .noClient: return .failure(.noClient)
        case .inactive: return .failure(.userInactive)
        case .exists: return .failure(.alreadyExists)
        case .issued(let k, let s, let r): (kind, stored, replacedID) = (k, s, r)
        }
        let record = stored.record
        // A token moved in from one server does not start with its user's tag.
        if kind == .renewed, let tag, !record.digest.hasPrefix(tag) { try rearmHome(stored) }
        let token: Token
        if kind == .created {
            token = candidate
        } else if let sealed = stored.sealed, let opened = seal.unseal(sealed, digest: record.digest) {
            token = opened
        } else {
            // Sealed under another secret (DURIN_SECRET_KEY changed): the token cannot
            // be handed back, so replace it.
            return try issue(
                user: user, client: client, mode: .rotate, event: event, issuer: issuer,
                clearingFailuresFrom: addressGroup, details: details, now: now)
        }
        return .success(IssuedToken(token: token, record: record, outcome: kind, replacedID: replacedID))
    }

    /// What a refresh gave: the session's token record, and the token itself when
    /// the client rotates (a new one; or, for a refresh retried within the reuse
    /// grace, the one that replaced it).
    package struct Refreshed: Sendable {
        package let record: TokenRecord
        package let token: Token?
    }

    /// Gives a token a fresh expiry from its client's TTL, or, for a client that
    /// rotates on refresh, replaces it (RefreshScript). nil when the token is gone.
    package func refresh(digest: String, now: EpochMillis? = nil) throws(StoreError) -> Refreshed? {
        let now = now ?? clock.nowMillis()
        var ttls = "-"
        var idles = "-"
        var rotations = "-"
        var home: String?
        var tag: String?
        if keys.cluster {
            // The token's user and client, then its client's settings as they are now
            // (reads in two slots; a third for a token moved in from one server).
            var owner = try connection.call(["HMGET", keys.token(digest), "u", "c"]).array?.map(\.string) ?? []
            if owner.first ?? nil == nil, let moved = try connection.call(["GET", keys.tokenHome(digest)]).string {
                home = moved
                owner = try connection.call(["HMGET", keys.token(digest, home: moved), "u", "c"]).array?.map(\.string) ?? []
            }
            guard owner.count == 2, let user = owner[0], let client = owner[1] else { return nil }
            tag = KeySpace.userTag(user)
            let record = try connection.clientRecord(named: client, keys: keys)
            ttls = record.map { " \(client)=\($0.tokenTTL.storedValue) " } ?? " "
            idles = " \(client)=\(record?.idleTimeout.map(String.init) ?? "") "
            rotations = record.flatMap { $0.rotateOnRefresh ? " \(client)=\($0.reuseGrace) " : nil } ?? " "
        }
        // Made whether or not the client rotates (on one server the script reads
        // that): a token costs microseconds, a second round trip more.
        let seal = try sealingKey()
        let candidate = tag.map { Token.generate(length: tokenLength, digestPrefix: $0) } ?? Token.generate(length: tokenLength)
        let call = RefreshScript(
            digest: digest, graceMillis: graceMillis, defaultTTL: defaultTTL, ttls: ttls, idles: idles,
            resolution: lastUsedResolution, rotations: rotations, candidate: candidate.digest,
            sealed: seal.seal(candidate, digest: candidate.digest), home: home)
        let (outcome, foundHome) = try runLocated { home throws(StoreError) in
            var located = call
            if let home { located.home = home }
            return try runDurably(located, now: now)
        }
        switch outcome {
        case .renewed(let stored):
            if foundHome != nil || home != nil { try rearmHome(stored) }
            return Refreshed(record: stored.record, token: nil)
        case .rotated(let stored):
            return Refreshed(record: stored.record, token: candidate)
        case .current(let stored):
            guard let sealed = stored.sealed, let token = seal.unseal(sealed, digest: stored.record.digest) else { return nil }
            return Refreshed(record: stored.record, token: token)
        case .notFound: return nil
        }
    }

    /// Revokes one token (logout; revoke/ by an issuer, limited to its `clients`,
    /// never a console session). Returns what was revoked, nil if it was already gone
    /// (or not the caller's to revoke).
    @discardableResult
    package func revoke(digest: String, reason: String, issuer: String = "", clients: [String] = []) throws(StoreError) -> RevokedToken? {
        let except = issuer.isEmpty ? "" : consoleClient
        let (outcome, home) = try runLocated { home throws(StoreError) in
            try runDurably(RevokeTokenScript(digest: digest, reason: reason, issuer: issuer, clients: clients, except: except, home: home))
        }
        if home != nil { _ = try connection.call(["DEL", keys.tokenHome(digest)]) }
        switch outcome {
        case .revoked(let token): return token
        case .alreadyGone: return nil
        }
    }

    /// Revokes a user's tokens: all of them (logoutall), the one of `client`, or
    /// those of an issuer's `clients` (revoke/'s back-channel form, which never
    /// reaches a console session). Returns (client, session id) of each revoked token.
    @discardableResult
    package func revokeAll(
        user: String, client: String? = nil, reason: String, issuer: String = "",
        clients: [String] = []
    ) throws(StoreError) -> [(client: String, id: Int64)] {
        try runDurably(
            RevokeUserTokensScript(
                user: user, client: client, reason: reason, issuer: issuer, clients: clients,
                except: issuer.isEmpty ? "" : consoleClient))
    }

    /// durin's session delete: another of the user's tokens, by session id.
    /// - Parameter hiddenClient: a client whose token `sessions/` does not list
    ///   (DURIN_API_ACCESS_EXCLUDE_FROM_SESSIONS): its session is not found here either.
    package func deleteSession(user: String, id: Int64, currentDigest: String, hiddenClient: String? = nil)
        throws(StoreError) -> SessionDeletion
    {
        try runDurably(RevokeSessionScript(user: user, id: id, currentDigest: currentDigest, hiddenClient: hiddenClient))
    }

    /// A user's live tokens, ordered by session id.
    package func sessions(user: String) throws(StoreError) -> [(record: TokenRecord, sealed: String?)] {
        try connection.liveTokens(of: user, keys: keys, now: clock.nowMillis())
    }

    /// Seals a token under its digest, as login stores it.
    package func seal(_ token: Token) throws(StoreError) -> String {
        try sealingKey().seal(token, digest: token.digest)
    }

    /// Opens a token sealed by layout 1 (LayoutMigration).
    package func unsealLayout1(_ sealed: String, sha256Hex: String) throws(StoreError) -> Token? {
        try sealingKey().unsealLayout1(sealed, sha256Hex: sha256Hex)
    }

    /// Opens a sealed token, in either form (DURIN_API_ACCESS_RESPONSE_INCLUDE_TOKEN; LayoutMigration).
    package func unseal(_ sealed: String, digest: String) throws(StoreError) -> Token? {
        try sealingKey().unseal(sealed, digest: digest)
    }

    /// The clients' `setting` list for the scripts: `-` on one server (the scripts
    /// read the records), else ` name=value ...` from this store's copy (the hot
    /// path, a throttled check, does not pay a read in another slot for it).
    func clientSettings(_ field: KeyPath<ClientRecord, String?>) throws(StoreError) -> String {
        guard keys.cluster else { return "-" }
        let pairs = try clientCopy().values.compactMap { record in record[keyPath: field].map { "\(record.name)=\($0)" } }
        return " " + pairs.sorted().joined(separator: " ") + " "
    }

    private func clientCopy(now: EpochMillis? = nil) throws(StoreError) -> [String: ClientRecord] {
        let now = now ?? clock.nowMillis()
        if let copy = clientCopy, now - copy.readAt < Self.clientCopyMillis { return copy.records }
        let records = try connection.clientRecords(keys: keys)
        let copy = Dictionary(records.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        clientCopy = (copy, now)
        return copy
    }

    /// Whether Redis answers and every script is loaded (loading any that are not).
    package func ready() throws(StoreError) -> Bool {
        let all = Script.all
        let loaded = try connection.call(["SCRIPT", "EXISTS"] + all.map(\.sha)).array ?? []
        for (script, present) in zip(all, loaded) where present.int != 1 {
            _ = try connection.call(["SCRIPT", "LOAD", script.source])
        }
        return true
    }

    /// The sealing secret, agreed with Redis on first use (`SealingRole`).
    func sealingKey() throws(StoreError) -> TokenSeal {
        if let seal, sealAgreed { return seal }
        let candidate = try currentSeal()
        switch sealing {
        case .service:
            _ = try recordSealingSecret(candidate)
        case .tool:
            _ = try connection.call(["SET", keys.sealingFingerprint, candidate.fingerprint, "NX"])
            guard try connection.call(["GET", keys.sealingFingerprint]).string == candidate.fingerprint else {
                throw .otherSealingSecret
            }
        }
        seal = candidate
        sealAgreed = true
        return candidate
    }

    /// Agrees on the sealing secret before a tool writes anything sealed: throws
    /// `.otherSealingSecret` when the service recorded another (`SealingRole`).
    /// With `writing` false (a dry run) nothing is recorded, and a secret kept in
    /// Redis is not made: only a recorded fingerprint that differs is refused.
    package func agreeOnSealingSecret(writing: Bool = true) throws(StoreError) {
        if writing {
            _ = try sealingKey()
            return
        }
        guard let recorded = try connection.call(["GET", keys.sealingFingerprint]).string else { return }
        let mine: TokenSeal
        if let seal {
            mine = seal
        } else {
            guard let stored = try connection.call(["GET", keys.secret]).string, let bytes = Hex.decode(stored) else { return }
            mine = TokenSeal(secret: bytes)
        }
        if recorded != mine.fingerprint { throw .otherSealingSecret }
    }

    /// An HMAC of `text` under the sealing secret (TokenSeal.mac).
    package func mac(purpose: String, _ text: String) throws(StoreError) -> String {
        try sealingKey().mac(purpose: purpose, text)
    }

    /// Records the service's sealing secret for durinctl (`SealingRole.service`).
    /// Returns true when another secret was recorded before: tokens sealed under it
    /// cannot be handed back, and get replaced at their next login.
    @discardableResult
    package func recordSealingSecret() throws(StoreError) -> Bool {
        let candidate = try currentSeal()
        let replaced = try recordSealingSecret(candidate)
        seal = candidate
        sealAgreed = true
        return replaced
    }

    private func recordSealingSecret(_ seal: TokenSeal) throws(StoreError) -> Bool {
        let previous = try connection.call(["SET", keys.sealingFingerprint, seal.fingerprint, "GET"]).string
        return previous != nil && previous != seal.fingerprint
    }

    private func currentSeal() throws(StoreError) -> TokenSeal {
        if let seal { return seal }
        return try secretKeptInRedis()
    }

    /// DURIN_SECRET_KEY unset: one generated once and kept in Redis.
    private func secretKeptInRedis() throws(StoreError) -> TokenSeal {
        var rng = SystemRandomNumberGenerator()
        let fresh = Hex.encode((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &rng) })
        _ = try connection.call(["SET", keys.secret, fresh, "NX"])
        guard let stored = try connection.call(["GET", keys.secret]).string, let bytes = Hex.decode(stored), !bytes.isEmpty else {
            throw .unexpected("\(keys.secret) is not a hex secret")
        }
        return TokenSeal(secret: bytes)
    }
}

// MARK: - Client-side caching (Redis client tracking)

extension TokenStore {
    /// Turns on RESP2 client tracking for this connection, with invalidations sent to
    /// the subscriber connection `redirect`. Keys this connection reads from now on
    /// are reported there when anything changes them.
    package func enableTracking(redirect clientID: Int64) throws(StoreError) {
        _ = try connection.call(["CLIENT", "TRACKING", "on", "REDIRECT", String(clientID)])
    }

    /// The address of the server this connection reached (`CLIENT INFO` `laddr`).
    package func serverAddress() throws(StoreError) -> String? {
        try connection.call(["CLIENT", "INFO"]).serverAddress
    }

    /// A live, active token by a plain read (which client tracking follows, unlike
    /// keys touched inside scripts). nil when it is not valid as it stands: the
    /// caller then takes the full path for durin's exact answer.
    package func trackedLookup(digest: String) throws(StoreError) -> TokenRecord? {
        if case .active(let record)? = try read(digest: digest) { return record }
        return nil
    }

    enum Found {
        case active(TokenRecord)
        case inactive
    }

    /// One HMGET of the token hash; nil when there is no such token, or when it has
    /// expired (the script then reports it once).
    func read(digest: String, now: EpochMillis? = nil) throws(StoreError) -> Found? {
        let now = now ?? clock.nowMillis()
        let values = try connection.call(["HMGET", keys.token(digest)] + StoredToken.checkFields).array ?? []
        guard let stored = StoredToken(digest: digest, values: values[...]), stored.isLive(at: now), !stored.replaced,
            !isIdle(stored.record, now: now)
        else { return nil }
        return stored.inactive ? .inactive : .active(stored.record)
    }
}

extension ClientRecord {
    /// The value the throttled check reads through `setting`.
    var rate: String? { throttleRate?.description }
}

extension RedisCommandConnection {
    /// One client's record, nil when there is no such client.
    func clientRecord(named name: String, keys: KeySpace) throws(StoreError) -> ClientRecord? {
        ClientRecord(fields: try call(["HGETALL", keys.client(name)]).fieldMap)
    }

    /// Every client record: the set of names, then the records in one round trip
    /// (they share a slot on a cluster).
    func clientRecords(keys: KeySpace) throws(StoreError) -> [ClientRecord] {
        let names = (try call(["SMEMBERS", keys.clients]).array ?? []).compactMap(\.string).sorted()
        guard !names.isEmpty else { return [] }
        let replies: [RedisReply]
        do { replies = try pipeline(names.map { ["HGETALL", keys.client($0)] }) } catch { throw StoreError(error) }
        return replies.compactMap { ClientRecord(fields: $0.fieldMap) }
    }

    /// A user's live tokens (with their sealed value), ordered by session id: the
    /// index (the user hash's `t:<client>` fields), then every token hash in one
    /// pipelined round trip. Index entries whose token has expired are skipped.
    func liveTokens(of user: String, keys: KeySpace, now: EpochMillis) throws(StoreError) -> [(record: TokenRecord, sealed: String?)] {
        let digests = try call(["HGETALL", keys.user(user)]).fieldMap
            .filter { $0.key.hasPrefix(KeySpace.tokenIndexPrefix) }.map(\.value)
        guard !digests.isEmpty else { return [] }

        let replies: [RedisReply]
        do {
            replies = try pipeline(digests.map { ["HMGET", keys.token($0, of: user)] + StoredToken.fields })
        } catch { throw StoreError(error) }
        var found: [(record: TokenRecord, sealed: String?)] = []
        for (digest, reply) in zip(digests, replies) {
            guard let stored = StoredToken(digest: digest, values: (reply.array ?? [])[...]), stored.isLive(at: now) else { continue }
            found.append((stored.record, stored.sealed))
        }
        return found.sorted { $0.record.id < $1.record.id }
    }
}

extension RedisReply {
    /// The server's own address in a `CLIENT INFO` reply (`laddr=`): which server a
    /// connection reached, whatever name or sentinel led to it.
    package var serverAddress: String? {
        guard let text = string else { return nil }
        for field in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) where field.hasPrefix("laddr=") {
            return String(field.dropFirst("laddr=".count))
        }
        return nil
    }
}
