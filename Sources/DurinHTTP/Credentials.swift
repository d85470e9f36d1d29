/// What the `Authorization` header says, parsed exactly as durin's
/// `TokenAuthentication.authenticate` does (on bytes, split on ASCII white space).
package enum Credentials: Equatable, Sendable {
    /// No header, or another scheme (`Bearer ...`): the request is anonymous.
    case none
    case token(String)
}
