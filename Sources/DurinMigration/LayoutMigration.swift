import Codecs
import DurinCore
import DurinStore
import RedisClient

/// Moves data from layout 1 to layout 2 (docs/redis-layout.md, "Layouts"): token
/// keys named by 128 bits of the digest, one-letter fields, the index inside the
/// user hash, no tombstones.
///
/// durin-fcgi runs it at start and `durinctl migrate` on demand. It is safe to run
/// twice, at once from several hosts, or after an interruption: each token moves
/// in one script that does nothing when the token has already moved. When it is
/// done it writes `<prefix>layout` = 2, and later runs only read that key.
public struct LayoutMigration {
    public struct Report: Equatable, Sendable, CustomStringConvertible {
        public var tokens = 0
        public var expiredTokens = 0
        /// Tokens whose sealed copy could not be opened (the sealing secret changed):
        /// they still verify, and their next login replaces them.
        public var unsealable = 0
        /// Layout-1 per-user index keys removed once empty.
        public var indexes = 0
        public var alreadyDone = false

        public var description: String {
            alreadyDone ? "layout 2 already"
                : "moved \(tokens) tokens and \(expiredTokens) expired tokens to layout 2"
                + (unsealable > 0 ? " (\(unsealable) sealed under another secret: replaced at their next login)" : "")
        }
    }

    private let connection: any RedisCommandConnection
    private let keys: KeySpace
    private let context: ScriptContext
    private let graceMillis: Int64
    private let store: TokenStore

    /// - Parameter sealing: who re-seals the tokens (`TokenStore.SealingRole`).
    public init(connection: any RedisCommandConnection, configuration: Configuration, sealing: TokenStore.SealingRole = .tool) {
        self.connection = connection
        keys = KeySpace(configuration: configuration)
        context = ScriptContext(keys: keys, eventsMaxLength: configuration.eventsMaxLength)
        graceMillis = configuration.expiredGraceSeconds * 1000
        store = TokenStore(connection: connection, configuration: configuration, sealing: sealing)
    }

    /// Whether the data is already in layout 2 (one GET).
    /// A cluster never held layout 1 (it starts in the cluster form of layout 2).
    public func isCurrent() throws(StoreError) -> Bool {
        if keys.cluster { return true }
        return try connection.call(["GET", keys.layout]).string == "2"
    }

    /// Moves everything still in layout 1. Without `dryRun` it ends by recording layout 2.
    public func run(dryRun: Bool = false) throws(StoreError) -> Report {
        var report = Report()
        if try isCurrent() {
            report.alreadyDone = true
            return report
        }
        let old = keys.layout1
        try connection.scan(matching: old.tokenPattern) { (key) throws(StoreError) in
            let sha = String(key.dropFirst(old.token("").count))
            guard sha.count == 64 else { return }
            if dryRun { report.tokens += 1; return }
            let sealed = try resealed(sha256Hex: sha)
            if sealed.isEmpty { report.unsealable += 1 }
            if try connection.run(MigrateTokenScript(sha256Hex: sha, digest: Self.digest(sha), sealed: sealed,
                                                     graceMillis: graceMillis), context: context) {
                report.tokens += 1
            }
        }
        try connection.scan(matching: old.expired("*")) { (key) throws(StoreError) in
            let sha = String(key.dropFirst(old.expired("").count))
            guard sha.count == 64 else { return }
            if dryRun { report.expiredTokens += 1; return }
            if try connection.run(MigrateTombstoneScript(sha256Hex: sha, digest: Self.digest(sha), graceMillis: graceMillis),
                                  context: context) {
                report.expiredTokens += 1
            }
        }
        try connection.scan(matching: old.userTokens("*")) { (key) throws(StoreError) in
            if dryRun { return }
            // Entries left here point at tokens already gone (layout 1 cleaned them lazily).
            if try connection.call(["DEL", key]).int == 1 { report.indexes += 1 }
        }
        if !dryRun { _ = try connection.call(["SET", keys.layout, "2"]) }
        return report
    }

    /// Layout 2's digest is made from the same SHA-256 that named the layout-1 key.
    static func digest(_ sha256Hex: String) -> String { Token.digest(sha256: Hex.decode(sha256Hex) ?? []) }

    private func resealed(sha256Hex sha: String) throws(StoreError) -> String {
        guard let sealed = try connection.call(["HGET", keys.layout1.token(sha), "sealed"]).string,
              let token = try store.unsealLayout1(sealed, sha256Hex: sha) else { return "" }
        return try store.seal(token)
    }
}
