import DurinCore
package import DurinHTTP
import DurinStore

/// The pipeline every request takes, whatever its group: match the route in the
/// location's group, run the group's admission, check the route's existence, token
/// and method in DRF's order, run the handler, and map any error, then apply the
/// group's headers. Errors become answers in `answer(for:_:)` and answers are counted
/// in `count(_:_:)`: nowhere else.
extension API {
    /// What to do with a request: answer it now, or check a password first (on a
    /// hasher thread, see LoginPool, which answers it).
    package enum Handling {
        case respond(HTTPResponse)
        case checkPassword(LoginJob)
    }

    /// A request's context (its route, nil when none matched) and what to do with it.
    package struct Handled {
        package let context: RequestContext
        package let handling: Handling
    }

    /// Handles one request. Never throws: every failure becomes durin's error response.
    package func handle(_ request: HTTPRequest, started: ContinuousClock.Instant = .now) -> Handled {
        let context = RequestContext(
            request: request, route: router.match(request.path, in: request.location), group: router.group(for: request.location),
            logger: logger, slot: slot, clock: settings.clock, started: started)
        traceEvents(of: context)
        var handling: Handling
        do {
            handling = try dispatch(context)
        } catch {
            handling = .respond(answer(for: error, context))
        }
        if case .respond(let response) = handling { handling = .respond(finish(response, context)) }
        return Handled(context: context, handling: handling)
    }

    /// Runs a route as its declaration says. DRF's order: authenticate, check
    /// permissions, then the method.
    private func dispatch(_ context: RequestContext) throws -> Handling {
        let request = context.request
        // A location whose group is not mounted (a build without the console) has no routes.
        guard let group = context.group else { throw APIError.notFound }
        try group.admit(self, context)
        guard let route = context.route else { throw APIError.notFound }
        let spec = route.spec
        // Routes that exist only where configured look like any unknown path elsewhere.
        guard exists(spec, request.directives) else { throw APIError.notFound }
        /// nil: the method is the route's own; else OPTIONS's description of the route.
        func methodChecked() throws(APIError) -> HTTPResponse? {
            let method = request.method.uppercased()
            guard spec.methods.contains(method) else {
                throw group.wrongMethod == .notFound ? .notFound : .methodNotAllowed(method: method, allowed: spec.methods)
            }
            return method == "OPTIONS" ? options(spec) : nil
        }
        switch spec.action {
        case .token(let locationRules, let handler):
            let auth = try authenticate(context, locationRules: locationRules)
            if let options = try methodChecked() { return .respond(options) }
            return .respond(try handler(self, context, auth))
        case .open(let handler):
            if let options = try methodChecked() { return .respond(options) }
            return .respond(try handler(self, context))
        case .login:
            if let options = try methodChecked() { return .respond(options) }
            return .checkPassword(try admitLogin(context))
        case .hashedWithToken(let handler):
            let auth = try authenticate(context, locationRules: false)
            if let options = try methodChecked() { return .respond(options) }
            // Only a POST may check or hash a password: it goes to a hasher, counted
            // against its address as a login is. A GET only reads, here.
            guard request.method.uppercased() == "POST" else { return .respond(try handler(self, context, auth)) }
            return .checkPassword(try admitLogin(context, caller: .token(auth)))
        case .onHasher:
            if let options = try methodChecked() { return .respond(options) }
            return .checkPassword(LoginJob(context: context, addressGroup: ClientAddress.group(context.request.remoteAddress)))
        case .hashedForIssuer(let right, _):
            // The key comes in the Authorization header only: the body is read on the hasher.
            let issuer = try callingIssuer(context, .empty, right: right)
            if let options = try methodChecked() { return .respond(options) }
            return .checkPassword(
                LoginJob(context: context, addressGroup: ClientAddress.group(context.request.remoteAddress), caller: .issuer(issuer)))
        }
    }

    private func exists(_ spec: RouteSpec, _ directives: HTTPRequest.Directives) -> Bool {
        switch spec.exists {
        case .always: return true
        case .trustedLocation: return directives.trusted
        case .apiAccessClient: return config.apiAccessClientName != nil
        case .metricsLocation: return directives.metrics && metrics != nil
        case .openAPILocation: return directives.openAPI
        case .cookieLocation: return directives.cookie
        }
    }

    func options(_ spec: RouteSpec) -> HTTPResponse {
        .json(
            200,
            [
                "name": .string(spec.viewName), "description": "",
                "renders": ["application/json"],
                "parses": ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"],
            ], headers: [("Allow", spec.methods.joined(separator: ", "))])
    }

    /// The events the stores record while answering this request name it, on
    /// whichever thread answers (a worker, or a hasher for a login).
    func traceEvents(of context: RequestContext) {
        tokens.trace = context.request.requestID ?? ""
        admin.trace = tokens.trace
    }

    /// Any error a handler throws, as durin's answer: its own `APIError`s as they
    /// are, the store's as 503 (Redis trouble, counted) or 500, logged here.
    package func answer(for error: any Error, _ context: RequestContext) -> HTTPResponse {
        let apiError: APIError
        switch error {
        case let error as APIError:
            apiError = error
        case let error as any HTTPResponseError:
            apiError = error.apiError
            if apiError == .storeUnavailable {
                context.slot?.redisErrors.add()
                context.logger.warning("token store unavailable", metadata: ["error": .string("\(error)")])
            } else if apiError == .internalError {
                context.logger.error("token store error", metadata: ["error": .string("\(error)")])
            }
        default:
            apiError = .internalError
            context.logger.error("unexpected error", metadata: ["error": .string("\(error)")])
        }
        let scheme = context.group?.authScheme
        return apiError.response(authSchemes: scheme.map { [$0] } ?? config.authSchemes)
    }

    /// The group's headers on every answer of its location, and, for nginx's
    /// auth_request, denials reshaped into what it passes on.
    package func finish(_ response: HTTPResponse, _ context: RequestContext) -> HTTPResponse {
        let request = context.request
        var finished = context.group?.finish(response) ?? response
        guard request.directives.authRequest && request.location == .api else { return finished }
        if finished.status == 401, let signIn = signInRedirect(request) { finished.headers.append(("X-Durin-Signin", signIn)) }
        return Self.forAuthRequest(finished)
    }

    /// Counts an answer (before it leaves, so a scrape that follows sees it), the
    /// latency of a timed route, and any reconnects the request caused: the one
    /// place requests are counted.
    package func count(_ response: HTTPResponse, _ context: RequestContext) {
        count(response, route: context.route, started: context.started)
    }

    /// `route` nil: unmatched, or refused before routing ("unknown").
    package func count(_ response: HTTPResponse, route: Route?, started: ContinuousClock.Instant) {
        guard let slot else { return }
        if let route, route.spec.timed {
            slot.verifyLatency.observe(nanos: (ContinuousClock.now - started).nanoseconds)
        }
        slot.request(route: route?.index ?? router.routes.count, status: response.status)
        countReconnects()
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

extension HTTPRequest {
    /// The location's group: the console's where nginx sets DURIN_CONSOLE, else the API's.
    package var location: RouteGroup.Location { directives.console ? .console : .api }
}
