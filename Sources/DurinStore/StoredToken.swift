package import DurinCore
package import RedisClient

/// A token hash (`<prefix>t:<digest>`) as read: its one decoder. Every reader,
/// in Swift and in the scripts (`tokenFields` in Scripts/Script.swift), asks for `fields`
/// in this order, so the order lives here only; scripts name a field's place as
/// `F.<name>` (`luaFieldIndex`).
///
/// Fields are one letter each (a token costs its field names in every hash): `u`
/// user, `c` client, `t` created (ms), `e` expiry (ms, or `never`), `i` session id,
/// `s` sealed token, `x` set while the user is deactivated; the session's details
/// `a` address, `g` user agent, `l` label (SessionDetails); `w` last use (ms) and
/// `d` the client's idle timeout (seconds, only when it has one: LastUse); `n` the
/// digest of the token that replaced it (a rotating refresh): such a token is valid
/// only in its reuse grace, and only through the script (`VerifyScript`).
package struct StoredToken {
    package static let fields = ["u", "c", "t", "e", "i", "s", "x", "a", "g", "l", "w", "d", "n"]
    /// The same list as Lua source, for the scripts.
    package static let luaFields = fields.map { "'\($0)'" }.joined(separator: ", ")
    /// Each field's place in `fields`, as a Lua table: `t[F.w]`.
    package static let luaFieldIndex =
        "local F = {"
        + fields.enumerated().map { "\($0.element) = \($0.offset + 1)" }.joined(separator: ", ") + "}"
    /// What a token check reads: the record, the deactivation mark and what idle
    /// timeouts need; not the sealed copy (45 bytes, for re-login and apiaccess/ only)
    /// nor the details (for listings).
    package static let checkFields = ["u", "c", "t", "e", "i", "x", "w", "d", "n"]

    package let record: TokenRecord
    package let sealed: String?
    /// Set while the user is deactivated (the token check reads one key).
    package let inactive: Bool
    /// Replaced by a rotating refresh: never valid on a plain read.
    package let replaced: Bool

    /// Where each field is in a reply to one of the two lists.
    private struct Places {
        let u, c, t, e, i, x, w, d, n: Int
        let s, a, g, l: Int?
        init(_ list: [String]) {
            func at(_ name: String) -> Int? { list.firstIndex(of: name) }
            u = at("u")!
            c = at("c")!
            t = at("t")!
            e = at("e")!
            i = at("i")!
            x = at("x")!
            w = at("w")!
            d = at("d")!
            n = at("n")!
            s = at("s")
            a = at("a")
            g = at("g")
            l = at("l")
        }
    }
    private static let full = Places(fields)
    private static let check = Places(checkFields)

    /// From the values of an HMGET of `fields`, or of `checkFields`; nil when the
    /// token does not exist.
    package init?(digest: String, values: ArraySlice<RedisReply>) {
        let places: Places
        switch values.count {
        case Self.fields.count: places = Self.full
        case Self.checkFields.count: places = Self.check
        default: return nil
        }
        let base = values.startIndex
        func value(_ place: Int) -> RedisReply { values[base + place] }
        func text(_ place: Int?) -> String? { place.flatMap { value($0).string } }
        guard let user = value(places.u).string, let client = value(places.c).string, let id = value(places.i).int else { return nil }
        record = TokenRecord(
            digest: digest, user: user, client: client, created: value(places.t).int ?? 0,
            expiry: Self.expiry(value(places.e).string), id: id,
            lastUsed: value(places.w).int, idleSeconds: value(places.d).int,
            details: SessionDetails(stored: text(places.a), text(places.g), text(places.l)))
        sealed = text(places.s)
        inactive = value(places.x).string == "1"
        replaced = value(places.n).string != nil
    }

    /// Whether it is still valid at `now`; an expired token stays stored for the
    /// grace period, to be reported once.
    package func isLive(at now: EpochMillis) -> Bool { record.expiry.map { $0 > now } ?? true }

    /// The stored `expiry`: epoch milliseconds, or `never`.
    package static func expiry(_ text: String?) -> EpochMillis? {
        text.flatMap { $0 == "never" ? nil : EpochMillis($0) }
    }
}

extension SessionDetails {
    /// As stored: the values were bounded before they were written.
    init(stored address: String?, _ userAgent: String?, _ label: String?) {
        self.init()
        self.address = address
        self.userAgent = userAgent
        self.label = label
    }
}
