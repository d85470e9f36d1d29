import Glibc

/// The group a client address counts in for the login limits.
///
/// An IPv4 address is one client. An IPv6 client usually holds a whole /64 (one
/// subscriber's allocation, SLAAC), from which it can take a fresh address for
/// every request: counted per address, it would never be limited. So IPv6
/// addresses count per /64. What is not an address (empty, or anything else a
/// misconfigured front sends) counts in one shared group, so it is limited too
/// rather than skipping the limit.
///
/// The group is decided from exactly the bytes given, and named from the parsed
/// address, never from the text: inet_pton reads a C string, which ends at the first
/// NUL, so `2.0.3.7` followed by a NUL and more would parse as 2.0.3.7 while the text
/// went on; such a text, like anything that is not an address in full, is `other`.
package enum ClientAddress {
    package static func group(_ text: String?) -> String {
        guard let text, !text.isEmpty, text.utf8.count <= 64, !text.utf8.contains(0) else { return "other" }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return "v4:" + withUnsafeBytes(of: &v4) { $0.map(String.init).joined(separator: ".") }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return "other" }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        // An IPv4-mapped address (::ffff:a.b.c.d) is that IPv4 client.
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return "v4:" + bytes[12...].map(String.init).joined(separator: ".")
        }
        let prefix = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return "v6:" + prefix.joined(separator: ":") + "::/64"
    }
}
