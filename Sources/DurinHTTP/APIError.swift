/// Every way a request can fail, each mapped to durin's exact status and body in
/// `response(authSchemes:)`, the one place errors become HTTP.
package enum APIError: Error, Equatable, Sendable {
    // Authentication (401, with WWW-Authenticate).
    case notAuthenticated
    case invalidHeaderNoCredentials
    case invalidHeaderSpaces
    case invalidToken
    case tokenExpired
    case userInactive
    // Login.
    case fieldErrors([FieldError])
    case invalidCredentials
    case noClientSpecified
    case noClientWithName
    // Login steps beyond the password (never for a user or client without them:
    // durin's answers stay durin's). Each body carries a `code` to act on.
    /// The password matched, and the user must choose a new one (`new_password`).
    case passwordChangeRequired
    /// The password matched, and the client requires the user's second factor (`otp`).
    case otpRequired
    /// The password matched, and the code did not (or was used already).
    case otpInvalid
    /// The password matched, the client requires a second factor, and the user has none.
    case otpNotEnrolled
    // Request shape.
    case jsonParse(String)
    case multipartParse(String)
    case unsupportedMediaType(String)
    case bodyTooLarge(limit: Int)
    case methodNotAllowed(method: String, allowed: [String])
    case notFound
    /// durin's 404 for a session id that is not the caller's.
    case noSuchSession
    /// DRF's ValidationError with a plain message: 400 with a bare JSON list.
    case validation(String)
    // Authorization and limits.
    case permissionDenied
    /// A request without nginx's proxy key (DURIN_PROXY_KEY): not from nginx.
    case notFromProxy
    /// An auth_request check of a request that brought X-Durin-* headers of its own.
    case forgedIdentityHeaders
    case throttled(waitSeconds: Int)
    case busy
    // The operator console.
    /// A signed-in user who is not staff.
    case notStaff
    /// A state change from another origin (Origin, Sec-Fetch-Site).
    case crossOrigin
    /// The console was reached under a name that is not its own origin.
    case wrongConsoleHost
    /// More than one console session cookie came with a request.
    case conflictingSessionCookies
    /// More than one durin_session cookie came with a request (a browser session).
    case conflictingBrowserSessions
    /// A state change without the session's CSRF token.
    case csrfFailed
    // introspect/ and revoke/ (RFC 7662, RFC 7009), in OAuth's error form (RFC 6749 §5.2).
    /// No issuer key, or a wrong one: `invalid_client`.
    case invalidClient
    /// A request without the `token` (or `username`) parameter: `invalid_request`.
    case oauthInvalidRequest(String)
    // Infrastructure.
    case storeUnavailable
    case internalError

    package struct FieldError: Equatable, Sendable {
        package let field: String
        package let messages: [String]
        package init(field: String, messages: [String]) {
            self.field = field
            self.messages = messages
        }
    }
}

extension APIError {
    package var status: Int {
        switch self {
        case .notAuthenticated, .invalidHeaderNoCredentials, .invalidHeaderSpaces, .invalidToken, .tokenExpired, .userInactive,
            .invalidClient, .passwordChangeRequired, .otpRequired, .otpInvalid:
            return 401
        case .otpNotEnrolled: return 403
        case .oauthInvalidRequest: return 400
        case .fieldErrors, .invalidCredentials, .noClientSpecified, .noClientWithName, .jsonParse, .multipartParse, .validation,
            .forgedIdentityHeaders:
            return 400
        case .unsupportedMediaType: return 415
        case .bodyTooLarge: return 413
        case .methodNotAllowed: return 405
        case .notFound, .noSuchSession: return 404
        case .permissionDenied, .notFromProxy, .notStaff, .crossOrigin, .csrfFailed: return 403
        case .wrongConsoleHost: return 421
        case .conflictingSessionCookies, .conflictingBrowserSessions: return 400
        case .throttled: return 429
        case .busy, .storeUnavailable: return 503
        case .internalError: return 500
        }
    }

    /// One scheme's challenge. RFC 6750 §3: no error code when no credentials came;
    /// `invalid_request` for a malformed header; `invalid_token` for a token that is
    /// not (or no longer) valid.
    func challenge(_ scheme: String) -> String {
        guard scheme.lowercased() == "bearer" else { return scheme }
        let code: String
        switch self {
        case .notAuthenticated, .passwordChangeRequired, .otpRequired, .otpInvalid: return scheme
        case .invalidHeaderNoCredentials, .invalidHeaderSpaces: code = "invalid_request"
        default: code = "invalid_token"
        }
        // A quoted-string: durin's texts hold neither quote nor backslash, and never will here.
        let description = String((detail ?? "").filter { $0 != "\"" && $0 != "\\" })
        return "\(scheme) error=\"\(code)\", error_description=\"\(description)\""
    }

    /// The `detail` text, for errors that have one.
    package var detail: String? {
        switch self {
        case .notAuthenticated: return "Authentication credentials were not provided."
        case .invalidHeaderNoCredentials: return "Invalid token header. No credentials provided."
        case .invalidHeaderSpaces: return "Invalid token header. Token string should not contain spaces."
        case .invalidToken: return "Invalid token."
        case .tokenExpired: return "The given token has expired."
        case .userInactive: return "User inactive or deleted."
        case .fieldErrors, .invalidCredentials, .validation: return nil
        case .noClientSpecified: return "No client specified."
        case .noClientWithName: return "No client with that name."
        case .passwordChangeRequired: return "Your password must be changed: log in again with new_password."
        case .otpRequired: return "A one-time password is required: log in again with otp."
        case .otpInvalid: return "Invalid one-time password."
        case .otpNotEnrolled: return "This client requires a second factor, and none is enrolled for this user."
        case .jsonParse(let why): return "JSON parse error - \(why)"
        case .multipartParse(let why): return "Multipart form parse error - \(why)"
        case .unsupportedMediaType(let type): return "Unsupported media type \"\(type)\" in request."
        case .bodyTooLarge(let limit): return "Request body too large: the limit is \(limit) bytes."
        case .methodNotAllowed(let method, _): return "Method \"\(method)\" not allowed."
        case .notFound: return "Not found."
        case .noSuchSession: return "No AuthToken matches the given query."
        case .permissionDenied: return "You do not have permission to perform this action."
        case .notFromProxy: return "Request refused: it did not come through the proxy (its proxy key is missing or wrong)."
        case .forgedIdentityHeaders: return "X-Durin-* headers are set by durin, never by a client."
        case .throttled(let wait): return "Request was throttled. Expected available in \(wait) second\(wait == 1 ? "" : "s")."
        case .busy: return "Too many logins waiting. Try again shortly."
        case .notStaff: return "Only staff users may use the console."
        case .crossOrigin: return "Cross-origin request refused."
        case .wrongConsoleHost: return "The console answers only at its own address."
        case .conflictingSessionCookies:
            return "More than one console session cookie was sent: clear this site's cookies and sign in again."
        case .conflictingBrowserSessions:
            return "More than one durin_session cookie was sent: clear this site's cookies and sign in again."
        case .csrfFailed: return "CSRF Failed: CSRF token missing or incorrect."
        case .invalidClient: return "Client authentication failed."
        case .oauthInvalidRequest(let why): return why
        case .storeUnavailable: return "Token store unavailable."
        case .internalError: return "A server error occurred."
        }
    }

    /// What an application can act on, for the login steps beyond the password.
    package var code: String? {
        switch self {
        case .passwordChangeRequired: return "password_change_required"
        case .otpRequired: return "otp_required"
        case .otpInvalid: return "otp_invalid"
        case .otpNotEnrolled: return "otp_not_enrolled"
        default: return nil
        }
    }

    /// The response durin gives for this error, with one scheme (durin's).
    package func response(authPrefix: String) -> HTTPResponse { response(authSchemes: [authPrefix]) }

    /// The response durin gives for this error. A 401 challenges with every scheme the
    /// service accepts, one WWW-Authenticate header each: durin's bare keyword
    /// (`Token`), and for `Bearer` RFC 6750's form, which says what was wrong.
    package func response(authSchemes: [String]) -> HTTPResponse {
        var headers: [(String, String)] = []
        switch self {
        case .notAuthenticated, .invalidHeaderNoCredentials, .invalidHeaderSpaces, .invalidToken, .tokenExpired, .userInactive,
            .passwordChangeRequired, .otpRequired, .otpInvalid:
            for scheme in authSchemes { headers.append(("WWW-Authenticate", challenge(scheme))) }
        case .invalidClient:
            // The ways an issuer may present its key (IssuerCredentials).
            headers.append(("WWW-Authenticate", "Issuer"))
            headers.append(("WWW-Authenticate", "Basic realm=\"durin\""))
        case .methodNotAllowed(_, let allowed):
            headers.append(("Allow", allowed.joined(separator: ", ")))
        case .throttled(let wait):
            headers.append(("Retry-After", String(wait)))
        case .busy, .storeUnavailable:
            headers.append(("Retry-After", "1"))
        default: break
        }
        let body: JSONValue
        switch self {
        case .fieldErrors(let errors):
            body = .object(errors.map { ($0.field, .array($0.messages.map { .string($0) })) })
        case .invalidCredentials:
            body = ["non_field_errors": ["Unable to log in with provided credentials."]]
        case .validation(let message):
            body = [.string(message)]
        case .invalidClient:
            body = ["error": "invalid_client"]
        case .oauthInvalidRequest(let description):
            body = ["error": "invalid_request", "error_description": .string(description)]
        default:
            body = code.map { ["detail": .string(detail ?? ""), "code": .string($0)] } ?? ["detail": .string(detail ?? "")]
        }
        return .json(status, body, headers: headers)
    }
}
