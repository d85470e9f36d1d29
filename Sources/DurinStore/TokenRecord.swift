import DurinCore

/// A live token as stored: everything but the token itself.
public struct TokenRecord: Sendable, Equatable {
    public var digest: String
    public var user: String
    public var client: String
    public var created: EpochMillis
    /// nil for a token that never expires (a client TTL of `never`).
    public var expiry: EpochMillis?
    /// durin's integer session id.
    public var id: Int64
    /// When it was last used, to within DURIN_LAST_USED_RESOLUTION (LastUse); nil
    /// for a token from before this was kept, until its next use.
    public var lastUsed: EpochMillis?
    /// Its client's idle timeout when it was issued, refreshed or the timeout was
    /// last changed; nil: none.
    public var idleSeconds: Int64?
    /// Where it was last logged into from; empty when not read (a token check
    /// does not read them).
    public var details: SessionDetails

    public init(digest: String, user: String, client: String, created: EpochMillis, expiry: EpochMillis?, id: Int64,
                lastUsed: EpochMillis? = nil, idleSeconds: Int64? = nil, details: SessionDetails = SessionDetails()) {
        self.digest = digest
        self.user = user
        self.client = client
        self.created = created
        self.expiry = expiry
        self.id = id
        self.lastUsed = lastUsed
        self.idleSeconds = idleSeconds
        self.details = details
    }
}
