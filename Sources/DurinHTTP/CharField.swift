import Codecs

/// DRF's `CharField` validation, for the login fields.
package enum CharField {
    /// - Returns: the accepted value, or DRF's error message for it.
    package static func validate(_ value: JSONValue?, trimWhitespace: Bool) -> Result<String, FieldMessage> {
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

    package struct FieldMessage: Error, Equatable {
        package let text: String
        package init(_ text: String) { self.text = text }
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
