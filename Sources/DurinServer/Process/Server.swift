import DurinCache
import DurinCore
import DurinMigration
import DurinStore
import FastCGI
import Foundation
import Logging
import RedisClient
import Synchronization
import SystemSupport

/// The responder process: worker threads accepting FastCGI requests, and a main
/// thread that waits for SIGTERM/SIGINT and then shuts down cleanly.
package enum Server {
    /// Runs until SIGTERM/SIGINT; returns the exit status.
    /// - Parameter router: every route the responder answers: the API's group
    ///   (`API.routes`) and any others (the console's), assembled by the executable.
    package static func run(environment: [String: String], router: Router) -> Int32 {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        // Before any thread starts, so that every one inherits SIGTERM and SIGINT
        // blocked and only the main thread takes them (waitForTermination): the
        // migration and index threads start before the workers do.
        ProcessSignals.prepare()
        var logger = Logger(label: "durin-fcgi")
        guard let (config, endpoint) = configure(environment, logger: &logger) else { return 78 }  // EX_CONFIG
        guard checkRedis(endpoint, config, logger: logger) else { return 78 }
        // Before the first request: the sealing secret is recorded for durinctl, and
        // data left by a release with layout 1 moves, so an upgrade logs no one out.
        // When Redis is down now, a thread does both as soon as Redis returns.
        if !prepareStore(endpoint: endpoint, config: config, logger: logger) {
            Thread { [logger] in
                Threads.name("durin-migrate")
                while !prepareStore(endpoint: endpoint, config: config, logger: logger) { sleep(1) }
            }.start()
        }
        let socket: ListenSocket
        do {
            socket = try ListenSocket.open(address: config.listen, socketMode: mode_t(config.socketMode), environment: environment)
        } catch {
            logger.critical("cannot listen: \(error)")
            return 71  // EX_OSERR
        }
        let threads = start(config: config, endpoint: endpoint, router: router, socket: socket, logger: logger)
        logger.info(
            "durin-fcgi listening",
            metadata: [
                "socket": .string(socket.summary), "threads": "\(config.threads)", "redis": .string(endpoint.description),
            ])
        let sig = ProcessSignals.waitForTermination()
        logger.info("\(ProcessSignals.name(sig)): finishing in-flight requests")
        let clean = threads.drain(socket: socket)
        logger.info("stopped", metadata: ["clean": "\(clean)"])
        return 0
    }

    /// The settings and the Redis endpoint, checked; nil (logged) when the process
    /// cannot run with them.
    private static func configure(_ environment: [String: String], logger: inout Logger) -> (Configuration, RedisEndpoint)? {
        let config: Configuration
        let endpoint: RedisEndpoint
        do {
            config = try Configuration.fromEnvironment(environment)
            endpoint = try RedisEndpoint.parse(config.redisURL)
        } catch {
            logger.critical("invalid configuration: \(error)")
            return nil
        }
        logger.logLevel = Logger.Level(rawValue: config.logLevel) ?? .info
        guard config.proxyKey != nil else {
            logger.critical(
                """
                DURIN_PROXY_KEY is not set: nginx proves each request with it, and durin-fcgi answers none without it. \
                `make install` and the package write one into the env file and into nginx's proxy-key.conf (docs/security.md)
                """)
            return nil
        }
        if config.secretKey == nil {
            logger.notice("DURIN_SECRET_KEY is not set: the token-sealing secret is kept in Redis (\(config.keyPrefix)secret)")
        }
        if config.apiAccessClientName == nil {
            logger.info("apiaccess/ is disabled: DURIN_API_ACCESS_CLIENT_NAME is not set")
        }
        return (config, endpoint)
    }

    /// A wrong password or a too narrow ACL is a configuration error: said now (and
    /// the process exits, which systemd does not retry) rather than at the first
    /// request. Redis merely down is not: the service answers 503 until it returns.
    private static func checkRedis(_ endpoint: RedisEndpoint, _ config: Configuration, logger: Logger) -> Bool {
        do {
            let probe = endpoint.connection(timeoutMilliseconds: config.redisTimeoutMillis)
            try RedisRights.check(
                probe, keys: KeySpace(configuration: config), tracking: config.tokenCacheTimeout > 0 && !endpoint.isCluster)
        } catch .unavailable(let why) {
            logger.warning("Redis is not reachable yet; answering 503 until it is", metadata: ["error": .string(why)])
        } catch {
            logger.critical("\(error)", metadata: ["redis": .string(endpoint.description)])
            return false
        }
        return true
    }

    /// The threads that serve, once started: what shutdown stops.
    private struct Running {
        let board: WorkerBoard
        let logins: LoginPool
        let intake: ConnectionIntake

        /// Stops accepting, lets busy workers and queued logins finish (up to ~2 s:
        /// systemd gives TimeoutStopSec=5s); whether everything finished.
        func drain(socket: ListenSocket) -> Bool {
            // Connections already accepted are still answered: those whose request is
            // on its way get most of the time.
            intake.stop(grace: .milliseconds(1500))
            socket.shutdownOwned()
            // Workers in accept() or epoll_wait are woken; busy ones finish their
            // request first.
            let deadline = ContinuousClock.now + .milliseconds(1800)
            while !(board.allStopped && logins.isIdle) && ContinuousClock.now < deadline {
                for thread in board.idleThreads { ProcessSignals.wake(thread) }
                Thread.sleep(forTimeInterval: 0.01)
            }
            return board.allStopped && logins.isIdle
        }
    }

    /// Starts every thread: the cache's invalidation listener, the hashers, the
    /// intake's watcher and the workers.
    private static func start(
        config: Configuration, endpoint: RedisEndpoint, router: Router, socket: ListenSocket,
        logger: Logger
    ) -> Running {
        let logins = LoginPool(capacity: config.loginQueueLimit, logger: logger)
        let settings = ServiceSettings(
            configuration: config, router: router, census: TokenCensus(endpoint: endpoint, configuration: config))
        let logLevel = logger.logLevel
        let cache = startCache(config: config, endpoint: endpoint, logger: logger)
        FastCGI.initialize()
        // Half the cores by default: measured here, a second core of PBKDF2 doubled
        // verify/'s p99 even at SCHED_IDLE (caches and the hypervisor are shared).
        let hashers = config.hashThreads ?? max(1, ProcessInfo.processInfo.activeProcessorCount / 2)
        let intake = ConnectionIntake(listenFD: socket.fd, timeout: .milliseconds(config.fastcgiTimeoutMillis))
        let metrics =
            !config.metricsEnabled
            ? nil
            : Metrics(threads: 2 * config.threads + hashers, router: router) {
                [logins, cache, config, intake] in
                Metrics.Readings(
                    loginQueueDepth: logins.depth, loginQueueCapacity: config.loginQueueLimit,
                    cacheEntries: cache?.count ?? 0, cacheInvalidations: cache?.invalidations ?? 0,
                    fastcgi: intake.snapshot)
            }
        metrics?.startSampling()
        for index in 0..<hashers {
            startThread {
                logins.runHasher(
                    index: index, api: API(settings: settings, endpoint: endpoint, metrics: metrics, logLevel: logLevel),
                    intake: intake)
            }
        }
        startThread {
            Threads.name("durin-intake")
            intake.watch()
        }
        // As many workers wait on kept connections as accept new ones.
        let board = WorkerBoard(count: 2 * config.threads)
        for index in 0..<(2 * config.threads) {
            let lane: Worker.Lane = index < config.threads ? .accepting : .waiting
            startThread {
                Worker(
                    index: index, lane: lane, intake: intake, endpoint: endpoint, settings: settings, cache: cache,
                    metrics: metrics, logins: logins, board: board, logLevel: logLevel
                ).run()
            }
        }
        return Running(board: board, logins: logins, intake: intake)
    }

    /// The verification cache and its invalidation listener, when the settings and
    /// the store allow one.
    private static func startCache(config: Configuration, endpoint: RedisEndpoint, logger: Logger) -> VerificationCache? {
        if config.tokenCacheTimeout == 0 {
            logger.info("verification cache disabled: DURIN_TOKEN_CACHE_TIMEOUT is 0")
            return nil
        }
        // On a cluster, tracking would need an invalidation subscriber on every master,
        // followed through reshardings: not built, so cached locations take the full path.
        if endpoint.isCluster {
            logger.notice("verification cache disabled on Redis Cluster: cached locations read Redis")
            return nil
        }
        let cache = VerificationCache(timeoutSeconds: config.tokenCacheTimeout, keys: KeySpace(configuration: config))
        let listener = InvalidationListener(
            endpoint: endpoint, cache: cache,
            restored: { [logger] in logger.notice("cache invalidation restored") },
            lost: { [logger] error in
                logger.warning("cache bypassed: invalidation connection lost", metadata: ["error": .string(error)])
            })
        startThread {
            Threads.name("durin-inval")
            listener.run()
        }
        return cache
    }

    /// A thread with a 1 MiB stack (the request path's deepest frames need far less).
    private static func startThread(_ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Records the sealing secret's fingerprint and runs the layout migration, once;
    /// false when Redis could not be reached.
    private static func prepareStore(endpoint: RedisEndpoint, config: Configuration, logger: Logger) -> Bool {
        // Its own connection, with room for a large keyspace's scripts.
        let connection = endpoint.connection(timeoutMilliseconds: max(config.redisTimeoutMillis, 5000))
        do {
            if try TokenStore(connection: connection, configuration: config, sealing: .service).recordSealingSecret() {
                logger.warning(
                    """
                    the sealing secret is not the one recorded before (DURIN_SECRET_KEY changed, or durinctl ran \
                    with other settings): tokens sealed under the old one get a new token at their next login
                    """)
            }
            let report = try LayoutMigration(connection: connection, configuration: config, sealing: .service).run()
            // The console's username index, for data from before it: built beside the
            // requests, a thousand names a round trip.
            Thread { [logger] in
                Threads.name("durin-userindex")
                let admin = AdminStore(
                    connection: endpoint.connection(timeoutMilliseconds: max(config.redisTimeoutMillis, 5000)),
                    configuration: config)
                do {
                    let added = try admin.ensureUserIndex()
                    if added > 0 { logger.notice("username index built for the console", metadata: ["users": "\(added)"]) }
                } catch {
                    logger.warning("username index not built", metadata: ["error": .string("\(error)")])
                }
            }.start()
            if !report.alreadyDone { logger.notice("\(report)") }
            return true
        } catch .unavailable {
            return false
        } catch {
            logger.error("layout migration: \(error)")
            return true
        }
    }
}
