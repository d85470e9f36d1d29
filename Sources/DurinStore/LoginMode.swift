/// How login treats a live token of the same (user, client).
package enum LoginMode: String, Sendable {
    /// durin's default: hand back the same token and expiry.
    case keep
    /// DURIN_REFRESH_TOKEN_ON_LOGIN: same token, fresh expiry.
    case refresh
    /// DURIN_ROTATE_TOKEN_ON_LOGIN: a new token; the old one is revoked.
    case rotate
    /// Only create: fail when the pair already has a token (the API-access token).
    case new
}
