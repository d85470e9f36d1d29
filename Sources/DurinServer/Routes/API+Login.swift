package import DurinCore
package import DurinHTTP
import DurinStore

/// A login between its two halves: admitted on a worker (the per-address limit,
/// which needs no parsing), then parsed, validated and checked on a hasher thread
/// at the lowest CPU priority, so that neither a hostile body nor a password hash
/// ever holds a worker that verification needs. Its route says what a match does
/// (a token for login/, a cookie for the console's sign-in).
package struct LoginJob: Sendable {
    package let context: RequestContext
    /// Where it came from, as the login limits count it (`ClientAddress.group`).
    let addressGroup: String
    /// Who the worker found the request to come from, for a route that is not a
    /// login (password/: the token's; users/: the issuer's).
    var caller: Caller = .anonymous
    /// When the worker handed it on: past DURIN_LOGIN_DEADLINE it is not processed.
    let queuedAt = ContinuousClock.now
    package var request: HTTPRequest { context.request }

    enum Caller: Sendable {
        case anonymous
        case token(TokenRecord)
        case issuer(IssuerRecord)
    }
}

/// A login's validated fields and the user they name.
package struct LoginAttempt: Sendable {
    package let username: String
    let password: String
    /// The new password of a user who must choose one (`new_password`).
    let newPassword: String?
    /// The second factor's code (`otp`), as sent.
    let otp: JSONValue?
    /// nil for an unknown user: the decoy hash is checked instead.
    let user: UserRecord?
    package let client: JSONValue?
    package let addressGroup: String
    /// Where it came from, kept with the token it gets.
    package let details: SessionDetails
}

/// login/ (durin's LoginView) and issue/ (trusted issuance without a password).
extension API {
    var loginMode: LoginMode { config.rotateTokenOnLogin ? .rotate : (config.refreshTokenOnLogin ? .refresh : .keep) }

    /// The worker's half of login: the per-address limit (one Redis round trip), so a
    /// flood from one address is refused before it queues for a hasher.
    /// An address nginx did not give (none, or not an address) still counts, in one
    /// shared group: nothing a request sends skips the limit.
    func admitLogin(_ context: RequestContext, caller: LoginJob.Caller = .anonymous) throws -> LoginJob {
        let group = ClientAddress.group(context.request.remoteAddress)
        if let rate = config.loginRatePerAddress {
            if let wait = try tokens.loginAddressCheck(addressGroup: group, rate: rate) {
                context.logger.notice("login refused: too many attempts from one address", metadata: ["address": .string(group)])
                throw APIError.throttled(waitSeconds: wait)
            }
        }
        return LoginJob(context: context, addressGroup: group, caller: caller)
    }

    /// On the hasher: DRF's field validation, then the per-username limit and the
    /// user record (one Redis round trip).
    func prepareLogin(_ job: LoginJob) throws -> LoginAttempt {
        let data = try Self.fields(job.request)
        // DRF's AuthTokenSerializer: field errors first, then the credentials.
        var errors: [APIError.FieldError] = []
        var username = ""
        var password = ""
        switch CharField.validate(data["username"], trimWhitespace: true) {
        case .success(let v): username = v
        case .failure(let m): errors.append(.init(field: "username", messages: [m.text]))
        }
        switch CharField.validate(data["password"], trimWhitespace: false) {
        case .success(let v): password = v
        case .failure(let m): errors.append(.init(field: "password", messages: [m.text]))
        }
        var label: String?
        switch Self.label(data["label"]) {
        case .success(let v): label = v
        case .failure(let m): errors.append(.init(field: "label", messages: [m.text]))
        }
        // Only for a user who must change their password; absent, nothing changes.
        var newPassword: String?
        if let sent = data["new_password"] {
            switch CharField.validate(sent, trimWhitespace: false) {
            case .success(let v): newPassword = v
            case .failure(let m): errors.append(.init(field: "new_password", messages: [m.text]))
            }
        }
        if !errors.isEmpty { throw APIError.fieldErrors(errors) }
        // A name that cannot exist reveals nothing by failing fast, and costs nothing.
        guard Names.isValidUsername(username) else { throw APIError.invalidCredentials }
        let precheck = try tokens.loginPrecheck(
            username: username, addressGroup: job.addressGroup, pairRate: config.loginFailureRate,
            userRate: config.loginFailureRatePerUser)
        switch precheck {
        case .limited(let wait):
            job.context.logger.notice(
                "login refused: too many attempts",
                metadata: ["user": .string(username), "address": .string(job.addressGroup)])
            throw APIError.throttled(waitSeconds: wait)
        case .proceed(let user):
            return LoginAttempt(
                username: username, password: password, newPassword: newPassword, otp: data["otp"], user: user, client: data["client"],
                addressGroup: job.addressGroup,
                details: SessionDetails(address: job.request.remoteAddress, userAgent: job.request.userAgent, label: label))
        }
    }

    /// The hasher's half: parse and prechecks (`prepareLogin`), then Django's
    /// ModelBackend checks the password first, then `is_active`; every failure gives
    /// the same answer, and unknown users cost the same hash. Then the route's
    /// completion (login/: durin checks the client and issues the token). The
    /// answer is finished (the group's headers) and counted here.
    package func completeLogin(_ job: LoginJob) -> HTTPResponse {
        let context = job.context
        traceEvents(of: context)
        let response: HTTPResponse
        do {
            response = try checkLogin(job)
        } catch {
            response = answer(for: error, context)
        }
        let finished = finish(response, context)
        count(finished, context)
        return finished
    }

    private func checkLogin(_ job: LoginJob) throws -> HTTPResponse {
        let context = job.context
        // nginx stops waiting at fastcgi_read_timeout; work after that is wasted.
        if ContinuousClock.now - job.queuedAt > .seconds(config.loginDeadlineSeconds) {
            context.logger.notice("login not checked: it waited past DURIN_LOGIN_DEADLINE")
            throw APIError.busy
        }
        switch (context.route?.spec.action, job.caller) {
        case (.login(let factor, let completion)?, .anonymous): return try checkLogin(job, factor, completion)
        case (.hashedWithToken(let handler)?, .token(let auth)): return try handler(self, context, auth)
        case (.hashedForIssuer(_, let handler)?, .issuer(let issuer)): return try handler(self, context, issuer)
        case (.onHasher(let handler)?, .anonymous): return try handler(self, context)
        default: throw APIError.internalError
        }
    }

    private func checkLogin(
        _ job: LoginJob, _ factor: RouteSpec.SecondFactor, _ completion: RouteSpec.LoginCompletion
    ) throws -> HTTPResponse {
        let context = job.context
        let attempt = try prepareLogin(job)
        let started = slot != nil ? ContinuousClock.now : nil
        let matches = checkPassword(context, attempt.password, of: attempt.user)
        if let started { slot?.hashTime.observe(nanos: (ContinuousClock.now - started).nanoseconds) }
        guard matches, var user = attempt.user, user.isActive else {
            context.logger.info("login failed", metadata: ["user": .string(attempt.username)])
            try tokens.loginFailed(username: attempt.username)
            throw APIError.invalidCredentials
        }
        // A required new password is asked for, and checked against the policy,
        // before the second factor: a code is good once, and one spent on a login
        // that then stops would make the user wait for the next.
        if user.mustChangePassword { try requireNewPassword(context, attempt, user) }
        try checkSecondFactor(context, attempt, user, factor)
        if user.mustChangePassword {
            try changeRequiredPassword(context, attempt, user)
            user.mustChangePassword = false
        } else {
            upgradeHashIfNeeded(context, user, password: attempt.password)
        }
        return try completion(self, context, attempt, user)
    }

    /// The password check, costing the same whatever the user: an unknown user, an
    /// unusable or unsupported hash all check the decoy (and fail), and a stored hash
    /// cheaper than the configured count also spends the difference (Django's
    /// `harden_runtime`), so response time tells nothing about the account.
    /// A stored hash above DURIN_PASSWORD_ITERATIONS_MAX is not computed at all (one
    /// at 10^8 iterations would cost a hundred normal checks): the decoy is checked
    /// instead, and the login fails like any other.
    func checkPassword(_ context: RequestContext, _ password: String, of user: UserRecord?) -> Bool {
        let stored = user?.passwordHash ?? ""
        guard let iterations = PasswordHasher.iterations(of: stored), iterations <= config.passwordIterationsMax else {
            if let user, let n = PasswordHasher.iterations(of: stored) {
                context.logger.warning(
                    "stored password hash above DURIN_PASSWORD_ITERATIONS_MAX: not checked; set a new password",
                    metadata: ["user": .string(user.username), "iterations": "\(n)"])
            }
            _ = PasswordHasher.verify(password, against: settings.decoyHash)
            return false
        }
        let matches = PasswordHasher.verify(password, against: stored)
        if iterations < config.passwordIterations {
            PasswordHasher.spend(iterations: config.passwordIterations - iterations)
        }
        return matches
    }

    /// Django's `must_update`: after a successful login, a hash at another iteration
    /// count (an imported one, or one made before DURIN_PASSWORD_ITERATIONS changed) is
    /// replaced by one at the configured count. A failure here only logs.
    func upgradeHashIfNeeded(_ context: RequestContext, _ user: UserRecord, password: String) {
        let old = user.passwordHash
        guard let n = PasswordHasher.iterations(of: old), n != config.passwordIterations else { return }
        let new = PasswordHasher(iterations: config.passwordIterations).hash(password)
        do {
            try tokens.upgradePasswordHash(user: user.username, from: old, to: new)
        } catch {
            context.logger.warning(
                "could not upgrade a password hash", metadata: ["user": .string(user.username), "error": .string(error.description)])
        }
    }

    /// For applications that authenticate users themselves: the token of
    /// {username, client} without a password, only where nginx sets DURIN_TRUSTED and
    /// only for a caller with an issuer key (`Authorization: Issuer <key>`, made by
    /// `durinctl issuer add`) that may issue for that client. Position alone (the
    /// location, the FastCGI socket) is not trusted.
    func issue(_ context: RequestContext) throws -> HTTPResponse {
        let request = context.request
        guard case .token(let key) = try AuthorizationHeader.parse(request.authorization, prefix: "Issuer") else {
            throw APIError.notAuthenticated
        }
        guard let issuer = try tokens.issuer(key: key) else {
            context.logger.notice("issue/ refused: unknown issuer key")
            throw APIError.invalidToken
        }
        try require(.issue, of: issuer, context)
        let data = try Self.fields(request)
        let username: String
        switch CharField.validate(data["username"], trimWhitespace: true) {
        case .success(let v): username = v
        case .failure(let m): throw APIError.fieldErrors([.init(field: "username", messages: [m.text])])
        }
        let label: String?
        switch Self.label(data["label"]) {
        case .success(let v): label = v
        case .failure(let m): throw APIError.fieldErrors([.init(field: "label", messages: [m.text])])
        }
        guard Names.isValidUsername(username),
            let user = try admin.user(named: username), user.isActive
        else {
            throw APIError.invalidCredentials
        }
        let client = try Self.clientName(data["client"])
        guard issuer.mayIssue(for: client) else {
            context.logger.notice(
                "issue/ refused: client not allowed for this issuer",
                metadata: ["issuer": .string(issuer.name), "client": .string(client)])
            throw APIError.permissionDenied
        }
        return try issueToken(
            context, for: user, client: client, event: "token_issued", issuer: issuer.name,
            details: SessionDetails(address: request.remoteAddress, userAgent: request.userAgent, label: label))
    }

    /// Issues (or returns) the pair's token. `browserLogin` (login/): at a location
    /// with `$durin_cookie on`, a cookie client's token goes in the session cookie,
    /// and the body carries only its expiry.
    func issueToken(
        _ context: RequestContext, for user: UserRecord, client: String, event: String, issuer: String? = nil,
        clearingFailuresFrom addressGroup: String? = nil, details: SessionDetails, browserLogin: Bool = false
    ) throws -> HTTPResponse {
        var browser: HTTPRequest.BrowserContext?
        if browserLogin, context.request.directives.cookie, let sent = context.request.browser,
            try admin.client(named: client)?.cookie == true
        {
            // A page of another site posting a login would sign the browser in as
            // whoever's password it sent: the console's rule for its sign-in.
            guard BrowserSession.provesAllowedOrigin(sent, allowed: config.cookieOrigins) else {
                context.logger.notice("login refused: a cookie login from another origin", metadata: ["user": .string(user.username)])
                throw APIError.crossOrigin
            }
            browser = sent
        }
        let mode = loginMode
        let outcome = try tokens.login(
            user: user.username, client: client, mode: mode, event: event, issuer: issuer,
            clearingFailuresFrom: addressGroup, details: details, now: context.now)
        switch outcome {
        case .failure(.noClient): throw APIError.noClientWithName
        case .failure(.userInactive), .failure(.alreadyExists): throw APIError.invalidCredentials
        case .success(let issued):
            if issued.outcome != .existing { context.slot?.tokenIssued(client: client) }
            context.logger.info(
                "\(event)",
                metadata: [
                    "user": .string(user.username), "client": .string(client),
                    "session": "\(issued.record.id)", "token": .string(issued.outcome.rawValue),
                    "issuer": .string(issuer ?? ""),
                ])
            var body: [(String, JSONValue)] = [("expiry", expiryJSON(issued.record.expiry))]
            var headers: [(String, String)] = []
            if let browser {
                let cookie = BrowserSession.setCookie(issued.token.value, maxAge: secondsLeft(issued.record.expiry, context), browser)
                headers.append(("Set-Cookie", cookie))
            } else {
                body.append(("token", .string(issued.token.value)))
            }
            if !config.userFields.isEmpty { body.append(("user", userJSON(user))) }
            return .json(200, .object(body), headers: headers)
        }
    }

    /// The optional `label` of a login or issuance: the user's own name for the
    /// device, shown with the session. Absent, null or blank: none. Otherwise a
    /// CharField (trimmed) of at most `SessionDetails.labelLimit` characters, none of
    /// them a control character.
    static func label(_ value: JSONValue?) -> Result<String?, CharField.FieldMessage> {
        switch value {
        case nil, .null?: return .success(nil)
        case .string(let s)? where s.unicodeScalars.allSatisfy({ $0.properties.isWhitespace }): return .success(nil)
        default: break
        }
        switch CharField.validate(value, trimWhitespace: true) {
        case .failure(let m): return .failure(m)
        case .success(let text):
            if let problem = SessionDetails.labelProblem(text) { return .failure(CharField.FieldMessage(problem)) }
            return .success(text)
        }
    }

    /// durin's `get_client_obj`: a falsy value is "not specified"; anything else is
    /// looked up by name.
    package static func clientName(_ value: JSONValue?) throws(APIError) -> String {
        switch value {
        case nil, .null?, .bool(false)?: throw .noClientSpecified
        case .string(let s)?:
            if s.isEmpty { throw .noClientSpecified }
            guard Names.isValidClientName(s) else { throw .noClientWithName }
            return s
        case .number(let n)?:
            if Double(n) == 0 { throw .noClientSpecified }
            guard Names.isValidClientName(n) else { throw .noClientWithName }
            return n
        case .array(let a)?:
            if a.isEmpty { throw .noClientSpecified }
            throw .noClientWithName
        case .object(let o)?:
            if o.isEmpty { throw .noClientSpecified }
            throw .noClientWithName
        case .bool(true)?: throw .noClientWithName
        }
    }

    func userJSON(_ user: UserRecord) -> JSONValue {
        .object(
            config.userFields.map { field -> (String, JSONValue) in
                switch field {
                case "username": return (field, .string(user.username))
                case "is_active": return (field, .bool(user.isActive))
                default: return (field, user.profile[field].map { .string($0) } ?? .null)
                }
            })
    }
}
