package import DurinCache
package import DurinCore
package import DurinHTTP
package import DurinStore
package import Logging
package import RedisClient

/// Everything a worker needs to answer requests, shared read-only by all threads.
package struct ServiceSettings: Sendable {
    package let configuration: Configuration
    /// Every route, in its groups.
    package let router: Router
    /// A hash at the configured cost that no password matches: checked for unknown
    /// users so that their login takes as long as a real one (no user enumeration).
    package let decoyHash: String
    /// The count of live tokens by client (nil: none is kept).
    package let census: TokenCensus?
    /// The time every request is answered at.
    package let clock: any WallTime
    /// The identity assertions signed so far, for every thread to hand out again.
    let signedAssertions = SignedAssertions()

    package init(
        configuration: Configuration, router: Router = Router(groups: [API.routes]), census: TokenCensus? = nil,
        clock: any WallTime = .system
    ) {
        self.configuration = configuration
        self.router = router
        self.census = census
        self.clock = clock
        decoyHash = PasswordHasher.encode(password: "\u{0}decoy", salt: "durindecoysalt", iterations: configuration.passwordIterations)
    }
}

/// The services a handler works with, one instance per thread (it owns that
/// thread's Redis connection through its stores, and its metrics slot). The
/// pipeline is in Dispatcher.swift; the routes are extensions (`API+Login`, ...)
/// and groups of other modules (the console).
package final class API {
    package let settings: ServiceSettings
    package let tokens: TokenStore
    package let admin: AdminStore
    /// The service's logger; a request logs through its context's, which names it.
    package let logger: Logger
    package let metrics: Metrics?
    /// This thread's counters (nil with DURIN_METRICS=off).
    package let slot: Metrics.Slot?
    /// The connection generation last seen, to count reconnects.
    private var seenGeneration = 0
    /// This worker's reads through the cache (nil: no cache).
    let cachedReader: CachedTokenReader?
    /// This worker's signing keys.
    let assertions = Assertions()
    package var config: Configuration { settings.configuration }
    package var router: Router { settings.router }

    /// An API on a connection of its own, for the calling thread.
    package convenience init(
        settings: ServiceSettings, endpoint: RedisEndpoint, cache: VerificationCache? = nil,
        metrics: Metrics? = nil, logLevel: Logger.Level
    ) {
        var logger = Logger(label: "durin-fcgi")
        logger.logLevel = logLevel
        let config = settings.configuration
        let connection = endpoint.connection(timeoutMilliseconds: config.redisTimeoutMillis)
        self.init(
            settings: settings,
            tokens: TokenStore(connection: connection, configuration: config, sealing: .service, clock: settings.clock),
            cache: cache, metrics: metrics, logger: logger)
    }

    package init(
        settings: ServiceSettings, tokens: TokenStore, cache: VerificationCache? = nil, metrics: Metrics? = nil,
        logger: Logger
    ) {
        self.settings = settings
        self.tokens = tokens
        admin = AdminStore(connection: tokens.connection, configuration: settings.configuration, clock: settings.clock)
        cachedReader = cache.map { CachedTokenReader(store: tokens, cache: $0) }
        self.metrics = metrics
        slot = metrics?.takeSlot()
        self.logger = logger
    }

    /// openapi.json: the API's description (docs/openapi.yaml), rendered once.
    static let openAPIResponse = HTTPResponse(
        status: 200, headers: [("Content-Type", "application/json")],
        body: Array(OpenAPIDocument.json.utf8))

    /// metrics/: the Prometheus text exposition.
    func metricsResponse() -> HTTPResponse {
        HTTPResponse(
            status: 200, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
            body: Array((metrics?.render() ?? "").utf8))
    }

    package func expiryJSON(_ expiry: EpochMillis?) -> JSONValue {
        expiry.map { .string(config.expiryFormat.format($0)) } ?? .null
    }

    /// The body as named fields; a JSON value that is not an object is DRF's error.
    package static func fields(_ request: HTTPRequest) throws(APIError) -> RequestData {
        let data = try RequestData.decode(contentType: request.contentType, body: request.body)
        if case .notAnObject(let type) = data {
            throw .fieldErrors([.init(field: "non_field_errors", messages: ["Invalid data. Expected a dictionary, but got \(type)."])])
        }
        return data
    }

    /// Counts the connection's reconnects since the last call (its first connect is none).
    func countReconnects() {
        let generation = tokens.connection.generation
        guard generation != seenGeneration else { return }
        if seenGeneration > 0 { slot?.redisReconnects.add(generation - seenGeneration) }
        seenGeneration = generation
    }
}
