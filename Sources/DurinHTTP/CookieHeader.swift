/// A request's `Cookie` header (RFC 6265 §4.2): `name=value` pairs separated by
/// `;` and optional spaces. Read on its UTF-8 bytes, not its Characters: a check
/// with the session cookie reads it on every request, and Swift's grapheme-aware
/// splitting costs ten times the rest of the check. Values are taken as sent
/// (durin's own are hex tokens).
package enum CookieHeader {
    /// Every value of one cookie, in the order sent. More than one means a cookie of
    /// the same name came from a parent domain or a narrower path as well.
    package static func values(named name: String, in header: String?) -> [String] {
        guard let header else { return [] }
        var found: [String] = []
        forEachPair(header) { pair in
            if let value = value(of: pair, named: name) { found.append(String(decoding: value, as: UTF8.self)) }
        }
        return found
    }

    /// The header without any pair of cookie `name`, the others as sent, joined with
    /// `; `. Empty when nothing else was sent.
    package static func removing(named name: String, from header: String?) -> String {
        guard let header else { return "" }
        var out: [UInt8] = []
        forEachPair(header) { pair in
            guard value(of: pair, named: name) == nil, !equals(pair, name) else { return }
            if !out.isEmpty { out += [0x3B, 0x20] }
            out += pair
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Calls `body` with each non-empty pair's bytes, leading spaces dropped.
    private static func forEachPair(_ header: String, _ body: (ArraySlice<UInt8>) -> Void) {
        let bytes = Array(header.utf8)
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != 0x3B { end += 1 }
            var first = start
            while first < end && bytes[first] == 0x20 { first += 1 }
            if first < end { body(bytes[first..<end]) }
            start = end + 1
        }
    }

    /// The value of `pair` when it is `name=...`.
    private static func value(of pair: ArraySlice<UInt8>, named name: String) -> ArraySlice<UInt8>? {
        let count = name.utf8.count
        guard pair.count > count, pair[pair.startIndex + count] == 0x3D,
            pair.prefix(count).elementsEqual(name.utf8)
        else { return nil }
        return pair[(pair.startIndex + count + 1)...]
    }

    private static func equals(_ pair: ArraySlice<UInt8>, _ name: String) -> Bool { pair.elementsEqual(name.utf8) }
}
