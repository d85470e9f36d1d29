import DurinCore
import DurinStore

/// login/ (durin's LoginView) and issue/ (trusted issuance without a password).
extension API {
    var loginMode: LoginMode { config.rotateTokenOnLogin ? .rotate : (config.refreshTokenOnLogin ? .refresh : .keep) }

    func login(_ request: HTTPRequest) throws(APIError) -> HTTPResponse {
        let data = try Self.fields(request)
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
        if !errors.isEmpty { throw .fieldErrors(errors) }

        let user = try checkPassword(username: username, password: password)
        let client = try Self.clientName(data["client"])
        return try issueToken(for: user, client: client, event: "login")
    }

    /// For applications that authenticate users themselves: the token of
    /// {username, client} without a password, only where nginx sets DURIN_TRUSTED.
    func issue(_ request: HTTPRequest) throws(APIError) -> HTTPResponse {
        let data = try Self.fields(request)
        let username: String
        switch CharField.validate(data["username"], trimWhitespace: true) {
        case .success(let v): username = v
        case .failure(let m): throw .fieldErrors([.init(field: "username", messages: [m.text])])
        }
        guard Names.isValidUsername(username),
              let user = try store({ () throws(StoreError) in try admin.user(named: username) }), user.isActive else {
            throw .invalidCredentials
        }
        return try issueToken(for: user, client: try Self.clientName(data["client"]), event: "token_issued")
    }

    private func issueToken(for user: UserRecord, client: String, event: String) throws(APIError) -> HTTPResponse {
        let mode = loginMode
        let outcome = try store { () throws(StoreError) in try tokens.login(user: user.username, client: client, mode: mode, event: event) }
        switch outcome {
        case .failure(.noClient): throw .noClientWithName
        case .failure(.userInactive), .failure(.alreadyExists): throw .invalidCredentials
        case .success(let issued):
            logger.info("\(event)", metadata: ["user": .string(user.username), "client": .string(client),
                                               "session": "\(issued.record.id)", "token": .string(issued.outcome.rawValue)])
            var body: [(String, JSONValue)] = [("expiry", expiryJSON(issued.record.expiry)), ("token", .string(issued.token.value))]
            if !config.userFields.isEmpty { body.append(("user", userJSON(user))) }
            return .json(200, .object(body))
        }
    }

    /// Django's ModelBackend: the password is checked first, then `is_active`; every
    /// failure gives the same answer, and unknown users cost the same hash. Names
    /// with too many recent failures are refused before any hashing.
    private func checkPassword(username: String, password: String) throws(APIError) -> UserRecord {
        // A name that cannot exist reveals nothing and costs nothing.
        guard Names.isValidUsername(username) else { throw .invalidCredentials }
        let rate = config.loginFailureRate
        let precheck = try store { () throws(StoreError) in try tokens.loginPrecheck(username: username, failureRate: rate) }
        let user: UserRecord?
        switch precheck {
        case .limited(let wait):
            logger.notice("login refused: too many failures", metadata: ["user": .string(username)])
            throw .throttled(waitSeconds: wait)
        case .proceed(let found): user = found
        }
        let hash = user?.passwordHash ?? settings.decoyHash
        guard let matches = settings.gate.run({ PasswordHasher.verify(password, against: hash) }) else { throw .busy }
        guard matches, let user, user.isActive else {
            logger.info("login failed", metadata: ["user": .string(username)])
            try store { () throws(StoreError) in try tokens.loginFailed(username: username, failureRate: rate) }
            throw .invalidCredentials
        }
        return user
    }

    /// The body as named fields; a JSON value that is not an object is DRF's error.
    static func fields(_ request: HTTPRequest) throws(APIError) -> RequestData {
        let data = try RequestData.decode(contentType: request.contentType, body: request.body)
        if case .notAnObject(let type) = data {
            throw .fieldErrors([.init(field: "non_field_errors", messages: ["Invalid data. Expected a dictionary, but got \(type)."])])
        }
        return data
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
