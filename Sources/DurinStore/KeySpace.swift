/// The Redis key names (docs/redis-layout.md lists each with its fields, expiry and
/// the scripts that touch it), under one prefix (`DURIN_KEY_PREFIX`).
public struct KeySpace: Sendable {
    public let prefix: String

    public init(prefix: String) { self.prefix = prefix }

    public func client(_ name: String) -> String { prefix + "client:" + name }
    public var clients: String { prefix + "clients" }
    public func user(_ name: String) -> String { prefix + "user:" + name }
    public var users: String { prefix + "users" }
    public func token(_ digest: String) -> String { prefix + "token:" + digest }
    /// One token per (user, client): client name -> token digest.
    public func userTokens(_ user: String) -> String { prefix + "user:" + user + ":tokens" }
    /// Present from a token's creation until its expiry plus the grace period, so an
    /// expired token can answer "The given token has expired." once.
    public func expired(_ digest: String) -> String { prefix + "expired:" + digest }
    public var tokenSequence: String { prefix + "seq:token" }
    public var events: String { prefix + "events" }
    /// A trusted-issuance key's record, by the key's SHA-256 digest.
    public func issuer(_ digest: String) -> String { prefix + "issuer:" + digest }
    /// Issuer name -> key digest.
    public var issuers: String { prefix + "issuers" }
    /// The token-sealing secret, kept here only when DURIN_SECRET_KEY is not set.
    public var secret: String { prefix + "secret" }
}
