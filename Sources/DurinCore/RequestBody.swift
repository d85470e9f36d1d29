/// A request body decoded the way DRF's `request.data` is: JSON or form fields.
public enum RequestData: Equatable, Sendable {
    /// Named fields (a JSON object, or form fields where a repeated name keeps its last value).
    case fields([String: JSONValue])
    /// Valid JSON that is not an object; the Python type name, for DRF's message.
    case notAnObject(String)

    public static let empty = RequestData.fields([:])

    public subscript(field: String) -> JSONValue? {
        if case .fields(let map) = self { return map[field] }
        return nil
    }

    /// Decodes a body by its `Content-Type` with DRF's default parsers (JSON, form,
    /// multipart) and their errors: 415 for other types, 400 `JSON parse error - ...`
    /// for bad JSON. An empty body is empty data, whatever its type (DRF never runs a
    /// parser on it).
    public static func decode(contentType: String?, body: [UInt8]) throws(APIError) -> RequestData {
        guard !body.isEmpty else { return .empty }
        let full = contentType ?? ""
        let mediaType = full.split(separator: ";", maxSplits: 1).first.map { $0.trimmingASCIIWhitespace().lowercased() } ?? ""
        switch mediaType {
        case "application/json":
            let value: JSONValue
            do { value = try JSONParser.parse(body) } catch { throw .jsonParse(error.message) }
            if case .object(let members) = value {
                return .fields(Dictionary(members, uniquingKeysWith: { _, last in last }))
            }
            return .notAnObject(value.pythonTypeName)
        case "application/x-www-form-urlencoded":
            return .fields(FormURLEncoded.parse(body).mapValues { .string($0) })
        case "multipart/form-data":
            do { return .fields(try MultipartForm.parse(body, contentType: full).mapValues { .string($0) }) } catch {
                throw .multipartParse(error.reason)
            }
        default:
            throw .unsupportedMediaType(full)
        }
    }
}

/// `application/x-www-form-urlencoded`, decoded like Django's QueryDict: `+` is a
/// space, bad percent escapes stay literal, bytes that are not UTF-8 become U+FFFD.
public enum FormURLEncoded {
    public static func parse(_ body: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: UInt8(ascii: "&")) where !pair.isEmpty {
            let kv = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let key = decode(kv[0])
            fields[key] = kv.count > 1 ? decode(kv[1]) : ""
        }
        return fields
    }

    static func decode(_ part: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(part.count)
        var i = part.startIndex
        while i < part.endIndex {
            let b = part[i]
            if b == UInt8(ascii: "+") {
                out.append(0x20)
            } else if b == UInt8(ascii: "%"), i + 2 < part.endIndex, let hi = hexValue(part[i + 1]), let lo = hexValue(part[i + 2]) {
                out.append(hi << 4 | lo)
                i += 2
            } else {
                out.append(b)
            }
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }
}

/// DRF's `CharField` validation, for the login fields.
public enum CharField {
    /// - Returns: the accepted value, or DRF's error message for it.
    public static func validate(_ value: JSONValue?, trimWhitespace: Bool) -> Result<String, FieldMessage> {
        guard let value else { return .failure(.init("This field is required.")) }
        var text: String
        switch value {
        case .null: return .failure(.init("This field may not be null."))
        case .string(let s): text = s
        case .number(let n): text = n
        default: return .failure(.init("Not a valid string."))
        }
        if trimWhitespace { text = text.trimmingPythonWhitespace() }
        if text.isEmpty { return .failure(.init("This field may not be blank.")) }
        if text.unicodeScalars.contains("\u{0}") { return .failure(.init("Null characters are not allowed.")) }
        return .success(text)
    }

    public struct FieldMessage: Error, Equatable {
        public let text: String
        init(_ text: String) { self.text = text }
    }
}

extension String {
    /// Python's `str.strip()`: Unicode white space at both ends.
    func trimmingPythonWhitespace() -> String {
        let scalars = unicodeScalars
        let isSpace: (Unicode.Scalar) -> Bool = {
            $0.properties.isWhitespace || (0x1C...0x1F).contains($0.value)
        }
        guard let first = scalars.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isSpace($0) })!
        return String(scalars[first...last])
    }
}

/// `multipart/form-data` text fields (DRF's MultiPartParser, as `curl -F` sends them).
/// File parts are ignored: no route takes a file.
public enum MultipartForm {
    public struct Failure: Error, Equatable { public let reason: String }

    public static func parse(_ body: [UInt8], contentType: String) throws(Failure) -> [String: String] {
        guard let boundary = parameter("boundary", in: contentType), !boundary.isEmpty, boundary.utf8.count <= 70 else {
            throw Failure(reason: "Invalid boundary in multipart: None")
        }
        let delimiter = Array("--\(boundary)".utf8)
        var fields: [String: String] = [:]
        var parts = split(body[...], on: delimiter)
        guard parts.count >= 2 else { throw Failure(reason: "Invalid boundary in multipart: \(boundary)") }
        parts.removeFirst()  // the preamble
        for var part in parts {
            if part.starts(with: Array("--".utf8)) { break }  // the closing delimiter
            if part.starts(with: Array("\r\n".utf8)) { part = part.dropFirst(2) }
            guard let headerEnd = part.firstRange(of: Array("\r\n\r\n".utf8)) else { continue }
            let headers = String(decoding: part[..<headerEnd.lowerBound], as: UTF8.self)
            var value = part[headerEnd.upperBound...]
            if value.hasSuffix(Array("\r\n".utf8)) { value = value.dropLast(2) }
            guard let disposition = headers.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("content-disposition:") }),
                  let name = parameter("name", in: String(disposition)),
                  parameter("filename", in: String(disposition)) == nil else { continue }
            fields[name] = String(decoding: value, as: UTF8.self)
        }
        return fields
    }

    /// A `key=value` or `key="value"` parameter of a header value.
    static func parameter(_ key: String, in header: String) -> String? {
        for piece in header.split(separator: ";").dropFirst() {
            let kv = piece.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, kv[0].trimmingASCIIWhitespace().lowercased() == key else { continue }
            var value = kv[1].trimmingASCIIWhitespace()
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }

    private static func split(_ data: ArraySlice<UInt8>, on delimiter: [UInt8]) -> [ArraySlice<UInt8>] {
        var parts: [ArraySlice<UInt8>] = []
        var rest = data
        while let r = rest.firstRange(of: delimiter) {
            var chunk = rest[..<r.lowerBound]
            if chunk.hasSuffix(Array("\r\n".utf8)) { chunk = chunk.dropLast(2) }
            parts.append(chunk)
            rest = rest[r.upperBound...]
        }
        parts.append(rest)
        return parts
    }
}

private extension ArraySlice where Element == UInt8 {
    func hasSuffix(_ suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self.suffix(suffix.count)) == suffix }
}
