/// Before a password is checked: the user, or how long failed logins lock the name.
package enum LoginPrecheck: Equatable, Sendable {
    case limited(wait: Int)
    case proceed(UserRecord?)
}
