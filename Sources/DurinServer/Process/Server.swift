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
        var logger = Logger(label: "durin-fcgi")

        let config: Configuration
        let endpoint: RedisEndpoint
        do {
            config = try Configuration.fromEnvironment(environment)
            endpoint = try RedisEndpoint.parse(config.redisURL)
        } catch {
            logger.critical("invalid configuration: \(error)")
            return 78  // EX_CONFIG
        }
        logger.logLevel = Logger.Level(rawValue: config.logLevel) ?? .info
        guard config.proxyKey != nil else {
            logger.critical("""
                DURIN_PROXY_KEY is not set: nginx proves each request with it, and durin-fcgi answers none without it. \
                `make install` and the package write one into the env file and into nginx's proxy-key.conf (docs/security.md)
                """)
            return 78  // EX_CONFIG
        }

        // A wrong password or a too narrow ACL is a configuration error: say so now
        // (and exit, which systemd does not retry) rather than at the first request.
        // Redis merely down is not: the service answers 503 until it returns.
        do {
            let probe = endpoint.connection(timeoutMilliseconds: config.redisTimeoutMillis)
            try RedisRights.check(probe, keys: KeySpace(configuration: config), tracking: config.tokenCacheTimeout > 0 && !endpoint.isCluster)
        } catch .unavailable(let why) {
            logger.warning("Redis is not reachable yet; answering 503 until it is", metadata: ["error": .string(why)])
        } catch {
            logger.critical("\(error)", metadata: ["redis": .string(endpoint.description)])
            return 78  // EX_CONFIG
        }

        // Before the first request: the sealing secret is recorded for durinctl, and
        // data left by a release with layout 1 moves, so an upgrade logs no one out.
        // When Redis is down now, a thread does both as soon as Redis returns.
        if !Self.prepareStore(endpoint: endpoint, config: config, logger: logger) {
            Thread { [logger] in
                Threads.name("durin-migrate")
                while !Self.prepareStore(endpoint: endpoint, config: config, logger: logger) { sleep(1) }
            }.start()
        }

        let socket: ListenSocket
        do {
            socket = try ListenSocket.open(address: config.listen, socketMode: mode_t(config.socketMode), environment: environment)
        } catch {
            logger.critical("cannot listen: \(error)")
            return 71  // EX_OSERR
        }

        let cores = ProcessInfo.processInfo.activeProcessorCount
        let logins = LoginPool(capacity: config.loginQueueLimit, logger: logger)
        if config.secretKey == nil {
            logger.notice("DURIN_SECRET_KEY is not set: the token-sealing secret is kept in Redis (\(config.keyPrefix)secret)")
        }
        let settings = ServiceSettings(configuration: config, router: router,
                                       census: TokenCensus(endpoint: endpoint, configuration: config))

        if config.apiAccessClientName == nil {
            logger.info("apiaccess/ is disabled: DURIN_API_ACCESS_CLIENT_NAME is not set")
        }
        let logLevelForThreads = logger.logLevel
        // On a cluster, tracking would need an invalidation subscriber on every master,
        // followed through reshardings: not built, so cached locations take the full path.
        let cache = config.tokenCacheTimeout > 0 && !endpoint.isCluster
            ? VerificationCache(timeoutSeconds: config.tokenCacheTimeout, keys: KeySpace(configuration: config)) : nil
        if config.tokenCacheTimeout == 0 { logger.info("verification cache disabled: DURIN_TOKEN_CACHE_TIMEOUT is 0") }
        if config.tokenCacheTimeout > 0 && endpoint.isCluster {
            logger.notice("verification cache disabled on Redis Cluster: cached locations read Redis")
        }

        FastCGI.initialize()
        ProcessSignals.prepare()
        if let cache {
            let listener = InvalidationListener(
                endpoint: endpoint, cache: cache,
                restored: { [logger] in logger.notice("cache invalidation restored") },
                lost: { [logger] error in logger.warning("cache bypassed: invalidation connection lost", metadata: ["error": .string(error)]) })
            let thread = Thread { Threads.name("durin-inval"); listener.run() }
            thread.stackSize = 1 << 20
            thread.start()
        }
        // Half the cores by default: measured here, a second core of PBKDF2 doubled
        // verify/'s p99 even at SCHED_IDLE (caches and the hypervisor are shared).
        let hashers = config.hashThreads ?? max(1, cores / 2)
        let intake = ConnectionIntake(listenFD: socket.fd, timeout: .milliseconds(config.fastcgiTimeoutMillis))
        let metrics = !config.metricsEnabled ? nil : Metrics(threads: config.threads + Self.slowLaneThreads + hashers, router: router) {
            [logins, cache, config, intake] in
            Metrics.Readings(loginQueueDepth: logins.depth, loginQueueCapacity: config.loginQueueLimit,
                             cacheEntries: cache?.count ?? 0, cacheInvalidations: cache?.invalidations ?? 0,
                             fastcgi: intake.snapshot)
        }
        metrics?.startSampling()
        for index in 0..<hashers {
            let thread = Thread {
                logins.runHasher(index: index, api: API(settings: settings, endpoint: endpoint, metrics: metrics,
                                                        logLevel: logLevelForThreads))
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        let watcher = Thread { Threads.name("durin-intake"); intake.watch(slowLaneThreads: Self.slowLaneThreads) }
        watcher.stackSize = 1 << 20
        watcher.start()
        let board = WorkerBoard(count: config.threads + Self.slowLaneThreads)
        let logLevel = logger.logLevel
        for index in 0..<(config.threads + Self.slowLaneThreads) {
            let lane: Worker.Lane = index < config.threads ? .accepting : .slow
            let thread = Thread {
                Worker(index: index, lane: lane, intake: intake, endpoint: endpoint, settings: settings, cache: cache,
                       metrics: metrics, logins: logins, board: board, logLevel: logLevel).run()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        logger.info("durin-fcgi listening", metadata: [
            "socket": .string(socket.summary), "threads": "\(config.threads)", "redis": .string(endpoint.description),
        ])

        let sig = ProcessSignals.waitForTermination()
        logger.info("\(ProcessSignals.name(sig)): finishing in-flight requests")
        board.beginShutdown()
        // Connections already accepted are still answered: those whose request is
        // on its way get most of the time systemd gives (TimeoutStopSec=5s, and the
        // loop below waits 1.8 s).
        intake.stop(grace: .milliseconds(1500))
        socket.shutdownOwned()
        // Workers in accept() are woken; busy ones finish their request first.
        let deadline = ContinuousClock.now + .milliseconds(1800)
        while !(board.allStopped && logins.isIdle) && ContinuousClock.now < deadline {
            for thread in board.idleThreads { ProcessSignals.wake(thread) }
            Thread.sleep(forTimeInterval: 0.01)
        }
        logger.info("stopped", metadata: ["clean": "\(board.allStopped && logins.isIdle)"])
        return 0
    }

    /// Threads that serve the connections the intake waited for (a slow or
    /// misbehaving peer's): workers also serve them between two requests.
    static let slowLaneThreads = 2

    /// Records the sealing secret's fingerprint and runs the layout migration, once;
    /// false when Redis could not be reached.
    private static func prepareStore(endpoint: RedisEndpoint, config: Configuration, logger: Logger) -> Bool {
        // Its own connection, with room for a large keyspace's scripts.
        let connection = endpoint.connection(timeoutMilliseconds: max(config.redisTimeoutMillis, 5000))
        do {
            if try TokenStore(connection: connection, configuration: config, sealing: .service).recordSealingSecret() {
                logger.warning("""
                    the sealing secret is not the one recorded before (DURIN_SECRET_KEY changed, or durinctl ran \
                    with other settings): tokens sealed under the old one get a new token at their next login
                    """)
            }
            let report = try LayoutMigration(connection: connection, configuration: config, sealing: .service).run()
            // The console's username index, for data from before it: built beside the
            // requests, a thousand names a round trip.
            Thread { [logger] in
                Threads.name("durin-userindex")
                let admin = AdminStore(connection: endpoint.connection(timeoutMilliseconds: max(config.redisTimeoutMillis, 5000)),
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
