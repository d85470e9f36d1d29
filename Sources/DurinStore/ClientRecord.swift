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
    /// `refresh/` answers a new token and the old one is replaced (RFC 9700 §4.14.2):
    /// it keeps working `reuseGrace` seconds for requests already in flight, and its
    /// use after that is taken as theft (the pair's current token is revoked too).
    package var rotateOnRefresh: Bool
    /// Seconds an old token keeps working after a rotating refresh.
    package var reuseGrace: Int64

    /// A login by a user with a second factor must bring its code (`otp`), and a
    /// user without one cannot log in to it (`durinctl client set web --require-otp`).
    package var requireOTP = false

    /// The grace a rotating client gets unless told otherwise.
    package static let defaultReuseGrace: Int64 = 30

    package init(
        name: String, tokenTTL: TokenTTL, throttleRate: ThrottleRate?, created: EpochMillis, idleTimeout: Int64? = nil,
        cookie: Bool = false, rotateOnRefresh: Bool = false, reuseGrace: Int64 = ClientRecord.defaultReuseGrace
    ) {
        self.name = name
        self.tokenTTL = tokenTTL
        self.throttleRate = throttleRate
        self.created = created
        self.idleTimeout = idleTimeout
        self.cookie = cookie
        self.rotateOnRefresh = rotateOnRefresh
        self.reuseGrace = reuseGrace
    }

    init?(fields: [String: String]) {
        guard let name = fields["name"], let ttl = fields["token_ttl"].flatMap(TokenTTL.parse) else { return nil }
        self.name = name
        tokenTTL = ttl
        throttleRate = fields["throttle_rate"].flatMap(ThrottleRate.parse)
        created = fields["created"].flatMap { EpochMillis($0) } ?? 0
        idleTimeout = fields["idle_timeout"].flatMap { Int64($0) }.flatMap { $0 > 0 ? $0 : nil }
        cookie = fields["cookie"] == "1"
        rotateOnRefresh = fields["rotate"] == "1"
        requireOTP = fields["otp"] == "1"
        reuseGrace = fields["reuse_grace"].flatMap { Int64($0) }.flatMap { $0 >= 0 ? $0 : nil } ?? Self.defaultReuseGrace
    }
}
