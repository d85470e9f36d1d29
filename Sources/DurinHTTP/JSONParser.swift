/// A strict RFC 8259 parser over UTF-8 bytes, with a nesting limit so a hostile
/// body cannot exhaust the stack.
package struct JSONParser {
    package static let maximumDepth = 64

    private let bytes: [UInt8]
    private var i = 0
    private var depth = 0

    package static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        // DRF decodes the stream as UTF-8 before parsing.
        if let bad = firstInvalidUTF8(bytes) {
            throw JSONParseError(message: "'utf-8' codec can't decode byte 0x\(hex(bytes[bad])) in position \(bad): invalid start byte")
        }
        var parser = JSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue()
        parser.skipWhitespace()
        if parser.i != bytes.count { throw parser.error("Extra data") }
        return value
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func error(_ what: String, at position: Int? = nil) -> JSONParseError {
        // Python reports line, column and character (not byte) offsets.
        let p = min(position ?? i, bytes.count)
        var line = 1
        var column = 1
        var char = 0
        var k = 0
        while k < p {
            let b = bytes[k]
            if b & 0xC0 != 0x80 {  // count code points, not continuation bytes
                char += 1
                if b == 0x0A {
                    line += 1
                    column = 1
                } else {
                    column += 1
                }
            }
            k += 1
        }
        return JSONParseError(message: "\(what): line \(line) column \(column) (char \(char))")
    }

    private mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard i < bytes.count else { throw error("Expecting value") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("Expecting value")
        }
    }

    private mutating func literal(_ word: String, _ value: JSONValue) throws(JSONParseError) -> JSONValue {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw error("Expecting value") }
        i += w.count
        return value
    }

    private mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > Self.maximumDepth { throw error("Nesting too deep") }
    }

    private mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enter()
        i += 1
        var members: [(String, JSONValue)] = []
        // Where each key sits in `members`: a repeated key (Python keeps the last
        // value) is found in O(1), so a body of many distinct keys parses in linear
        // time. Swift's String hashing is seeded per process: no hash flooding.
        var positions: [String: Int] = [:]
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            depth -= 1
            return .object([])
        }
        while true {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
                throw error("Expecting property name enclosed in double quotes")
            }
            let key = try parseString()
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("Expecting ':' delimiter") }
            i += 1
            skipWhitespace()
            let value = try parseValue()
            if let existing = positions[key] {
                members[existing].1 = value
            } else {
                positions[key] = members.count
                members.append((key, value))
            }
            skipWhitespace()
            guard i < bytes.count else { throw error("Expecting ',' delimiter") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if bytes[i] == UInt8(ascii: "}") {
                i += 1
                break
            }
            throw error("Expecting ',' delimiter")
        }
        depth -= 1
        return .object(members)
    }

    private mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enter()
        i += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            i += 1
            depth -= 1
            return .array([])
        }
        while true {
            skipWhitespace()
            items.append(try parseValue())
            skipWhitespace()
            guard i < bytes.count else { throw error("Expecting ',' delimiter") }
            if bytes[i] == UInt8(ascii: ",") {
                i += 1
                continue
            }
            if bytes[i] == UInt8(ascii: "]") {
                i += 1
                break
            }
            throw error("Expecting ',' delimiter")
        }
        depth -= 1
        return .array(items)
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = i
        func digits(_ p: inout Int) -> Int {
            let s = p
            while p < bytes.count, bytes[p] >= 0x30, bytes[p] <= 0x39 { p += 1 }
            return p - s
        }
        var p = i
        if bytes[p] == UInt8(ascii: "-") { p += 1 }
        guard p < bytes.count, bytes[p] >= 0x30, bytes[p] <= 0x39 else { throw error("Expecting value") }
        if bytes[p] == 0x30 { p += 1 } else { _ = digits(&p) }
        if p < bytes.count, bytes[p] == UInt8(ascii: ".") {
            var q = p + 1
            if digits(&q) > 0 { p = q }
        }
        if p < bytes.count, bytes[p] == UInt8(ascii: "e") || bytes[p] == UInt8(ascii: "E") {
            var q = p + 1
            if q < bytes.count, bytes[q] == UInt8(ascii: "+") || bytes[q] == UInt8(ascii: "-") { q += 1 }
            if digits(&q) > 0 { p = q }
        }
        i = p
        return .number(String(decoding: bytes[start..<p], as: UTF8.self))
    }

    private mutating func parseString() throws(JSONParseError) -> String {
        let start = i
        i += 1
        var scalars = String.UnicodeScalarView()
        var runStart = i
        func flush(_ end: Int) {
            if end > runStart { scalars.append(contentsOf: String(decoding: bytes[runStart..<end], as: UTF8.self).unicodeScalars) }
        }
        while true {
            guard i < bytes.count else { throw error("Unterminated string starting at", at: start) }
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                flush(i)
                i += 1
                break
            }
            if b < 0x20 { throw error("Invalid control character at") }
            if b == UInt8(ascii: "\\") {
                flush(i)
                guard i + 1 < bytes.count else { throw error("Unterminated string starting at", at: start) }
                let e = bytes[i + 1]
                switch e {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    let escapeAt = i
                    var code = try hex4(at: i + 2)
                    i += 6
                    if (0xD800...0xDBFF).contains(code), i + 1 < bytes.count,
                        bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u"),
                        let low = try? hex4(at: i + 2), (0xDC00...0xDFFF).contains(low)
                    {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                    // A lone surrogate cannot live in a Swift String; Python would keep it and
                    // DRF would refuse it later, so the request is refused here instead.
                    guard let scalar = Unicode.Scalar(code) else { throw error("Unpaired surrogate", at: escapeAt) }
                    scalars.append(scalar)
                    runStart = i
                    continue
                default:
                    throw error("Invalid \\escape")
                }
                i += 2
                runStart = i
                continue
            }
            i += 1
        }
        return String(scalars)
    }

    private func hex4(at p: Int) throws(JSONParseError) -> UInt32 {
        // Exactly four hex digits: UInt32(_:radix:) alone would also take a sign.
        guard p + 4 <= bytes.count, bytes[p..<p + 4].allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }),
            let v = UInt32(String(decoding: bytes[p..<p + 4], as: UTF8.self), radix: 16)
        else {
            throw error("Invalid \\uXXXX escape", at: p - 1)
        }
        return v
    }

    /// The byte offset of the first invalid UTF-8 sequence, if any.
    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var it = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&it) {
            case .scalarValue(let s): offset += UTF8.width(s)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    private static func hex(_ b: UInt8) -> String {
        let s = String(b, radix: 16)
        return s.count == 1 ? "0" + s : s
    }
}
