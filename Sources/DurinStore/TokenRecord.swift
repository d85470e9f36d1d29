package import DurinCore

/// A live token as stored: everything but the token itself.
package struct TokenRecord: Sendable, Equatable {
    package var digest: String
    package var user: String
    package var client: String
    package var created: EpochMillis
    /// nil for a token that never expires (a client TTL of `never`).
    package var expiry: EpochMillis?
    /// durin's integer session id.
    package var id: Int64
    /// When it was last used, to within DURIN_LAST_USED_RESOLUTION (LastUse); nil
    /// for a token from before this was kept, until its next use.
    package var lastUsed: EpochMillis?
    /// Its client's idle timeout when it was issued, refreshed or the timeout was
    /// last changed; nil: none.
    package var idleSeconds: Int64?
    /// Where it was last logged into from; empty when not read (a token check
    /// does not read them).
    package var details: SessionDetails

    package init(
        digest: String, user: String, client: String, created: EpochMillis, expiry: EpochMillis?, id: Int64,
        lastUsed: EpochMillis? = nil, idleSeconds: Int64? = nil, details: SessionDetails = SessionDetails()
    ) {
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
