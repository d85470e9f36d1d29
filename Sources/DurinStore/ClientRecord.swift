package import DurinCore

/// An API client (`web`, `cli`, `mobile`): durin's `Client` model.
package struct ClientRecord: Sendable, Equatable {
    package var name: String
    package var tokenTTL: TokenTTL
    package var throttleRate: ThrottleRate?
    package var created: EpochMillis
    /// A token unused this long (seconds) expires before its TTL; nil: never.
    package var idleTimeout: Int64?
    /// A client for browsers (`durinctl client add web --cookie`): at a location that
    /// allows it, a login answers with the token in the `durin_session` cookie,
    /// never in the body, so no script on the page can read it.
    package var cookie: Bool

    package init(
        name: String, tokenTTL: TokenTTL, throttleRate: ThrottleRate?, created: EpochMillis, idleTimeout: Int64? = nil,
        cookie: Bool = false
    ) {
        self.name = name
        self.tokenTTL = tokenTTL
        self.throttleRate = throttleRate
        self.created = created
        self.idleTimeout = idleTimeout
        self.cookie = cookie
    }

    init?(fields: [String: String]) {
        guard let name = fields["name"], let ttl = fields["token_ttl"].flatMap(TokenTTL.parse) else { return nil }
        self.name = name
        tokenTTL = ttl
        throttleRate = fields["throttle_rate"].flatMap(ThrottleRate.parse)
        created = fields["created"].flatMap { EpochMillis($0) } ?? 0
        idleTimeout = fields["idle_timeout"].flatMap { Int64($0) }.flatMap { $0 > 0 ? $0 : nil }
        cookie = fields["cookie"] == "1"
    }
}
