import DurinCore
import DurinStore
import FastCGI
import Foundation
import Logging
import RedisClient
import Synchronization

/// The responder process: worker threads accepting FastCGI requests, and a main
/// thread that waits for SIGTERM/SIGINT and then shuts down cleanly.
public enum Server {
    /// Runs until SIGTERM/SIGINT; returns the exit status.
    public static func run(environment: [String: String]) -> Int32 {
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

        let socket: ListenSocket
        do {
            socket = try ListenSocket.open(address: config.listen, socketMode: mode_t(config.socketMode), environment: environment)
        } catch {
            logger.critical("cannot listen: \(error)")
            return 71  // EX_OSERR
        }

        let cores = ProcessInfo.processInfo.activeProcessorCount
        let logins = LoginPool(capacity: config.loginQueueLimit)
        if config.secretKey == nil {
            logger.notice("DURIN_SECRET_KEY is not set: the token-sealing secret is kept in Redis (\(config.keyPrefix)secret)")
        }
        let settings = ServiceSettings(configuration: config)

        if config.apiAccessClientName == nil {
            logger.info("apiaccess/ is disabled: DURIN_API_ACCESS_CLIENT_NAME is not set")
        }
        let logLevelForThreads = logger.logLevel
        let cache = config.tokenCacheTimeout > 0
            ? VerificationCache(timeoutSeconds: config.tokenCacheTimeout, keys: KeySpace(prefix: config.keyPrefix)) : nil
        if cache == nil { logger.info("verification cache disabled: DURIN_TOKEN_CACHE_TIMEOUT is 0") }

        FastCGI.initialize()
        ProcessSignals.prepare()
        if let cache {
            let listener = InvalidationListener(endpoint: endpoint, cache: cache, logger: logger)
            let thread = Thread { Threads.name("durin-inval"); listener.run() }
            thread.stackSize = 1 << 20
            thread.start()
        }
        // Half the cores by default: measured here, a second core of PBKDF2 doubled
        // verify/'s p99 even at SCHED_IDLE (caches and the hypervisor are shared).
        for index in 0..<(config.hashThreads ?? max(1, cores / 2)) {
            let thread = Thread {
                let api = API(settings: settings, endpoint: endpoint, logLevel: logLevelForThreads)
                logins.runHasher(index: index, complete: api.completeLogin)
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        let board = WorkerBoard(count: config.threads)
        let logLevel = logger.logLevel
        for index in 0..<config.threads {
            let thread = Thread {
                Worker(index: index, listenFD: socket.fd, endpoint: endpoint, settings: settings, cache: cache, logins: logins,
                       board: board, logLevel: logLevel).run()
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
        FastCGI.shutdownPending()
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
}

/// What each worker is doing, so shutdown wakes only the idle ones (a signal
/// during a busy request could interrupt its I/O). One slot of atomics per worker:
/// the request path takes no shared lock.
final class WorkerBoard: Sendable {
    enum State: Int { case starting, idle, busy, stopped }

    final class Slot: Sendable {
        let state = Atomic(State.starting.rawValue)
        let thread = Atomic<UInt>(0)
    }

    private let slots: [Slot]
    private let stopping = Atomic(false)

    init(count: Int) { slots = (0..<count).map { _ in Slot() } }

    var isStopping: Bool { stopping.load(ordering: .acquiring) }
    func beginShutdown() { stopping.store(true, ordering: .releasing) }

    func register(_ index: Int, thread: ProcessSignals.ThreadID) { slots[index].thread.store(UInt(thread), ordering: .releasing) }
    func set(_ index: Int, _ state: State) { slots[index].state.store(state.rawValue, ordering: .releasing) }

    var idleThreads: [ProcessSignals.ThreadID] {
        slots.filter { $0.state.load(ordering: .acquiring) == State.idle.rawValue }
            .map { ProcessSignals.ThreadID($0.thread.load(ordering: .acquiring)) }
    }

    var allStopped: Bool { slots.allSatisfy { $0.state.load(ordering: .acquiring) == State.stopped.rawValue } }
}

/// One worker thread: its own Redis connection and FastCGI request slot.
struct Worker {
    let index: Int
    let listenFD: Int32
    let endpoint: RedisEndpoint
    let settings: ServiceSettings
    let cache: VerificationCache?
    let logins: LoginPool
    let board: WorkerBoard
    let logLevel: Logger.Level

    func run() {
        Threads.name("durin-w\(index)")
        let config = settings.configuration
        let api = API(settings: settings, endpoint: endpoint, cache: cache, logLevel: logLevel)
        var request = FastCGIRequest(listenFD: listenFD)
        board.register(index, thread: ProcessSignals.currentThread)
        defer { board.set(index, .stopped) }
        while !board.isStopping {
            board.set(index, .idle)
            guard !board.isStopping else { break }
            guard request.accept() else {
                if board.isStopping { break }
                continue  // interrupted or a failed accept: try again
            }
            board.set(index, .busy)
            var response: HTTPResponse
            switch serve(request, api: api, config: config) {
            case .respond(let r):
                response = r
            case .checkPassword(let login):
                if logins.submit(LoginPool.Job(request: request, login: login)) {
                    // The hasher answers it; this thread takes a fresh request slot.
                    request = FastCGIRequest(listenFD: listenFD)
                    continue
                }
                response = APIError.busy.response(authPrefix: config.authHeaderPrefix)
            }
            request.respond(status: response.status, reason: response.reason, headers: response.headers, body: response.body)
            request.finish()
        }
    }

    private func serve(_ request: FastCGIRequest, api: API, config: Configuration) -> API.Handling {
        let contentLength = Int(request.param("CONTENT_LENGTH") ?? "") ?? 0
        let body: [UInt8]
        switch request.readBody(contentLength: contentLength, limit: config.maxBodyBytes) {
        case .body(let b): body = b
        case .tooLarge: return .respond(APIError.bodyTooLarge(limit: config.maxBodyBytes).response(authPrefix: config.authHeaderPrefix))
        case .truncated: return .respond(APIError.jsonParse("request body ended early").response(authPrefix: config.authHeaderPrefix))
        }
        var directives = HTTPRequest.Directives()
        directives.allowClients = HTTPRequest.clientList(request.param("DURIN_ALLOW_CLIENTS"))
        directives.denyClients = HTTPRequest.clientList(request.param("DURIN_DENY_CLIENTS"))
        directives.throttle = HTTPRequest.isOn(request.param("DURIN_THROTTLE"))
        directives.cache = HTTPRequest.isOn(request.param("DURIN_CACHE"))
        directives.trusted = request.param("DURIN_TRUSTED") == "1"
        directives.authRequest = request.param("DURIN_AUTH_REQUEST") == "1"
        return api.handle(HTTPRequest(
            method: request.param("REQUEST_METHOD") ?? "GET",
            path: request.param("PATH_INFO") ?? "",
            mountPrefix: request.param("SCRIPT_NAME") ?? "",
            authorization: request.paramBytes("HTTP_AUTHORIZATION"),
            contentType: request.param("CONTENT_TYPE"),
            body: body,
            directives: directives))
    }
}
