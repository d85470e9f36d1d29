import DurinCore

public struct IssuedToken: Sendable, Equatable {
    public enum Outcome: String, Sendable { case created, existing, renewed }
    public var token: Token
    public var record: TokenRecord
    public var outcome: Outcome
    /// The session id of a token this login revoked (rotation), if any.
    public var replacedID: Int64?
}
