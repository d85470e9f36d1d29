/// A JSON syntax error, worded like Python's `json` module (DRF shows that text).
package struct JSONParseError: Error, Equatable, Sendable {
    package let message: String
}
