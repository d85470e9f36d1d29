/// Percent-decoding (`%41` is `A`), for form bodies and Redis URL credentials.
///
/// An escape is `%` and exactly two hex digits; anything else, a lone `%` or `%+f`
/// say, stays literal, as Python's `unquote` leaves it.
package enum PercentEncoding {
    /// - Parameter plusIsSpace: form encoding's `+` for a space (not in URLs).
    package static func decode<Bytes: Collection>(_ part: Bytes, plusIsSpace: Bool) -> [UInt8] where Bytes.Element == UInt8 {
        let bytes = Array(part)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if plusIsSpace, b == UInt8(ascii: "+") {
                out.append(0x20)
            } else if b == UInt8(ascii: "%"), i + 2 < bytes.count,
                let hi = Hex.value(of: bytes[i + 1]), let lo = Hex.value(of: bytes[i + 2])
            {
                out.append(hi << 4 | lo)
                i += 2
            } else {
                out.append(b)
            }
            i += 1
        }
        return out
    }

    /// Encodes everything but RFC 3986's unreserved characters (letters, digits,
    /// `-._~`): safe as a query parameter's value whatever it holds.
    package static func encode(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E: out.append(byte)
            default: out += [0x25, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
