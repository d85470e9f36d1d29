import DurinCore
import RedisClient

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

/// A token hash (`<prefix>token:<digest>`) as read: its one decoder. Every reader,
/// in Swift and in the scripts (`tokenFields` in Scripts.swift), asks for `fields`
/// in this order, so the order lives here only.
struct StoredToken {
    static let fields = ["user", "client", "created", "expiry", "id", "sealed", "inactive"]
    /// The same list as Lua source, for the scripts.
    static let luaFields = fields.map { "'\($0)'" }.joined(separator: ", ")

    let record: TokenRecord
    let sealed: String?
    /// Set while the user is deactivated (the token check reads one key).
    let inactive: Bool

    /// From the values of an HMGET of `fields`; nil when the token does not exist.
    init?(digest: String, values: ArraySlice<RedisReply>) {
        guard values.count == Self.fields.count else { return nil }
        let v = Array(values)
        guard let user = v[0].string, let client = v[1].string, let id = v[4].int else { return nil }
        record = TokenRecord(digest: digest, user: user, client: client, created: v[2].int ?? 0,
                             expiry: Self.expiry(v[3].string), id: id)
        sealed = v[5].string
        inactive = v[6].string == "1"
    }

    /// The stored `expiry`: epoch milliseconds, or `never`.
    static func expiry(_ text: String?) -> EpochMillis? {
        text.flatMap { $0 == "never" ? nil : EpochMillis($0) }
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
