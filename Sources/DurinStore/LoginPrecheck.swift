/// Before a password is checked: the user, or how long failed logins lock the name.
public enum LoginPrecheck: Equatable, Sendable {
    case limited(wait: Int)
    case proceed(UserRecord?)
}
