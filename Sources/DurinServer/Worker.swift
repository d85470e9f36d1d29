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
///
/// Workers accept from the listening socket; the slow lane's threads serve the
/// connections whose request the intake had to wait for (ConnectionIntake). Both
/// serve a connection only once its request has arrived.
struct Worker {
    enum Lane { case accepting, slow }

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
        Threads.name(lane == .accepting ? "durin-w\(index)" : "durin-slow\(index)")
        let config = settings.configuration
        let api = API(settings: settings, endpoint: endpoint, cache: cache, metrics: metrics, logLevel: logLevel)
        let reader = ConnectionIntake.Reader()
        var request = FastCGIRequest()
        board.register(index, thread: ProcessSignals.currentThread)
        defer { board.set(index, .stopped) }
        while !board.isStopping {
            board.set(index, .idle)
            guard !board.isStopping,
                  let connection = lane == .accepting ? intake.next(reader: reader) : intake.nextReady() else { break }
            board.set(index, .busy)
            // A params block libfcgi cannot read: it has closed the connection.
            guard request.begin(connection) else { continue }
            let started = api.slot != nil ? ContinuousClock.now : nil
            let handled = serve(request, api: api, config: config)
            let response: HTTPResponse
            switch handled.handling {
            case .respond(let r):
                response = r
            case .checkPassword(let login):
                if logins.submit(LoginPool.Job(request: request, login: login)) {
                    // The pool checks, issues and answers; this thread takes a fresh request slot.
                    request = FastCGIRequest()
                    continue
                }
                response = APIError.busy.response(authSchemes: config.authSchemes)
            }
            if let started, handled.route == .verify {
                api.slot?.verifyLatency.observe(nanos: (ContinuousClock.now - started).nanoseconds)
            }
            api.countAnswer(response, route: handled.route)
            request.respond(status: response.status, reason: response.reason, headers: response.headers, body: response.body)
            request.finish()
        }
    }

    /// A request refused before routing counts as "unknown" (route nil).
    private func serve(_ request: FastCGIRequest, api: API, config: Configuration) -> API.Handled {
        func refused(_ error: APIError) -> API.Handled {
            API.Handled(route: nil, handling: .respond(error.response(authSchemes: config.authSchemes)))
        }
        let authRequest = request.param("DURIN_AUTH_REQUEST", is: "1")
        // Before anything else, the body included: only nginx gives durin requests.
        guard let key = config.proxyKey, ProxyKey.admits(request.paramBytes("DURIN_PROXY_KEY"), key: key) else {
            api.slot?.proxyRefusals.add()
            api.logger.notice("request refused: no valid proxy key (not from nginx)")
            return refused(.notFromProxy)
        }
        // Another gateway's check (Caddy's forward_auth), whose denials reach the
        // client as durin gives them: auth_request's defence without its rewriting.
        let forwardAuth = request.param("DURIN_FORWARD_AUTH", is: "1")
        // The gateway passes the client's request headers to the check as HTTP_*
        // params, every line of them: a client's own X-Durin-* header (in any number
        // of lines, empty ones too) must never reach an upstream that trusts them,
        // whatever the protected location forwards. (Caddy 2.6's copy_headers leaves
        // a client's header in place when durin's answer lacks it: X-Durin-Expiry of
        // a token that never expires.)
        if (authRequest || forwardAuth) && request.hasParam(prefixed: "HTTP_X_DURIN_") {
            let refusal = APIError.forgedIdentityHeaders.response(authSchemes: config.authSchemes)
            return API.Handled(route: nil, handling: .respond(authRequest ? API.forAuthRequest(refusal) : refusal))
        }
        // A check reads no body. Caddy 2.6's forward_auth passes the client's body to
        // the check (its method rewritten to GET): reading it would answer 413 for an
        // upload the upstream accepts. Left unread, it goes with the connection.
        let contentLength = forwardAuth ? 0 : Int(request.param("CONTENT_LENGTH") ?? "") ?? 0
        let body: [UInt8]
        switch request.readBody(contentLength: contentLength, limit: config.maxBodyBytes) {
        case .body(let b): body = b
        case .tooLarge: return refused(.bodyTooLarge(limit: config.maxBodyBytes))
        case .truncated: return refused(.jsonParse("request body ended early"))
        }
        var directives = HTTPRequest.Directives()
        directives.allowClients = HTTPRequest.clientList(request.param("DURIN_ALLOW_CLIENTS"))
        directives.denyClients = HTTPRequest.clientList(request.param("DURIN_DENY_CLIENTS"))
        directives.throttle = request.paramIsOn("DURIN_THROTTLE")
        directives.cache = request.paramIsOn("DURIN_CACHE")
        directives.trusted = request.param("DURIN_TRUSTED", is: "1")
        directives.metrics = request.param("DURIN_METRICS", is: "1")
        directives.authRequest = authRequest
        directives.console = request.param("DURIN_CONSOLE", is: "1")
        directives.openAPI = request.param("DURIN_OPENAPI", is: "1")
        var console: HTTPRequest.ConsoleContext?
        if directives.console {
            var c = HTTPRequest.ConsoleContext()
            c.cookie = request.param("HTTP_COOKIE")
            c.origin = request.param("HTTP_ORIGIN")
            c.fetchSite = request.param("HTTP_SEC_FETCH_SITE")
            c.host = request.param("HTTP_HOST")
            c.scheme = request.param("REQUEST_SCHEME") ?? "http"
            c.query = request.param("QUERY_STRING") ?? ""
            c.csrf = request.param("HTTP_X_CSRF_TOKEN")
            console = c
        }
        let method = request.param("REQUEST_METHOD") ?? "GET"
        return api.handle(HTTPRequest(
            method: method,
            path: request.param("PATH_INFO") ?? "",
            mountPrefix: request.param("SCRIPT_NAME") ?? "",
            authorization: request.paramBytes("HTTP_AUTHORIZATION"),
            contentType: request.param("CONTENT_TYPE"),
            body: body,
            directives: directives,
            remoteAddress: request.param("REMOTE_ADDR"),
            // Kept with a token at login/ and issue/, both POST: a check (GET) does
            // not copy it.
            userAgent: method == "POST" ? request.param("HTTP_USER_AGENT") : nil,
            console: console))
    }
}
