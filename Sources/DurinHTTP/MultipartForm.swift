import Codecs

/// `multipart/form-data` text fields (DRF's MultiPartParser, as `curl -F` sends them).
/// File parts are ignored: no route takes a file.
package enum MultipartForm {
    package struct Failure: Error, Equatable { package let reason: String }

    package static func parse(_ body: [UInt8], contentType: String) throws(Failure) -> [String: String] {
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
                parameter("filename", in: String(disposition)) == nil
            else { continue }
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

extension ArraySlice where Element == UInt8 {
    fileprivate func hasSuffix(_ suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self.suffix(suffix.count)) == suffix }
}
