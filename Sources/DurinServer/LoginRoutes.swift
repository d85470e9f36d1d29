import DurinCore
import DurinHTTP
import DurinStore

/// A login between its two halves: admitted on a worker (the per-address limit,
/// which needs no parsing), then parsed, validated and checked on a hasher thread
/// at the lowest CPU priority, so that neither a hostile body nor a password hash
/// ever holds a worker that verification needs.
public struct LoginJob: Sendable {
    let request: HTTPRequest
    /// Where it came from, as the login limits count it (`ClientAddress.group`).
    let addressGroup: String
    /// When the worker handed it on: past DURIN_LOGIN_DEADLINE it is not processed.
    let queuedAt = ContinuousClock.now
    /// A sign-in to the operator console: a staff user's, answered with a cookie.
    var forConsole = false
}

/// A login's validated fields and the user they name.
struct LoginAttempt {
    let username: String
    let password: String
    /// nil for an unknown user: the decoy hash is checked instead.
    let user: UserRecord?
    let client: JSONValue?
    let addressGroup: String
    /// Where it came from, kept with the token it gets.
    let details: SessionDetails
}

/// login/ (durin's LoginView) and issue/ (trusted issuance without a password).
extension API {
    var loginMode: LoginMode { config.rotateTokenOnLogin ? .rotate : (config.refreshTokenOnLogin ? .refresh : .keep) }

    /// The worker's half of login: the per-address limit (one Redis round trip), so a
    /// flood from one address is refused before it queues for a hasher.
    /// An address nginx did not give (none, or not an address) still counts, in one
    /// shared group: nothing a request sends skips the limit.
    func admitLogin(_ request: HTTPRequest, forConsole: Bool = false) throws(APIError) -> LoginJob {
        let group = ClientAddress.group(request.remoteAddress)
        if let rate = config.loginRatePerAddress {
            if let wait = try store({ () throws(StoreError) in try tokens.loginAddressCheck(addressGroup: group, rate: rate) }) {
                logger.notice("login refused: too many attempts from one address", metadata: ["address": .string(group)])
                throw .throttled(waitSeconds: wait)
            }
        }
        var job = LoginJob(request: request, addressGroup: group)
        job.forConsole = forConsole
        return job
    }

    /// On the hasher: DRF's field validation, then the per-username limit and the
    /// user record (one Redis round trip).
    func prepareLogin(_ job: LoginJob) throws(APIError) -> LoginAttempt {
        let data = try Self.fields(job.request)
        // DRF's AuthTokenSerializer: field errors first, then the credentials.
        var errors: [APIError.FieldError] = []
        var username = "", password = ""
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
        if !errors.isEmpty { throw .fieldErrors(errors) }
        // A name that cannot exist reveals nothing by failing fast, and costs nothing.
        guard Names.isValidUsername(username) else { throw .invalidCredentials }
        let precheck = try store { () throws(StoreError) in
            try tokens.loginPrecheck(username: username, addressGroup: job.addressGroup, pairRate: config.loginFailureRate,
                                     userRate: config.loginFailureRatePerUser)
        }
        switch precheck {
        case .limited(let wait):
            logger.notice("login refused: too many attempts", metadata: ["user": .string(username), "address": .string(job.addressGroup)])
            throw .throttled(waitSeconds: wait)
        case .proceed(let user):
            return LoginAttempt(username: username, password: password, user: user, client: data["client"], addressGroup: job.addressGroup,
                                details: SessionDetails(address: job.request.remoteAddress, userAgent: job.request.userAgent, label: label))
        }
    }

    /// The hasher's half: parse and prechecks (`prepareLogin`), then Django's
    /// ModelBackend checks the password first, then `is_active`; every failure gives
    /// the same answer, and unknown users cost the same hash. Then durin checks the client.
    public func completeLogin(_ job: LoginJob) -> HTTPResponse {
        do throws(APIError) {
            // nginx stops waiting at fastcgi_read_timeout; work after that is wasted.
            if ContinuousClock.now - job.queuedAt > .seconds(config.loginDeadlineSeconds) {
                logger.notice("login not checked: it waited past DURIN_LOGIN_DEADLINE")
                throw .busy
            }
            let attempt = try prepareLogin(job)
            let started = slot != nil ? ContinuousClock.now : nil
            let matches = checkPassword(attempt)
            if let started { slot?.hashTime.observe(nanos: (ContinuousClock.now - started).nanoseconds) }
            guard matches, let user = attempt.user, user.isActive else {
                logger.info("login failed", metadata: ["user": .string(attempt.username)])
                try store { () throws(StoreError) in try tokens.loginFailed(username: attempt.username) }
                throw .invalidCredentials
            }
            upgradeHashIfNeeded(user, password: attempt.password)
            if job.forConsole { return try consoleSignIn(user, job: job, details: attempt.details) }
            return try issueToken(for: user, client: try Self.clientName(attempt.client), event: "login",
                                  clearingFailuresFrom: attempt.addressGroup, details: attempt.details)
        } catch {
            let response = error.response(authSchemes: config.authSchemes)
            return job.forConsole ? Self.secured(response) : response
        }
    }

    /// The password check, costing the same whatever the user: an unknown user, an
    /// unusable or unsupported hash all check the decoy (and fail), and a stored hash
    /// cheaper than the configured count also spends the difference (Django's
    /// `harden_runtime`), so response time tells nothing about the account.
    /// A stored hash above DURIN_PASSWORD_ITERATIONS_MAX is not computed at all (one
    /// at 10^8 iterations would cost a hundred normal checks): the decoy is checked
    /// instead, and the login fails like any other.
    func checkPassword(_ attempt: LoginAttempt) -> Bool {
        let stored = attempt.user?.passwordHash ?? ""
        guard let iterations = PasswordHasher.iterations(of: stored), iterations <= config.passwordIterationsMax else {
            if let user = attempt.user, let n = PasswordHasher.iterations(of: stored) {
                logger.warning("stored password hash above DURIN_PASSWORD_ITERATIONS_MAX: not checked; set a new password",
                               metadata: ["user": .string(user.username), "iterations": "\(n)"])
            }
            _ = PasswordHasher.verify(attempt.password, against: settings.decoyHash)
            return false
        }
        let matches = PasswordHasher.verify(attempt.password, against: stored)
        if iterations < config.passwordIterations {
            PasswordHasher.spend(iterations: config.passwordIterations - iterations)
        }
        return matches
    }

    /// Django's `must_update`: after a successful login, a hash at another iteration
    /// count (an imported one, or one made before DURIN_PASSWORD_ITERATIONS changed) is
    /// replaced by one at the configured count. A failure here only logs.
    func upgradeHashIfNeeded(_ user: UserRecord, password: String) {
        let old = user.passwordHash
        guard let n = PasswordHasher.iterations(of: old), n != config.passwordIterations else { return }
        let new = PasswordHasher(iterations: config.passwordIterations).hash(password)
        do {
            try tokens.upgradePasswordHash(user: user.username, from: old, to: new)
        } catch {
            logger.warning("could not upgrade a password hash", metadata: ["user": .string(user.username), "error": .string(error.description)])
        }
    }

    /// For applications that authenticate users themselves: the token of
    /// {username, client} without a password, only where nginx sets DURIN_TRUSTED and
    /// only for a caller with an issuer key (`Authorization: Issuer <key>`, made by
    /// `durinctl issuer add`) that may issue for that client. Position alone (the
    /// location, the FastCGI socket) is not trusted.
    func issue(_ request: HTTPRequest) throws(APIError) -> HTTPResponse {
        guard case .token(let key) = try AuthorizationHeader.parse(request.authorization, prefix: "Issuer") else {
            throw .notAuthenticated
        }
        guard let issuer = try store({ () throws(StoreError) in try tokens.issuer(key: key) }) else {
            logger.notice("issue/ refused: unknown issuer key")
            throw .invalidToken
        }
        let data = try Self.fields(request)
        let username: String
        switch CharField.validate(data["username"], trimWhitespace: true) {
        case .success(let v): username = v
        case .failure(let m): throw .fieldErrors([.init(field: "username", messages: [m.text])])
        }
        let label: String?
        switch Self.label(data["label"]) {
        case .success(let v): label = v
        case .failure(let m): throw .fieldErrors([.init(field: "label", messages: [m.text])])
        }
        guard Names.isValidUsername(username),
              let user = try store({ () throws(StoreError) in try admin.user(named: username) }), user.isActive else {
            throw .invalidCredentials
        }
        let client = try Self.clientName(data["client"])
        guard issuer.mayIssue(for: client) else {
            logger.notice("issue/ refused: client not allowed for this issuer", metadata: ["issuer": .string(issuer.name), "client": .string(client)])
            throw .permissionDenied
        }
        return try issueToken(for: user, client: client, event: "token_issued", issuer: issuer.name,
                              details: SessionDetails(address: request.remoteAddress, userAgent: request.userAgent, label: label))
    }

    private func issueToken(for user: UserRecord, client: String, event: String, issuer: String? = nil,
                            clearingFailuresFrom addressGroup: String? = nil, details: SessionDetails) throws(APIError) -> HTTPResponse {
        let mode = loginMode
        let outcome = try store { () throws(StoreError) in
            try tokens.login(user: user.username, client: client, mode: mode, event: event, issuer: issuer,
                             clearingFailuresFrom: addressGroup, details: details)
        }
        switch outcome {
        case .failure(.noClient): throw .noClientWithName
        case .failure(.userInactive), .failure(.alreadyExists): throw .invalidCredentials
        case .success(let issued):
            if issued.outcome != .existing { slot?.tokenIssued(client: client) }
            logger.info("\(event)", metadata: ["user": .string(user.username), "client": .string(client),
                                               "session": "\(issued.record.id)", "token": .string(issued.outcome.rawValue),
                                               "issuer": .string(issuer ?? "")])
            var body: [(String, JSONValue)] = [("expiry", expiryJSON(issued.record.expiry)), ("token", .string(issued.token.value))]
            if !config.userFields.isEmpty { body.append(("user", userJSON(user))) }
            return .json(200, .object(body))
        }
    }

    /// The body as named fields; a JSON value that is not an object is DRF's error.
    static func fields(_ request: HTTPRequest) throws(APIError) -> RequestData {
        let data = try RequestData.decode(contentType: request.contentType, body: request.body)
        if case .notAnObject(let type) = data {
            throw .fieldErrors([.init(field: "non_field_errors", messages: ["Invalid data. Expected a dictionary, but got \(type)."])])
        }
        return data
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
    static func clientName(_ value: JSONValue?) throws(APIError) -> String {
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
        case .array(let a)?: if a.isEmpty { throw .noClientSpecified }; throw .noClientWithName
        case .object(let o)?: if o.isEmpty { throw .noClientSpecified }; throw .noClientWithName
        case .bool(true)?: throw .noClientWithName
        }
    }

    func userJSON(_ user: UserRecord) -> JSONValue {
        .object(config.userFields.map { field -> (String, JSONValue) in
            switch field {
            case "username": return (field, .string(user.username))
            case "is_active": return (field, .bool(user.isActive))
            default: return (field, user.profile[field].map { .string($0) } ?? .null)
            }
        })
    }
}
