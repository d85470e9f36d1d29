import DurinCore
package import DurinHTTP
import DurinStore

/// password/: a user changes their own password (OWASP ASVS 6.2.2, 6.2.3), and the
/// change a login must make when staff required one. Both run on a hasher.
extension API {
    /// `{old_password, new_password}` with the user's token. A wrong old password is
    /// a failed login: counted against the same limits before the hash is checked,
    /// answered 429 past them. The new one must pass the password policy. Then, in
    /// one step, the hash is written at the configured iterations and every other
    /// token of the user is revoked (`"revoke_others": false` keeps them).
    func changePassword(_ context: RequestContext, _ auth: TokenRecord) throws -> HTTPResponse {
        let data = try Self.fields(context.request)
        var errors: [APIError.FieldError] = []
        var old = ""
        var new = ""
        switch CharField.validate(data["old_password"], trimWhitespace: false) {
        case .success(let v): old = v
        case .failure(let m): errors.append(.init(field: "old_password", messages: [m.text]))
        }
        switch CharField.validate(data["new_password"], trimWhitespace: false) {
        case .success(let v): new = v
        case .failure(let m): errors.append(.init(field: "new_password", messages: [m.text]))
        }
        var revokeOthers = true
        switch Self.boolean(data["revoke_others"]) {
        case .success(let v): revokeOthers = v ?? true
        case .failure(let m): errors.append(.init(field: "revoke_others", messages: [m.text]))
        }
        if !errors.isEmpty { throw APIError.fieldErrors(errors) }

        let user = try confirmPassword(
            context, old, of: auth.user, field: "old_password",
            message: "Your old password was entered incorrectly. Please enter it again.")
        let revoked = try setNewPassword(context, new, for: user, keeping: auth.digest, revokeOthers: revokeOthers)
        context.logger.info("password changed", metadata: ["user": .string(user.username), "revoked": "\(revoked)"])
        return .json(200, ["detail": "Password changed.", "revoked": .number(String(revoked))])
    }

    /// The user's record once `password` is theirs: a wrong one is a failed login,
    /// counted against the same limits before the hash is checked (429 past them)
    /// and answered as a field error under `field`. On a hasher.
    func confirmPassword(
        _ context: RequestContext, _ password: String, of username: String, field: String, message: String
    ) throws -> UserRecord {
        let group = ClientAddress.group(context.request.remoteAddress)
        let precheck = try tokens.loginPrecheck(
            username: username, addressGroup: group, pairRate: config.loginFailureRate, userRate: config.loginFailureRatePerUser)
        guard case .proceed(let found) = precheck else {
            if case .limited(let wait) = precheck { throw APIError.throttled(waitSeconds: wait) }
            throw APIError.internalError
        }
        guard checkPassword(context, password, of: found), let user = found else {
            context.logger.info("refused: wrong password", metadata: ["user": .string(username), "route": .string(context.request.path)])
            try tokens.loginFailed(username: username)
            throw APIError.fieldErrors([.init(field: field, messages: [message])])
        }
        return user
    }

    /// A login whose password matched, for a user staff required to choose a new
    /// one: without `new_password` it is refused with a code the application acts
    /// on; with one that passes the policy, the password is changed (every token of
    /// the user revoked) and the login goes on.
    func changeRequiredPassword(_ context: RequestContext, _ attempt: LoginAttempt, _ user: UserRecord) throws {
        let new = try requireNewPassword(context, attempt, user)
        try setNewPassword(context, new, for: user, keeping: nil, revokeOthers: true)
        context.logger.info("password changed at login", metadata: ["user": .string(user.username)])
    }

    /// The login's `new_password`, once it passes the policy: else the code that asks
    /// for one, or the policy's field errors.
    @discardableResult
    func requireNewPassword(_ context: RequestContext, _ attempt: LoginAttempt, _ user: UserRecord) throws -> String {
        guard let new = attempt.newPassword else {
            context.logger.info("login stopped: a new password is required", metadata: ["user": .string(user.username)])
            throw APIError.passwordChangeRequired
        }
        try checkPolicy(new, for: user, field: "new_password")
        return new
    }

    /// Checks a new password against the policy (a field error per broken rule,
    /// named `new_password`), hashes it and stores it. Returns how many tokens went.
    @discardableResult
    func setNewPassword(
        _ context: RequestContext, _ password: String, for user: UserRecord, keeping digest: String?, revokeOthers: Bool
    ) throws -> Int {
        let hash = try newHash(password, for: user, field: "new_password")
        do {
            return try admin.changePassword(
                user.username, hash: hash, keeping: digest, revokeOthers: revokeOthers, event: "password_changed")
        } catch {
            // Removed meanwhile: the token of the request is no one's now.
            if case .notFound = error { throw APIError.invalidToken }
            throw error
        }
    }

    /// The policy's verdict on a new password: a field error per broken rule, under `field`.
    func checkPolicy(_ password: String, for user: UserRecord, field: String) throws(APIError) {
        let problems = config.passwordPolicy.problems(password, attributes: Self.policyAttributes(user))
        if !problems.isEmpty { throw .fieldErrors([.init(field: field, messages: problems)]) }
    }

    /// A new password's hash at DURIN_PASSWORD_ITERATIONS, once it passes the policy.
    func newHash(_ password: String, for user: UserRecord, field: String) throws(APIError) -> String {
        try checkPolicy(password, for: user, field: field)
        return PasswordHasher(iterations: config.passwordIterations).hash(password)
    }

    /// Staff set a user's password (the console): it passes the policy, and every
    /// token of the user but `keeping` is revoked. With `requireChange` the user must
    /// choose another at their next login. Returns how many tokens went. On a hasher.
    package func setPasswordByStaff(
        _ context: RequestContext, _ password: String, for name: String, keeping digest: String?, requireChange: Bool
    ) throws -> Int {
        guard let user = try admin.user(named: name) else { throw APIError.notFound }
        let hash = try newHash(password, for: user, field: "password")
        return try admin.changePassword(
            name, hash: hash, keeping: digest, revokeOthers: true, requireChange: requireChange, event: "password_set")
    }

    /// What the similarity rule compares a password with.
    static func policyAttributes(_ user: UserRecord) -> [String: String] {
        var attributes = user.profile
        attributes["username"] = user.username
        return attributes
    }

    /// DRF's BooleanField: JSON booleans, and the words a form sends. nil: absent.
    package static func boolean(_ value: JSONValue?) -> Result<Bool?, CharField.FieldMessage> {
        switch value {
        case nil, .null?: return .success(nil)
        case .bool(let b)?: return .success(b)
        case .number(let n)? where n == "1" || n == "0": return .success(n == "1")
        case .string(let s)?:
            switch s.lowercased() {
            case "true", "1", "yes", "on", "t", "y": return .success(true)
            case "false", "0", "no", "off", "f", "n": return .success(false)
            default: return .failure(CharField.FieldMessage("Must be a valid boolean."))
            }
        default: return .failure(CharField.FieldMessage("Must be a valid boolean."))
        }
    }
}
