import Codecs

/// `application/x-www-form-urlencoded`, decoded like Django's QueryDict: `+` is a
/// space, bad percent escapes stay literal, bytes that are not UTF-8 become U+FFFD.
package enum FormURLEncoded {
    package static func parse(_ body: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: UInt8(ascii: "&")) where !pair.isEmpty {
            let kv = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let key = decode(kv[0])
            fields[key] = kv.count > 1 ? decode(kv[1]) : ""
        }
        return fields
    }

    static func decode(_ part: ArraySlice<UInt8>) -> String {
        String(decoding: PercentEncoding.decode(part, plusIsSpace: true), as: UTF8.self)
    }
}
