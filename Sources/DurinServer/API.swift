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

    public init(configuration: Configuration) {
        self.configuration = configuration
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
    /// The route of the request being handled, for the request counters (nil: none
    /// matched, or the request was refused before routing).
    var currentRoute: Route?
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
        self.init(settings: settings, tokens: TokenStore(connection: connection, configuration: config), cache: cache,
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
    /// hasher thread, see LoginPool) and answer with `completeLogin`.
    public enum Handling {
        case respond(HTTPResponse)
        case checkPassword(LoginJob)
    }

    /// Handles one request. Never throws: every failure becomes durin's error response.
    public func handle(_ request: HTTPRequest) -> Handling {
        let response: HTTPResponse
        do {
            switch try route(request) {
            case .checkPassword(let job): return .checkPassword(job)
            case .respond(let r): response = r
            }
        } catch {
            response = error.response(authPrefix: config.authHeaderPrefix)
        }
        return .respond(request.directives.authRequest ? Self.forAuthRequest(response) : response)
    }

    private func route(_ request: HTTPRequest) throws(APIError) -> Handling {
        currentRoute = Route.match(request.path)
        guard let route = currentRoute else { throw .notFound }
        // Routes that exist only where configured look like any unknown path elsewhere.
        if route == .issue && !request.directives.trusted { throw .notFound }
        if route == .apiAccess && config.apiAccessClientName == nil { throw .notFound }
        if route == .metrics && !(request.directives.metrics && metrics != nil) { throw .notFound }
        // DRF order: authenticate, check permissions, then the method.
        var auth: TokenRecord?
        if route.requiresToken {
            // durin's TokenAuthentication: no credentials is "not provided", not an error of the header.
            guard case .token(let token) = try AuthorizationHeader.parse(request.authorization, prefix: config.authHeaderPrefix) else {
                throw .notAuthenticated
            }
            let digest = Token.digest(of: token)
            let d = request.directives
            if route == .verify && d.cache && !d.throttle {
                auth = try authenticateCached(digest: digest, rules: rules(d))
            } else {
                auth = try authenticate(digest: digest, rules: route == .verify ? rules(d) : .none)
            }
        }
        let method = request.method.uppercased()
        guard route.allowedMethods.contains(method) else {
            throw .methodNotAllowed(method: method, allowed: route.allowedMethods)
        }
        if method == "OPTIONS" { return .respond(options(route)) }
        switch route {
        case .login: return .checkPassword(try admitLogin(request))
        case .issue: return .respond(try issue(request))
        case .ready: return .respond(ready())
        case .metrics: return .respond(HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                                                    body: Array(metrics!.render().utf8)))
        case .refresh: return .respond(try refresh(auth!))
        case .logout: return .respond(try logout(auth!))
        case .logoutAll: return .respond(try logoutAll(auth!))
        case .verify: return .respond(verify(auth!))
        case .sessions: return .respond(try sessions(auth!))
        case .session(let id): return .respond(try deleteSession(id, auth: auth!, mountPrefix: request.mountPrefix))
        case .apiAccess: return .respond(try apiAccess(method, auth: auth!))
        }
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
            return try Self.check(record, rules)
        case .fetched(let record):
            slot?.cacheMisses.add()
            return try Self.check(record, rules)
        case .miss:
            slot?.cacheMisses.add()
            return try authenticate(digest: digest, rules: rules)
        case .bypassed:
            return try authenticate(digest: digest, rules: rules)
        }
    }

    /// A location's client lists, for a token served from the cache.
    static func check(_ record: TokenRecord, _ rules: AccessRules) throws(APIError) -> TokenRecord {
        guard rules.permits(client: record.client) else { throw .permissionDenied }
        return record
    }

    func options(_ route: Route) -> HTTPResponse {
        .json(200, [
            "name": .string(route.viewName), "description": "",
            "renders": ["application/json"],
            "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
        ], headers: [("Allow", route.allowedMethods.joined(separator: ", "))])
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
    /// reconnects the request caused. `route` nil: unmatched, or refused before routing.
    func countAnswer(_ response: HTTPResponse, route: Route?) {
        guard let slot else { return }
        slot.request(route: route?.metricsIndex ?? Metrics.unknownRoute, status: response.status)
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
        var headers = response.headers.filter { $0.0 != "Content-Type" }
        headers.append(("X-Durin-Status", String(response.status)))
        headers.append(("X-Durin-Error", String(decoding: response.body, as: UTF8.self)))
        return HTTPResponse(status: response.status == 401 ? 401 : 403, headers: headers)
    }
}
