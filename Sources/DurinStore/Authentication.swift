/// What the token check found.
package enum Authentication: Equatable, Sendable {
    case valid(TokenRecord)
    /// Expired within the grace period; reported once, then the token is unknown.
    case expired
    case userInactive
    case invalid
    /// Refused by the location's allow/deny client lists.
    case denied(user: String, client: String)
    /// Over the (user, client) throttle rate; retry after `wait` seconds.
    case throttled(wait: Int, user: String, client: String)
}
