import DurinCore

/// An API client (`web`, `cli`, `mobile`): durin's `Client` model.
public struct ClientRecord: Sendable, Equatable {
    public var name: String
    public var tokenTTL: TokenTTL
    public var throttleRate: ThrottleRate?
    public var created: EpochMillis

    public init(name: String, tokenTTL: TokenTTL, throttleRate: ThrottleRate?, created: EpochMillis) {
        self.name = name
        self.tokenTTL = tokenTTL
        self.throttleRate = throttleRate
        self.created = created
    }

    init?(fields: [String: String]) {
        guard let name = fields["name"], let ttl = fields["token_ttl"].flatMap(TokenTTL.parse) else { return nil }
        self.name = name
        tokenTTL = ttl
        throttleRate = fields["throttle_rate"].flatMap(ThrottleRate.parse)
        created = fields["created"].flatMap { EpochMillis($0) } ?? 0
    }
}

/// A user account: username, Django password hash, active flag and profile fields.
public struct UserRecord: Sendable, Equatable {
    public var username: String
    public var passwordHash: String
    public var isActive: Bool
    /// Profile fields (`email`, `first_name`, ...) for DURIN_USER_FIELDS.
    public var profile: [String: String]

    public init(username: String, passwordHash: String, isActive: Bool, profile: [String: String] = [:]) {
        self.username = username
        self.passwordHash = passwordHash
        self.isActive = isActive
        self.profile = profile
    }

    init?(fields: [String: String]) {
        guard let username = fields["username"] else { return nil }
        self.username = username
        passwordHash = fields["password"] ?? "!"
        isActive = fields["is_active"] == "1"
        var profile = fields
        for reserved in ["username", "password", "is_active"] { profile[reserved] = nil }
        self.profile = profile
    }
}

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
