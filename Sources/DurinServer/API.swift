import DurinCache
import DurinCore
import DurinHTTP
import DurinStore
import Logging
import RedisClient

/// Everything a worker needs to answer requests, shared read-only by all threads.
public struct ServiceSettings: Sendable {
    public let configuration: Configuration
    /// A hash at the configured cost that no password matches: checked for unknown
    /// users so that their login takes as long as a real one (no user enumeration).
    public let decoyHash: String
    /// The console's count of live tokens by client (nil: the console shows none).
    public let census: TokenCensus?

    public init(configuration: Configuration, census: TokenCensus? = nil) {
        self.configuration = configuration
        self.census = census
        decoyHash = PasswordHasher.encode(password: "\u{0}decoy", salt: "durindecoysalt", iterations: configuration.passwordIterations)
    }
}

/// The HTTP semantics of every route. One instance per worker thread (it owns
/// that thread's Redis connection through its stores). The routes themselves live
/// in the extensions: LoginRoutes, TokenRoutes, SessionRoutes.
public final class API {
    let settings: ServiceSettings
    let tokens: TokenStore
    let admin: AdminStore
    let logger: Logger
    let metrics: Metrics?
    /// This thread's counters (nil with DURIN_METRICS=off).
    let slot: Metrics.Slot?
    /// The connection generation last seen, to count reconnects.
    private var seenGeneration = 0
    /// This worker's reads through the cache (nil: no cache).
    let cachedReader: CachedTokenReader?
    var config: Configuration { settings.configuration }

    /// An API on a connection of its own, for the calling thread.
    public convenience init(settings: ServiceSettings, endpoint: RedisEndpoint, cache: VerificationCache? = nil,
                            metrics: Metrics? = nil, logLevel: Logger.Level) {
        var logger = Logger(label: "durin-fcgi")
        logger.logLevel = logLevel
        let config = settings.configuration
        let connection = endpoint.connection(timeoutMilliseconds: config.redisTimeoutMillis)
        self.init(settings: settings, tokens: TokenStore(connection: connection, configuration: config, sealing: .service), cache: cache,
                  metrics: metrics, logger: logger)
    }

    public init(settings: ServiceSettings, tokens: TokenStore, cache: VerificationCache? = nil, metrics: Metrics? = nil,
                logger: Logger) {
        self.settings = settings
        self.tokens = tokens
        admin = AdminStore(connection: tokens.connection, configuration: settings.configuration)
        cachedReader = cache.map { CachedTokenReader(store: tokens, cache: $0) }
        self.metrics = metrics
        slot = metrics?.takeSlot()
        self.logger = logger
    }

    /// What to do with a request: answer it now, or check a password first (on a
    /// hasher thread, see LoginPool, which answers it).
    public enum Handling {
        case respond(HTTPResponse)
        case checkPassword(LoginJob)
    }

    /// A request's route (nil: none matched) and what to do with it.
    public struct Handled {
        public let route: Route?
        public let handling: Handling
    }

    /// Handles one request. Never throws: every failure becomes durin's error response.
    public func handle(_ request: HTTPRequest) -> Handled {
        // The console's location answers the console only, and no API route answers it.
        let route = request.directives.console ? Route.console : Route.match(request.path)
        var handling: Handling
        do {
            handling = try dispatch(request, route: route)
        } catch {
            handling = .respond(error.response(authSchemes: config.authSchemes))
        }
        if request.directives.authRequest, case .respond(let response) = handling {
            handling = .respond(Self.forAuthRequest(response))
        }
        return Handled(route: route, handling: handling)
    }

    /// Runs a route as its declaration in `Route.table` says. DRF's order:
    /// authenticate, check permissions, then the method.
    private func dispatch(_ request: HTTPRequest, route: Route?) throws(APIError) -> Handling {
        guard let route else { throw .notFound }
        let spec = route.spec
        // Routes that exist only where configured look like any unknown path elsewhere.
        guard exists(spec, request.directives) else { throw .notFound }
        /// nil: the method is the route's own; else OPTIONS's description of the route.
        func methodChecked() throws(APIError) -> HTTPResponse? {
            let method = request.method.uppercased()
            guard spec.methods.contains(method) else { throw .methodNotAllowed(method: method, allowed: spec.methods) }
            return method == "OPTIONS" ? options(spec) : nil
        }
        let call = Route.Call(request: request, parameter: route.parameter)
        switch spec.action {
        case .token(let locationRules, let handler):
            let auth = try authenticate(request, locationRules: locationRules)
            if let options = try methodChecked() { return .respond(options) }
            return .respond(try handler(self, call, auth))
        case .open(let handler):
            if let options = try methodChecked() { return .respond(options) }
            return .respond(try handler(self, call))
        case .login:
            if let options = try methodChecked() { return .respond(options) }
            return .checkPassword(try admitLogin(request))
        case .console:
            return console(request)
        }
    }

    private func exists(_ spec: Route.Spec, _ directives: HTTPRequest.Directives) -> Bool {
        switch spec.exists {
        case .always: return true
        case .trustedLocation: return directives.trusted
        case .apiAccessClient: return config.apiAccessClientName != nil
        case .metricsLocation: return directives.metrics && metrics != nil
        case .consoleLocation: return directives.console
        case .openAPILocation: return directives.openAPI
        }
    }

    /// The request's token, checked: durin's TokenAuthentication, where no
    /// credentials is "not provided", not an error of the header. With
    /// `locationRules` (verify/), the location's client rules and throttle apply in
    /// the same round trip, and its cache when it asks for one.
    func authenticate(_ request: HTTPRequest, locationRules: Bool) throws(APIError) -> TokenRecord {
        guard case .token(let token) = try AuthorizationHeader.parse(request.authorization, schemes: config.authSchemes) else {
            throw .notAuthenticated
        }
        let digest = Token.digest(of: token)
        let d = request.directives
        guard locationRules else { return try authenticate(digest: digest, rules: .none) }
        if d.cache && !d.throttle { return try authenticateCached(digest: digest, rules: rules(d)) }
        return try authenticate(digest: digest, rules: rules(d))
    }

    /// openapi.json: the API's description (docs/openapi.yaml), rendered once.
    static let openAPIResponse = HTTPResponse(status: 200, headers: [("Content-Type", "application/json")],
                                              body: Array(OpenAPIDocument.json.utf8))

    /// metrics/: the Prometheus text exposition.
    func metricsResponse() -> HTTPResponse {
        HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                     body: Array((metrics?.render() ?? "").utf8))
    }

    func rules(_ d: HTTPRequest.Directives) -> AccessRules {
        AccessRules(allowClients: d.allowClients, denyClients: d.denyClients, throttle: d.throttle, defaultRate: config.throttleRate)
    }

    // MARK: Authentication

    /// The token check (plus a location's client rules and throttle, in the same
    /// round trip), with durin's errors.
    func authenticate(digest: String, rules: AccessRules) throws(APIError) -> TokenRecord {
        let result = try store { () throws(StoreError) in try tokens.authenticate(digest: digest, rules: rules) }
        switch result {
        case .valid(let record): return record
        case .expired: throw .tokenExpired
        case .userInactive: throw .userInactive
        case .invalid: throw .invalidToken
        case .denied: throw .permissionDenied
        case .throttled(let wait, _, _): throw .throttled(waitSeconds: wait)
        }
    }

    /// The cached path: a hit costs no Redis round trip. A miss reads the token with
    /// tracked plain reads and caches it; anything but a valid token (and any Redis
    /// trouble) takes the full path, which gives durin's exact answer.
    func authenticateCached(digest: String, rules: AccessRules) throws(APIError) -> TokenRecord {
        switch cachedReader?.record(digest: digest) ?? .bypassed {
        case .hit(let record):
            slot?.cacheHits.add()
            return tokens.noteUse(try check(record, rules))
        case .fetched(let record):
            slot?.cacheMisses.add()
            return tokens.noteUse(try check(record, rules))
        case .miss:
            slot?.cacheMisses.add()
            return try authenticate(digest: digest, rules: rules)
        case .bypassed:
            return try authenticate(digest: digest, rules: rules)
        }
    }

    /// A location's client lists, for a token served from the cache (a console
    /// session is no token here, as in the store's own check).
    func check(_ record: TokenRecord, _ rules: AccessRules) throws(APIError) -> TokenRecord {
        guard tokens.admits(client: record.client, rules) else { throw .invalidToken }
        guard rules.permits(client: record.client) else { throw .permissionDenied }
        return record
    }

    func options(_ spec: Route.Spec) -> HTTPResponse {
        .json(200, [
            "name": .string(spec.viewName), "description": "",
            "renders": ["application/json"],
            "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
        ], headers: [("Allow", spec.methods.joined(separator: ", "))])
    }

    // MARK: Helpers

    func expiryJSON(_ expiry: EpochMillis?) -> JSONValue {
        expiry.map { .string(config.expiryFormat.format($0)) } ?? .null
    }

    /// Runs a store operation; Redis trouble becomes 503, anything else 500.
    @discardableResult
    func store<T>(_ body: () throws(StoreError) -> T) throws(APIError) -> T {
        do {
            return try body()
        } catch .unavailable(let why) {
            slot?.redisErrors.add()
            logger.warning("token store unavailable", metadata: ["error": .string(why)])
            throw .storeUnavailable
        } catch {
            logger.error("token store error", metadata: ["error": .string(error.description)])
            throw .internalError
        }
    }

    /// Counts an answer (before it leaves, so a scrape that follows sees it) and any
    /// reconnects the request caused: the one place requests are counted. `route`
    /// nil: unmatched, or refused before routing.
    func countAnswer(_ response: HTTPResponse, route: Route?) {
        guard let slot else { return }
        slot.request(route: route?.index ?? Metrics.unknownRoute, status: response.status)
        countReconnects()
    }

    /// Counts the connection's reconnects since the last call (its first connect is none).
    private func countReconnects() {
        let generation = tokens.connection.generation
        guard generation != seenGeneration else { return }
        if seenGeneration > 0 { slot?.redisReconnects.add(generation - seenGeneration) }
        seenGeneration = generation
    }

    /// auth_request passes only 2xx, 401 and 403 (anything else becomes 500), so a
    /// denial travels as 401/403 with the real status and body in headers, which the
    /// shipped nginx snippet turns back into durin's response.
    static func forAuthRequest(_ response: HTTPResponse) -> HTTPResponse {
        guard response.status >= 300 else { return response }
        // nginx before 1.23 keeps one WWW-Authenticate of a subrequest: every
        // scheme's challenge goes in that one, comma-separated (RFC 9110 §11.6.1).
        let challenges = response.headers.filter { $0.0 == "WWW-Authenticate" }.map(\.1)
        var headers = response.headers.filter { $0.0 != "Content-Type" && $0.0 != "WWW-Authenticate" }
        if !challenges.isEmpty { headers.append(("WWW-Authenticate", challenges.joined(separator: ", "))) }
        headers.append(("X-Durin-Status", String(response.status)))
        headers.append(("X-Durin-Error", String(decoding: response.body, as: UTF8.self)))
        return HTTPResponse(status: response.status == 401 ? 401 : 403, headers: headers)
    }
}
