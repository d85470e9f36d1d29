/// A web origin (RFC 6454): scheme, host and port, as a browser sends it in
/// `Origin` and as the operator names where the console lives
/// (DURIN_CONSOLE_ORIGIN). Compared as a whole, so `https://admin.example.com`
/// and `https://admin.example.com:443` are one origin, and a name that merely
/// resolves to the same address (DNS rebinding) is another.
package struct WebOrigin: Equatable, Sendable, CustomStringConvertible {
    package let scheme: String
    /// Lowercase; an IPv6 literal keeps its brackets.
    package let host: String
    package let port: Int

    /// Parses `scheme://host[:port]` with nothing after it (a trailing `/` is
    /// allowed, as operators write it). nil for anything else.
    package init?(_ text: String) {
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") { scheme = "https" } else if lower.hasPrefix("http://") { scheme = "http" } else { return nil }
        var rest = Substring(lower.dropFirst(scheme.count + 3))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        self.init(scheme: scheme, authority: String(rest))
    }

    /// The origin of a request that reached nginx by `scheme` with this Host header.
    package init?(scheme: String, authority: String) {
        let scheme = scheme.lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let authority = authority.lowercased()
        var host = authority
        var port = scheme == "https" ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[...close])
            let tail = authority[authority.index(after: close)...]
            if !tail.isEmpty {
                guard tail.hasPrefix(":"), let p = Self.port(tail.dropFirst()) else { return nil }
                port = p
            }
        } else if let colon = authority.firstIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Self.port(authority[authority.index(after: colon)...]) else { return nil }
            port = p
        }
        // A host name or address: letters, digits, `-`, `.`, and an IPv6 literal's
        // brackets and colons. Nothing that could hide a second name (user info,
        // a path, white space, NUL).
        let allowed = host.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x2E
                || (host.hasPrefix("[") && (byte == 0x3A || byte == 0x5B || byte == 0x5D))
        }
        guard !host.isEmpty, allowed else { return nil }
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    private static func port(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 5, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(text), (1...65535).contains(n)
        else { return nil }
        return n
    }

    /// Whether the host is this machine by name or literal (127.0.0.0/8, ::1, localhost):
    /// a name no other site can make a browser send (no DNS answer rebinds it).
    package var isLoopback: Bool {
        host == "localhost" || host == "[::1]"
            || (host.hasPrefix("127.") && host.split(separator: ".").count == 4
                && host.split(separator: ".").allSatisfy { $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) })
    }

    package var description: String {
        let defaultPort = scheme == "https" ? 443 : 80
        return "\(scheme)://\(host)" + (port == defaultPort ? "" : ":\(port)")
    }
}
