import DurinCache
import DurinCore
import DurinHTTP
import DurinStore
import FastCGI
import Logging
import RedisClient
import Synchronization
import SystemSupport

/// What each worker is doing, so shutdown wakes only the idle ones (a signal
/// during a busy request could interrupt its I/O) and knows when all have ended. One slot of atomics per worker:
/// the request path takes no shared lock.
final class WorkerBoard: Sendable {
    enum State: Int { case starting, idle, busy, stopped }

    final class Slot: Sendable {
        let state = Atomic(State.starting.rawValue)
        let thread = Atomic<UInt>(0)
    }

    private let slots: [Slot]

    init(count: Int) { slots = (0..<count).map { _ in Slot() } }

    func register(_ index: Int, thread: ProcessSignals.ThreadID) { slots[index].thread.store(UInt(thread), ordering: .releasing) }
    func set(_ index: Int, _ state: State) { slots[index].state.store(state.rawValue, ordering: .releasing) }

    var idleThreads: [ProcessSignals.ThreadID] {
        slots.filter { $0.state.load(ordering: .acquiring) == State.idle.rawValue }
            .map { ProcessSignals.ThreadID($0.thread.load(ordering: .acquiring)) }
    }

    var allStopped: Bool { slots.allSatisfy { $0.state.load(ordering: .acquiring) == State.stopped.rawValue } }
}

/// One worker thread: its own Redis connection and FastCGI request slot.
///
/// Accepting workers take new connections, waiting ones the connections nginx keeps
/// and requests that arrived in pieces; each serves a connection only once its
/// request has arrived whole (ConnectionIntake).
struct Worker {
    enum Lane { case accepting, waiting }

    let index: Int
    let lane: Lane
    let intake: ConnectionIntake
    let endpoint: RedisEndpoint
    let settings: ServiceSettings
    let cache: VerificationCache?
    let metrics: Metrics?
    let logins: LoginPool
    let board: WorkerBoard
    let logLevel: Logger.Level

    func run() {
        Threads.name(lane == .accepting ? "durin-w\(index)" : "durin-kept\(index)")
        let config = settings.configuration
        let api = API(settings: settings, endpoint: endpoint, cache: cache, metrics: metrics, logLevel: logLevel)
        let seat = ConnectionIntake.Seat(serves: true)
        var request = FastCGIRequest()
        board.register(index, thread: ProcessSignals.currentThread)
        defer { board.set(index, .stopped) }
        // Until the intake is drained: at a stop, requests already on their way are answered.
        while true {
            board.set(index, .idle)
            guard let connection = lane == .accepting ? intake.nextAccepted(seat) : intake.nextWaiting(seat) else { break }
            board.set(index, .busy)
            // A params block libfcgi cannot read: it has closed the connection.
            guard request.begin(connection) else {
                intake.lost(connection)
                continue
            }
            let started = ContinuousClock.now
            let handled: API.Handled
            switch RequestMapping.admit(request, proxyKey: config.proxyKey) {
            case .refused(let error, let reshape):
                let proven = error != .notFromProxy
                if !proven {
                    api.slot?.proxyRefusals.add()
                    api.logger.notice("request refused: no valid proxy key (not from nginx)")
                }
                let response = error.response(authSchemes: config.authSchemes)
                answer(request, api, reshape ? API.forAuthRequest(response) : response, started: started, keep: proven, seat)
                continue
            case .admitted(let contentLength):
                switch request.readBody(contentLength: contentLength, limit: config.maxBodyBytes) {
                case .body(let body):
                    handled = api.handle(RequestMapping.request(request, body: body), started: started)
                case .tooLarge:
                    answer(
                        request, api, APIError.bodyTooLarge(limit: config.maxBodyBytes).response(authSchemes: config.authSchemes),
                        started: started, keep: true, seat)
                    continue
                case .truncated:
                    answer(
                        request, api, APIError.jsonParse("request body ended early").response(authSchemes: config.authSchemes),
                        started: started, keep: true, seat)
                    continue
                }
            }
            switch handled.handling {
            case .respond(let response):
                api.count(response, handled.context)
                request.respond(status: response.status, reason: response.reason, headers: response.headers, body: response.body)
                intake.finish(request, keep: true, seat: seat)
            case .checkPassword(let login):
                if logins.submit(LoginPool.Job(request: request, login: login)) {
                    // The pool checks, issues and answers; this thread takes a fresh request slot.
                    request = FastCGIRequest()
                    continue
                }
                let busy = api.finish(APIError.busy.response(authSchemes: config.authSchemes), handled.context)
                api.count(busy, handled.context)
                request.respond(status: busy.status, reason: busy.reason, headers: busy.headers, body: busy.body)
                intake.finish(request, keep: true, seat: seat)
            }
        }
    }

    /// A request refused before routing: counted as "unknown" (no route). `keep`: it
    /// carried the proxy key, so its connection may be kept.
    private func answer(
        _ request: FastCGIRequest, _ api: API, _ response: HTTPResponse, started: ContinuousClock.Instant, keep: Bool,
        _ seat: ConnectionIntake.Seat
    ) {
        api.count(response, route: nil, started: started)
        request.respond(status: response.status, reason: response.reason, headers: response.headers, body: response.body)
        intake.finish(request, keep: keep, seat: seat)
    }
}
