/// A request's `Cookie` header (RFC 6265 §4.2): `name=value` pairs separated by
/// `; `. Read by name only; values are taken as sent (durin's own are tokens of
/// URL-safe characters).
package enum CookieHeader {
    /// Every value of one cookie, in the order sent. More than one means a cookie of
    /// the same name came from a parent domain or a narrower path as well.
    package static func values(named name: String, in header: String?) -> [String] {
        guard let header else { return [] }
        return header.split(separator: ";").compactMap { part in
            let pair = part.drop { $0 == " " }
            return pair.hasPrefix(name + "=") ? String(pair.dropFirst(name.count + 1)) : nil
        }
    }

    /// The header without any pair of cookie `name`, the others as sent, joined with
    /// `; `. Empty when nothing else was sent.
    package static func removing(named name: String, from header: String?) -> String {
        guard let header else { return "" }
        return header.split(separator: ";").lazy.map { $0.drop { $0 == " " } }
            .filter { !$0.isEmpty && !$0.hasPrefix(name + "=") && $0 != name }
            .joined(separator: "; ")
    }
}
