import Codecs

/// A request body decoded the way DRF's `request.data` is: JSON or form fields.
package enum RequestData: Equatable, Sendable {
    /// Named fields (a JSON object, or form fields where a repeated name keeps its last value).
    case fields([String: JSONValue])
    /// Valid JSON that is not an object; the Python type name, for DRF's message.
    case notAnObject(String)

    package static let empty = RequestData.fields([:])

    package subscript(field: String) -> JSONValue? {
        if case .fields(let map) = self { return map[field] }
        return nil
    }

    /// Decodes a body by its `Content-Type` with DRF's default parsers (JSON, form,
    /// multipart) and their errors: 415 for other types, 400 `JSON parse error - ...`
    /// for bad JSON. An empty body is empty data, whatever its type (DRF never runs a
    /// parser on it).
    package static func decode(contentType: String?, body: [UInt8]) throws(APIError) -> RequestData {
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
