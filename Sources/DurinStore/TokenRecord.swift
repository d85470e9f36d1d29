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

    public init(digest: String, user: String, client: String, created: EpochMillis, expiry: EpochMillis?, id: Int64) {
        self.digest = digest
        self.user = user
        self.client = client
        self.created = created
        self.expiry = expiry
        self.id = id
    }
}
