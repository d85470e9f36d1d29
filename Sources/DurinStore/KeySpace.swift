/// The Redis key names (docs/redis-layout.md lists each with its fields, expiry and
/// the scripts that touch it), under one prefix (`DURIN_KEY_PREFIX`).
public struct KeySpace: Sendable {
    public let prefix: String

    public init(prefix: String) { self.prefix = prefix }

    public func client(_ name: String) -> String { prefix + "client:" + name }
    public var clients: String { prefix + "clients" }
    /// A user's record, and the index of their tokens (`tokenIndexField`).
    public func user(_ name: String) -> String { prefix + "user:" + name }
    public var users: String { prefix + "users" }
    /// A token's hash, by `Token.digest`. It lives until its expiry plus the grace
    /// period, so that an expired token can answer "The given token has expired." once.
    public func token(_ digest: String) -> String { prefix + "t:" + digest }
    /// The field of the user hash that holds the digest of the user's token for
    /// `client` (one token per user and client).
    public static func tokenIndexField(_ client: String) -> String { "t:" + client }
    public static let tokenIndexPrefix = "t:"
    public var tokenSequence: String { prefix + "seq:token" }
    public var events: String { prefix + "events" }
    /// A trusted-issuance key's record, by the key's SHA-256 digest.
    public func issuer(_ digest: String) -> String { prefix + "issuer:" + digest }
    /// Issuer name -> key digest.
    public var issuers: String { prefix + "issuers" }
    /// The token-sealing secret, kept here only when DURIN_SECRET_KEY is not set.
    public var secret: String { prefix + "secret" }
    /// The layout the data is in (`2`); absent in layout 1 (see LayoutMigration).
    public var layout: String { prefix + "layout" }

    /// Layout 1's token keys (whole SHA-256 hex, long field names), its per-user
    /// index and its expiry tombstones: read only to migrate them.
    public struct Layout1: Sendable {
        let prefix: String
        public var tokenPattern: String { prefix + "token:*" }
        public func token(_ sha256Hex: String) -> String { prefix + "token:" + sha256Hex }
        public func expired(_ sha256Hex: String) -> String { prefix + "expired:" + sha256Hex }
        public func userTokens(_ user: String) -> String { prefix + "user:" + user + ":tokens" }
    }

    public var layout1: Layout1 { Layout1(prefix: prefix) }
}
