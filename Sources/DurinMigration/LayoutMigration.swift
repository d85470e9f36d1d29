import Codecs
package import DurinCore
package import DurinStore
package import RedisClient

/// Moves data to the current layout (docs/redis-layout.md, "Layouts"). Layout 1 to
/// 2: token keys named by 128 bits of the digest, one-letter fields, the index
/// inside the user hash, no tombstones. Layout 2 to 3: each user's password hash
/// in a key of its own (`KeySpace.password`), out of the inspection user's reach.
///
/// durin-fcgi runs it at start and `durinctl migrate` on demand. It is safe to run
/// twice, at once from several hosts, or after an interruption: each token or user
/// moves in one script that does nothing when it has already moved, and every
/// reader takes a password hash from either place meanwhile. When it is done it
/// writes `<prefix>layout` = 3, and later runs only read that key.
package struct LayoutMigration {
    package struct Report: Equatable, Sendable, CustomStringConvertible {
        package var tokens = 0
        package var expiredTokens = 0
        /// Tokens whose sealed copy could not be opened (the sealing secret changed):
        /// they still verify, and their next login replaces them.
        package var unsealable = 0
        /// Layout-1 per-user index keys removed once empty.
        package var indexes = 0
        /// Password hashes moved out of user hashes (layout 2 to 3).
        package var passwords = 0
        /// Sealed copies rewritten with the AEAD (layout 2 to 3; `TokenSeal`).
        package var resealed = 0
        package var alreadyDone = false

        package var description: String {
            alreadyDone
                ? "layout \(LayoutMigration.current) already"
                : "moved \(tokens) tokens and \(expiredTokens) expired tokens to layout 2"
                    + (unsealable > 0 ? " (\(unsealable) sealed under another secret: replaced at their next login)" : "")
                    + ", and \(passwords) password hashes to keys of their own and \(resealed) sealed tokens to the AEAD (layout 3)"
        }
    }

    /// The layout this release writes.
    package static let current = "3"

    private let connection: any RedisCommandConnection
    private let keys: KeySpace
    private let context: ScriptContext
    private let graceMillis: Int64
    private let store: TokenStore
    private let admin: AdminStore

    /// - Parameter sealing: who re-seals the tokens (`TokenStore.SealingRole`).
    package init(connection: any RedisCommandConnection, configuration: Configuration, sealing: TokenStore.SealingRole = .tool) {
        self.connection = connection
        keys = KeySpace(configuration: configuration)
        context = ScriptContext(keys: keys, eventsMaxLength: configuration.eventsMaxLength)
        graceMillis = configuration.expiredGraceSeconds * 1000
        store = TokenStore(connection: connection, configuration: configuration, sealing: sealing)
        admin = AdminStore(connection: connection, configuration: configuration)
    }

    /// Whether the data is already in the current layout (one GET).
    package func isCurrent() throws(StoreError) -> Bool {
        try connection.call(["GET", keys.layout]).string == Self.current
    }

    /// Moves everything still in an older layout. Without `dryRun` it ends by
    /// recording the current one.
    package func run(dryRun: Bool = false) throws(StoreError) -> Report {
        var report = Report()
        let layout = try connection.call(["GET", keys.layout]).string
        if layout == Self.current {
            report.alreadyDone = true
            return report
        }
        // A cluster never held layout 1 (it starts in the cluster form of layout 2).
        if !keys.cluster && layout != "2" { try fromLayout1(dryRun: dryRun, &report) }
        try admin.forEachBatchOfUsernames(count: 500) { (names: [String]) throws(StoreError) -> Bool in
            for name in names {
                if dryRun {
                    if try connection.call(["HGET", keys.user(name), "password"]).string != nil { report.passwords += 1 }
                } else if try connection.run(MovePasswordScript(name: name, passwordKey: keys.password(name)), context: context) {
                    report.passwords += 1
                }
            }
            return true
        }
        try reseal(dryRun: dryRun, &report)
        if !dryRun { _ = try connection.call(["SET", keys.layout, Self.current]) }
        return report
    }

    /// Every sealed copy in the form before layout 3, opened and sealed again with the
    /// AEAD (`TokenSeal`), on every master. One sealed under another secret cannot be
    /// opened: it stays, and its pair gets a new token at the next login, as before.
    private func reseal(dryRun: Bool, _ report: inout Report) throws(StoreError) {
        let masters: [any RedisCommandConnection]
        do { masters = try connection.masters() } catch { throw StoreError(error) }
        for master in masters {
            try master.scan(matching: keys.tokenPattern, type: "hash") { (key) throws(StoreError) in
                guard let digest = keys.digest(ofTokenKey: key), let sealed = try master.call(["HGET", key, "s"]).string,
                    TokenSeal.isLegacy(sealed)
                else { return }
                guard let token = try store.unseal(sealed, digest: digest) else {
                    report.unsealable += 1
                    return
                }
                if dryRun {
                    report.resealed += 1
                    return
                }
                if try connection.run(ResealTokenScript(key: key, old: sealed, new: try store.seal(token)), context: context) {
                    report.resealed += 1
                }
            }
        }
    }

    private func fromLayout1(dryRun: Bool, _ report: inout Report) throws(StoreError) {
        let old = keys.layout1
        try connection.scan(matching: old.tokenPattern) { (key) throws(StoreError) in
            let sha = String(key.dropFirst(old.token("").count))
            guard sha.count == 64 else { return }
            if dryRun {
                report.tokens += 1
                return
            }
            let sealed = try resealed(sha256Hex: sha)
            if sealed.isEmpty { report.unsealable += 1 }
            if try connection.run(
                MigrateTokenScript(
                    sha256Hex: sha, digest: Self.digest(sha), sealed: sealed,
                    graceMillis: graceMillis), context: context)
            {
                report.tokens += 1
            }
        }
        try connection.scan(matching: old.expired("*")) { (key) throws(StoreError) in
            let sha = String(key.dropFirst(old.expired("").count))
            guard sha.count == 64 else { return }
            if dryRun {
                report.expiredTokens += 1
                return
            }
            if try connection.run(
                MigrateTombstoneScript(sha256Hex: sha, digest: Self.digest(sha), graceMillis: graceMillis),
                context: context)
            {
                report.expiredTokens += 1
            }
        }
        try connection.scan(matching: old.userTokens("*")) { (key) throws(StoreError) in
            if dryRun { return }
            // Entries left here point at tokens already gone (layout 1 cleaned them lazily).
            if try connection.call(["DEL", key]).int == 1 { report.indexes += 1 }
        }
    }

    /// Layout 2's digest is made from the same SHA-256 that named the layout-1 key.
    static func digest(_ sha256Hex: String) -> String { Token.digest(sha256: Hex.decode(sha256Hex) ?? []) }

    private func resealed(sha256Hex sha: String) throws(StoreError) -> String {
        guard let sealed = try connection.call(["HGET", keys.layout1.token(sha), "sealed"]).string,
            let token = try store.unsealLayout1(sealed, sha256Hex: sha)
        else { return "" }
        return try store.seal(token)
    }
}
