import Codecs
import DurinCore
import DurinHTTP
import DurinStore

/// A second factor at login (TOTP, RFC 6238), and totp/, where a signed-in user
/// enrols one by confirming its first code.
///
/// A client marked `--require-otp` asks a user who has one for the code (`otp`):
/// without it the login is 401 `otp_required`, with a wrong one (or one used
/// already) 401 `otp_invalid`, counted against the login limits like a wrong
/// password. A user without one cannot log in to such a client (403
/// `otp_not_enrolled`): the client's operator asked for two factors, and a password
/// alone is one. The console asks every staff user who has one. Users and clients
/// without a second factor get durin's answers, unchanged.
extension API {
    /// Between the password and the token: the code, where `factor` asks for it.
    func checkSecondFactor(_ context: RequestContext, _ attempt: LoginAttempt, _ user: UserRecord, _ factor: RouteSpec.SecondFactor)
        throws
    {
        switch factor {
        case .whenEnrolled:
            guard user.hasTOTP else { return }
        case .whenTheClientRequires:
            // durin's own errors for the client first, in durin's order (after the credentials).
            let client = try Self.clientName(attempt.client)
            guard try admin.client(named: client)?.requireOTP == true else { return }
            guard user.hasTOTP else {
                context.logger.notice(
                    "login refused: the client requires a second factor and the user has none",
                    metadata: ["user": .string(user.username), "client": .string(client)])
                throw APIError.otpNotEnrolled
            }
        }
        guard let sent = attempt.otp, sent != .null else { throw APIError.otpRequired }
        guard try checkCode(context, sent, of: user.username) else {
            context.logger.info("login failed: wrong one-time password", metadata: ["user": .string(user.username)])
            try tokens.loginFailed(username: user.username)
            throw APIError.otpInvalid
        }
    }

    /// Whether `sent` is the user's current code, not used before (it is used now).
    func checkCode(_ context: RequestContext, _ sent: JSONValue, of user: String) throws -> Bool {
        guard let code = Self.codeText(sent), let secret = try tokens.secondFactor(of: user).secret,
            let step = TOTP.matchingStep(code, secret: secret, at: context.now)
        else { return false }
        return try tokens.useTOTPStep(user: user, step: step)
    }

    /// A code as sent: six digits, as a string or a number (an app may send either;
    /// a number loses its leading zeros, which are put back).
    static func codeText(_ value: JSONValue) -> String? {
        switch value {
        case .string(let s): return s.trimmingCharacters(in: .whitespaces)
        case .number(let n) where n.utf8.count <= TOTP.digits && n.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }):
            return String(repeating: "0", count: TOTP.digits - n.utf8.count) + n
        default: return nil
        }
    }

    /// totp/: GET says whether the user has a second factor. POST with the user's
    /// `password` and no `code` starts an enrolment: a new secret, kept pending,
    /// shown this once as the `otpauth://` URI and in base32. POST with `code`
    /// confirms it. A wrong password or code is a failed login, counted and limited
    /// as one. So a copied token alone can neither choose a user's second factor
    /// (and lock them out of the clients that require one) nor replace one: a
    /// user who has one must have it removed by an operator first. A POST runs on a
    /// hasher; a GET on the worker.
    func secondFactorRoute(_ context: RequestContext, _ auth: TokenRecord) throws -> HTTPResponse {
        guard let user = try admin.user(named: auth.user) else { throw APIError.invalidToken }
        if context.request.method.uppercased() != "POST" { return .json(200, ["enrolled": .bool(user.hasTOTP)]) }
        let body = try Self.fields(context.request)
        if user.hasTOTP { throw APIError.validation("A second factor is enrolled already: an operator can remove it.") }
        guard let sent = body["code"], sent != .null else {
            switch CharField.validate(body["password"], trimWhitespace: false) {
            case .success(let password):
                _ = try confirmPassword(context, password, of: auth.user, field: "password", message: "Wrong password.")
            case .failure(let m): throw APIError.fieldErrors([.init(field: "password", messages: [m.text])])
            }
            let secret = TOTP.generateSecret()
            guard try tokens.enrollSecondFactor(user: auth.user, secret: secret, pending: true) else { throw APIError.invalidToken }
            context.logger.info("second factor enrolment started", metadata: ["user": .string(auth.user)])
            return .json(
                200,
                [
                    "enrolled": false, "secret": .string(Base32.encode(secret)),
                    "otpauth_url": .string(TOTP.uri(secret: secret, account: auth.user, issuer: config.otpIssuer)),
                ], headers: [("Cache-Control", "no-store")])
        }
        let precheck = try tokens.loginPrecheck(
            username: auth.user, addressGroup: ClientAddress.group(context.request.remoteAddress),
            pairRate: config.loginFailureRate, userRate: config.loginFailureRatePerUser)
        if case .limited(let wait) = precheck { throw APIError.throttled(waitSeconds: wait) }
        guard let pending = try tokens.secondFactor(of: auth.user).pending else {
            throw APIError.validation("No enrolment was started: POST without a code first.")
        }
        guard let code = Self.codeText(sent), let step = TOTP.matchingStep(code, secret: pending, at: context.now),
            try tokens.confirmSecondFactor(user: auth.user, secret: pending, step: step)
        else {
            try tokens.loginFailed(username: auth.user)
            throw APIError.fieldErrors([.init(field: "code", messages: ["Invalid one-time password."])])
        }
        context.logger.info("second factor enrolled", metadata: ["user": .string(auth.user)])
        return .json(200, ["enrolled": true])
    }
}
