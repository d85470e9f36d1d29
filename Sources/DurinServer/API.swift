import DurinCore
import DurinStore
import Logging

/// Everything a worker needs to answer requests, shared read-only by all threads.
public struct ServiceSettings: Sendable {
    public let configuration: Configuration
    public let secret: [UInt8]?
    public let gate: PasswordGate
    /// A hash at the configured cost that no password matches: checked for unknown
    /// users so that their login takes as long as a real one (no user enumeration).
    public let decoyHash: String

    public init(configuration: Configuration, secret: [UInt8]?, gate: PasswordGate) {
        self.configuration = configuration
        self.secret = secret
        self.gate = gate
        decoyHash = PasswordHasher.encode(password: "\u{0}decoy", salt: "durindecoysalt", iterations: configuration.passwordIterations)
    }
}

/// The HTTP semantics of every route. One instance per worker thread (it owns
/// that thread's Redis connection through its stores).
public final class API {
    let settings: ServiceSettings
    let tokens: TokenStore
    let admin: AdminStore
    let logger: Logger
    var config: Configuration { settings.configuration }

    public init(settings: ServiceSettings, tokens: TokenStore, logger: Logger) {
        self.settings = settings
        self.tokens = tokens
        admin = AdminStore(connection: tokens.connection, keys: tokens.keys)
        self.logger = logger
    }

    /// Answers one request. Never throws: every failure becomes durin's error response.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        let response: HTTPResponse
        do {
            response = try route(request)
        } catch {
            response = error.response(authPrefix: config.authHeaderPrefix)
        }
        return request.directives.authRequest ? Self.forAuthRequest(response) : response
    }

    private func route(_ request: HTTPRequest) throws(APIError) -> HTTPResponse {
        guard let route = Route.match(request.path) else { throw .notFound }
        // DRF order: authenticate, check permissions, then the method.
        var auth: TokenRecord?
        if route.requiresToken {
            auth = try authenticate(request)
            guard auth != nil else { throw .notAuthenticated }
        }
        let method = request.method.uppercased()
        guard route.allowedMethods.contains(method) else {
            throw .methodNotAllowed(method: method, allowed: route.allowedMethods)
        }
        if method == "OPTIONS" { return options(route) }
        switch route {
        case .login: return try login(request)
        case .refresh: return try refresh(auth!)
        case .logout: return try logout(auth!)
        case .logoutAll: return try logoutAll(auth!)
        case .verify: return try verify(auth!, request.directives)
        }
    }

    // MARK: Authentication

    /// durin's TokenAuthentication: nil when the request carries no credentials.
    func authenticate(_ request: HTTPRequest) throws(APIError) -> TokenRecord? {
        guard case .token(let token) = try AuthorizationHeader.parse(request.authorization, prefix: config.authHeaderPrefix) else {
            return nil
        }
        let result = try store { () throws(StoreError) in try tokens.authenticate(digest: Token.digest(of: token)) }
        switch result {
        case .valid(let record): return record
        case .expired(let user, let client, let id):
            logger.info("token expired", metadata: ["user": .string(user), "client": .string(client), "session": "\(id)"])
            throw .tokenExpired
        case .userInactive: throw .userInactive
        case .invalid: throw .invalidToken
        }
    }

    // MARK: Routes

    func login(_ request: HTTPRequest) throws(APIError) -> HTTPResponse {
        let data = try RequestData.decode(contentType: request.contentType, body: request.body)
        guard case .fields = data else {
            if case .notAnObject(let type) = data {
                throw .fieldErrors([.init(field: "non_field_errors", messages: ["Invalid data. Expected a dictionary, but got \(type)."])])
            }
            throw .internalError
        }
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
        let clientName = try Self.clientName(data["client"])
        let mode: LoginMode = config.rotateTokenOnLogin ? .rotate : (config.refreshTokenOnLogin ? .refresh : .keep)
        let outcome = try store { () throws(StoreError) in try tokens.login(user: user.username, client: clientName, mode: mode) }
        switch outcome {
        case .failure(.noClient): throw .noClientWithName
        case .failure(.userInactive): throw .invalidCredentials
        case .success(let issued):
            logger.info("login", metadata: ["user": .string(user.username), "client": .string(clientName),
                                            "session": "\(issued.record.id)", "token": .string(issued.outcome.rawValue)])
            var body: [(String, JSONValue)] = [("expiry", expiryJSON(issued.record.expiry)), ("token", .string(issued.token.value))]
            if !config.userFields.isEmpty { body.append(("user", userJSON(user))) }
            return .json(200, .object(body))
        }
    }

    /// Django's ModelBackend: the password is checked first, then `is_active`; every
    /// failure gives the same answer, and unknown users cost the same hash.
    private func checkPassword(username: String, password: String) throws(APIError) -> UserRecord {
        let user = Names.isValidUsername(username) ? try store { () throws(StoreError) in try admin.user(named: username) } : nil
        let hash = user?.passwordHash ?? settings.decoyHash
        guard let matches = settings.gate.run({ PasswordHasher.verify(password, against: hash) }) else { throw .busy }
        guard matches, let user, user.isActive else {
            logger.info("login failed", metadata: ["user": .string(Names.isValidUsername(username) ? username : "<invalid>")])
            throw .invalidCredentials
        }
        return user
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

    func refresh(_ auth: TokenRecord) throws(APIError) -> HTTPResponse {
        guard let renewed = try store({ () throws(StoreError) in try tokens.refresh(digest: auth.digest) }) else {
            throw .invalidToken  // revoked between the check and the renewal
        }
        logger.debug("token renewed", metadata: ["user": .string(auth.user), "client": .string(auth.client)])
        return .json(200, ["expiry": expiryJSON(renewed.expiry)])
    }

    func logout(_ auth: TokenRecord) throws(APIError) -> HTTPResponse {
        try store { () throws(StoreError) in try tokens.revoke(digest: auth.digest) }
        logger.info("logout", metadata: ["user": .string(auth.user), "client": .string(auth.client), "session": "\(auth.id)"])
        return .noContent
    }

    func logoutAll(_ auth: TokenRecord) throws(APIError) -> HTTPResponse {
        let revoked = try store { () throws(StoreError) in try tokens.revokeAll(user: auth.user) }
        logger.info("logoutall", metadata: ["user": .string(auth.user), "revoked": "\(revoked.count)"])
        return .noContent
    }

    /// For nginx `auth_request`: who the token belongs to, after the location's
    /// client rules (durin's AllowSpecificClients / DisallowSpecificClients).
    func verify(_ auth: TokenRecord, _ directives: HTTPRequest.Directives) throws(APIError) -> HTTPResponse {
        if !directives.allowClients.isEmpty && !directives.allowClients.contains(auth.client) { throw .permissionDenied }
        if directives.denyClients.contains(auth.client) { throw .permissionDenied }
        let expiry = auth.expiry.map { config.expiryFormat.format($0) }
        var headers = [("X-Durin-User", auth.user), ("X-Durin-Client", auth.client)]
        if let expiry { headers.append(("X-Durin-Expiry", expiry)) }
        return .json(200, ["user": .string(auth.user), "client": .string(auth.client), "expiry": expiryJSON(auth.expiry)],
                     headers: headers)
    }

    func options(_ route: Route) -> HTTPResponse {
        .json(200, [
            "name": .string(route.viewName), "description": "",
            "renders": ["application/json"],
            "parses": ["application/json", "application/x-www-form-urlencoded"],
        ], headers: [("Allow", route.allowedMethods.joined(separator: ", "))])
    }

    // MARK: Helpers

    func expiryJSON(_ expiry: EpochMillis?) -> JSONValue {
        expiry.map { .string(config.expiryFormat.format($0)) } ?? .null
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

    /// Runs a store operation; Redis trouble becomes 503, anything else 500.
    func store<T>(_ body: () throws(StoreError) -> T) throws(APIError) -> T {
        do {
            return try body()
        } catch .unavailable(let why) {
            logger.warning("token store unavailable", metadata: ["error": .string(why)])
            throw .storeUnavailable
        } catch {
            logger.error("token store error", metadata: ["error": .string(error.description)])
            throw .internalError
        }
    }

    /// auth_request passes only 2xx, 401 and 403 (anything else becomes 500), so a
    /// denial travels as 401/403 with the real status and body in headers, which the
    /// shipped nginx snippet turns back into durin's response.
    static func forAuthRequest(_ response: HTTPResponse) -> HTTPResponse {
        guard response.status >= 300 else { return response }
        var headers = response.headers.filter { $0.0 != "Content-Type" }
        headers.append(("X-Durin-Status", String(response.status)))
        headers.append(("X-Durin-Error", String(decoding: response.body, as: UTF8.self)))
        return HTTPResponse(status: response.status == 401 ? 401 : 403, headers: headers)
    }
}
