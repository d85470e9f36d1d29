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
}
