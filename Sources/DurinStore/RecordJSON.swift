package import DurinCore
package import DurinHTTP

/// The records as JSON, written once: the console, `sessions/` and durinctl's
/// `--json` all render a client, a user or a token's session through these, so a
/// field has one name and one form wherever it is shown. Each reader adds what only
/// it shows (the console's token counts, durinctl's digests) after these.
package enum RecordJSON {
    /// How a reader writes a time (durinctl its own format, the console DRF's).
    package typealias TimeFormat = (EpochMillis) -> String

    /// A duration as durinctl takes it (`30m`, `2h`).
    static func duration(_ seconds: Int64?) -> JSONValue {
        seconds.map { .string(DurationSpec(seconds: $0).description) } ?? .null
    }

    static func text(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }

    /// A client: its name, token TTL, throttle rate, idle timeout, whether it is a
    /// browser's (cookie), and its creation.
    package static func client(_ c: ClientRecord, time: TimeFormat) -> [(String, JSONValue)] {
        [
            ("name", .string(c.name)),
            ("token_ttl", .string(c.tokenTTL.description)),
            ("throttle_rate", c.throttleRate.map { .string($0.description) } ?? .null),
            ("idle_timeout", duration(c.idleTimeout)),
            ("cookie", .bool(c.cookie)),
            ("rotate_on_refresh", .bool(c.rotateOnRefresh)),
            ("reuse_grace", c.rotateOnRefresh ? duration(c.reuseGrace) : .null),
            ("require_otp", .bool(c.requireOTP)),
            ("created", .string(time(c.created))),
        ]
    }

    /// A user's account, without its profile (readers show that their own way).
    package static func user(_ u: UserRecord) -> [(String, JSONValue)] {
        [
            ("username", .string(u.username)), ("is_active", .bool(u.isActive)), ("is_staff", .bool(u.isStaff)),
            ("must_change_password", .bool(u.mustChangePassword)), ("otp", .bool(u.hasTOTP)),
        ]
    }

    /// A session: a token's id, client, times and details, never the token.
    package static func session(_ r: TokenRecord, time: TimeFormat) -> [(String, JSONValue)] {
        [
            ("id", .number(String(r.id))),
            ("client", .string(r.client)),
            ("created", .string(time(r.created))),
            ("expiry", r.expiry.map { .string(time($0)) } ?? .null),
            ("idle_timeout", duration(r.idleSeconds)),
        ] + details(r, time: time)
    }

    /// Where a session was last logged into from, and when it was last used.
    package static func details(_ r: TokenRecord, time: TimeFormat) -> [(String, JSONValue)] {
        [
            ("last_used", r.lastUsed.map { .string(time($0)) } ?? .null),
            ("address", text(r.details.address)),
            ("user_agent", text(r.details.userAgent)),
            ("label", text(r.details.label)),
        ]
    }
}
