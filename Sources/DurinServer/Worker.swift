import DurinCore
import DurinHTTP
import DurinStore
import FastCGI
import Logging
import RedisClient
import Synchronization
import SystemSupport

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
    let metrics: Metrics?
    let logins: LoginPool
    let board: WorkerBoard
    let logLevel: Logger.Level

    func run() {
        Threads.name("durin-w\(index)")
        let config = settings.configuration
        let api = API(settings: settings, endpoint: endpoint, cache: cache, metrics: metrics, logLevel: logLevel)
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
            let started = api.slot != nil ? ContinuousClock.now : nil
            api.currentRoute = nil  // a body refused before routing counts as "unknown"
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
            if let started, api.currentRoute == .verify {
                api.slot?.verifyLatency.observe(nanos: (ContinuousClock.now - started).nanoseconds)
            }
            api.countAnswer(response, route: api.currentRoute)
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
        directives.metrics = request.param("DURIN_METRICS") == "1"
        directives.authRequest = request.param("DURIN_AUTH_REQUEST") == "1"
        return api.handle(HTTPRequest(
            method: request.param("REQUEST_METHOD") ?? "GET",
            path: request.param("PATH_INFO") ?? "",
            mountPrefix: request.param("SCRIPT_NAME") ?? "",
            authorization: request.paramBytes("HTTP_AUTHORIZATION"),
            contentType: request.param("CONTENT_TYPE"),
            body: body,
            directives: directives,
            remoteAddress: request.param("REMOTE_ADDR")))
    }
}
