import DurinCore
import RedisClient

/// A token hash (`<prefix>t:<digest>`) as read: its one decoder. Every reader,
/// in Swift and in the scripts (`tokenFields` in Scripts/Script.swift), asks for `fields`
/// in this order, so the order lives here only.
///
/// Fields are one letter each (a token costs its field names in every hash): `u`
/// user, `c` client, `t` created (ms), `e` expiry (ms, or `never`), `i` session id,
/// `s` sealed token, `x` set while the user is deactivated.
package struct StoredToken {
    package static let fields = ["u", "c", "t", "e", "i", "s", "x"]
    /// The same list as Lua source, for the scripts.
    package static let luaFields = fields.map { "'\($0)'" }.joined(separator: ", ")
    /// What a token check reads: every field but the sealed copy (`s`, 45 bytes),
    /// which only re-login and apiaccess/ need.
    package static let checkFields = fields.filter { $0 != "s" }

    package let record: TokenRecord
    package let sealed: String?
    /// Set while the user is deactivated (the token check reads one key).
    package let inactive: Bool

    /// From the values of an HMGET of `fields`, or of `checkFields` (no sealed
    /// copy); nil when the token does not exist.
    package init?(digest: String, values: ArraySlice<RedisReply>) {
        let withSealed = values.count == Self.fields.count
        guard withSealed || values.count == Self.checkFields.count else { return nil }
        let v = Array(values)
        guard let user = v[0].string, let client = v[1].string, let id = v[4].int else { return nil }
        record = TokenRecord(digest: digest, user: user, client: client, created: v[2].int ?? 0,
                             expiry: Self.expiry(v[3].string), id: id)
        sealed = withSealed ? v[5].string : nil
        inactive = v[withSealed ? 6 : 5].string == "1"
    }

    /// Whether it is still valid at `now`; an expired token stays stored for the
    /// grace period, to be reported once.
    package func isLive(at now: EpochMillis) -> Bool { record.expiry.map { $0 > now } ?? true }

    /// The stored `expiry`: epoch milliseconds, or `never`.
    package static func expiry(_ text: String?) -> EpochMillis? {
        text.flatMap { $0 == "never" ? nil : EpochMillis($0) }
    }
}
