/// A JSON syntax error, worded like Python's `json` module (DRF shows that text).
public struct JSONParseError: Error, Equatable, Sendable {
    public let message: String
}
