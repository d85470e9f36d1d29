package import DurinCore

package struct IssuedToken: Sendable, Equatable {
    package enum Outcome: String, Sendable { case created, existing, renewed }
    package var token: Token
    package var record: TokenRecord
    package var outcome: Outcome
    /// The session id of a token this login revoked (rotation), if any.
    package var replacedID: Int64?
}
