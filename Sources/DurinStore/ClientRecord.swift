import DurinCore

/// An API client (`web`, `cli`, `mobile`): durin's `Client` model.
public struct ClientRecord: Sendable, Equatable {
    public var name: String
    public var tokenTTL: TokenTTL
    public var throttleRate: ThrottleRate?
    public var created: EpochMillis
    /// A token unused this long (seconds) expires before its TTL; nil: never.
    public var idleTimeout: Int64?

    public init(name: String, tokenTTL: TokenTTL, throttleRate: ThrottleRate?, created: EpochMillis, idleTimeout: Int64? = nil) {
        self.name = name
        self.tokenTTL = tokenTTL
        self.throttleRate = throttleRate
        self.created = created
        self.idleTimeout = idleTimeout
    }

    init?(fields: [String: String]) {
        guard let name = fields["name"], let ttl = fields["token_ttl"].flatMap(TokenTTL.parse) else { return nil }
        self.name = name
        tokenTTL = ttl
        throttleRate = fields["throttle_rate"].flatMap(ThrottleRate.parse)
        created = fields["created"].flatMap { EpochMillis($0) } ?? 0
        idleTimeout = fields["idle_timeout"].flatMap { Int64($0) }.flatMap { $0 > 0 ? $0 : nil }
    }
}
