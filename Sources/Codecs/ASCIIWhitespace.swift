extension StringProtocol {
    /// Trims spaces, tabs and line breaks (configuration values, header parts).
    ///
    /// Works on bytes, not Characters: "\r\n" is one Character, equal to neither
    /// "\r" nor "\n", so a Character test would leave a trailing CRLF in place.
    package func trimmingASCIIWhitespace() -> String {
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = bytes.lastIndex(where: { !isSpace($0) })!
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
