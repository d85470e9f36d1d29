import DurinCore
import DurinHTTP
import DurinStore

/// A route of the HTTP API (docs/api.md), matched on PATH_INFO with or without the
/// trailing slash: one entry of `Route.table` and, for `sessions/<id>/`, the id.
public struct Route: Equatable, Sendable {
    /// The route's declaration.
    public var spec: Spec { Route.table[index] }
    /// Its position in `table`, which is also its metrics label's.
    public let index: Int
    /// `sessions/<id>/`: the id as written (durin answers 404 for a non-integer).
    public let parameter: String?

    public static func == (a: Route, b: Route) -> Bool { a.index == b.index && a.parameter == b.parameter }

    /// One route, declared once: where it is, what it answers, whether it needs a
    /// token, its metrics label and its handler. Nothing else lists routes.
    public struct Spec: Sendable {
        /// Its `route` label in durin_requests_total.
        public let name: String
        let path: Path
        /// The methods it answers (DRF adds OPTIONS to every view, HEAD to GET).
        public let methods: [String]
        /// DRF's view name (shown by OPTIONS).
        public let viewName: String
        /// Where it exists: elsewhere it looks like any unknown path.
        let exists: Availability
        let action: Action

        public var requiresToken: Bool {
            if case .token = action { return true }
            return false
        }
    }

    enum Path: Equatable, Sendable {
        case fixed(String)
        /// `sessions/<id>`: durin's router writes `sessions//<id>`; nginx merges the
        /// slashes, and a server that does not still reaches the same session.
        case session
        /// Every path of the console's location (durin-console.conf), and of no other.
        case console
    }

    enum Availability: Sendable {
        case always
        /// issue/: only where nginx sets DURIN_TRUSTED.
        case trustedLocation
        /// apiaccess/: only with DURIN_API_ACCESS_CLIENT_NAME.
        case apiAccessClient
        /// metrics/: only where nginx sets DURIN_METRICS, with metrics on.
        case metricsLocation
        /// The operator console: only where nginx sets DURIN_CONSOLE.
        case consoleLocation
        /// openapi.json: only where nginx sets DURIN_OPENAPI.
        case openAPILocation
    }

    /// What a handler gets: the request and, for `sessions/<id>/`, the id.
    struct Call {
        let request: HTTPRequest
        let parameter: String?
    }

    typealias Open = @Sendable (API, Call) throws(APIError) -> HTTPResponse
    typealias Authenticated = @Sendable (API, Call, TokenRecord) throws(APIError) -> HTTPResponse

    enum Action: Sendable {
        /// Answered without a token.
        case open(Open)
        /// Needs a token; the handler gets the checked record, never an optional.
        /// `locationRules`: the check applies the location's client rules, throttle
        /// and cache (verify/).
        case token(locationRules: Bool, Authenticated)
        /// Admitted here; its password is checked on a hasher (LoginPool).
        case login
        /// The operator console's pages and JSON (Console.swift), signed in by cookie.
        case console
    }

    /// The HTTP API.
    static let table: [Spec] = [
        Spec(name: "login", path: .fixed("login"), methods: ["POST", "OPTIONS"], viewName: "Login", exists: .always,
             action: .login),
        Spec(name: "refresh", path: .fixed("refresh"), methods: ["POST", "OPTIONS"], viewName: "Refresh", exists: .always,
             action: .token(locationRules: false) { api, _, auth throws(APIError) in try api.refresh(auth) }),
        Spec(name: "logout", path: .fixed("logout"), methods: ["POST", "OPTIONS"], viewName: "Logout", exists: .always,
             action: .token(locationRules: false) { api, _, auth throws(APIError) in try api.logout(auth) }),
        Spec(name: "logoutall", path: .fixed("logoutall"), methods: ["POST", "OPTIONS"], viewName: "Logout All", exists: .always,
             action: .token(locationRules: false) { api, _, auth throws(APIError) in try api.logoutAll(auth) }),
        Spec(name: "verify", path: .fixed("verify"), methods: ["GET", "HEAD", "OPTIONS"], viewName: "Verify", exists: .always,
             action: .token(locationRules: true) { api, _, auth in api.verify(auth) }),
        Spec(name: "sessions", path: .fixed("sessions"), methods: ["GET", "HEAD", "OPTIONS"], viewName: "Token Sessions",
             exists: .always, action: .token(locationRules: false) { api, _, auth throws(APIError) in try api.sessions(auth) }),
        Spec(name: "session", path: .session, methods: ["DELETE", "OPTIONS"], viewName: "Token Sessions", exists: .always,
             action: .token(locationRules: false) { api, call, auth throws(APIError) in
                 try api.deleteSession(call.parameter ?? "", auth: auth, mountPrefix: call.request.mountPrefix)
             }),
        Spec(name: "apiaccess", path: .fixed("apiaccess"), methods: ["GET", "POST", "DELETE", "HEAD", "OPTIONS"],
             viewName: "API Access Token", exists: .apiAccessClient,
             action: .token(locationRules: false) { api, call, auth throws(APIError) in
                 try api.apiAccess(call.request.method.uppercased(), auth: auth)
             }),
        Spec(name: "issue", path: .fixed("issue"), methods: ["POST", "OPTIONS"], viewName: "Issue", exists: .trustedLocation,
             action: .open { api, call throws(APIError) in try api.issue(call.request) }),
        Spec(name: "introspect", path: .fixed("introspect"), methods: ["POST", "OPTIONS"], viewName: "Introspect",
             exists: .always, action: .open { api, call throws(APIError) in try api.introspect(call.request) }),
        Spec(name: "revoke", path: .fixed("revoke"), methods: ["POST", "OPTIONS"], viewName: "Revoke", exists: .always,
             action: .open { api, call throws(APIError) in try api.revokeForIssuer(call.request) }),
        Spec(name: "ready", path: .fixed("ready"), methods: ["GET", "HEAD"], viewName: "Ready", exists: .always,
             action: .open { api, _ in api.ready() }),
        Spec(name: "metrics", path: .fixed("metrics"), methods: ["GET", "HEAD"], viewName: "Metrics", exists: .metricsLocation,
             action: .open { api, _ in api.metricsResponse() }),
        Spec(name: "openapi", path: .fixed("openapi.json"), methods: ["GET", "HEAD"], viewName: "OpenAPI",
             exists: .openAPILocation, action: .open { _, _ in API.openAPIResponse }),
        Spec(name: "console", path: .console, methods: ["GET", "HEAD", "POST"], viewName: "Console", exists: .consoleLocation,
             action: .console),
    ]

    /// The metrics label of a request that matched no route (or was refused first).
    static let unknownLabel = "unknown"

    static func named(_ name: String) -> Route {
        Route(index: table.firstIndex { $0.name == name }!, parameter: nil)
    }

    public static let login = named("login")
    public static let verify = named("verify")
    public static let console = named("console")

    public static func match(_ pathInfo: String) -> Route? {
        var path = Substring(pathInfo)
        while path.hasPrefix("/") { path = path.dropFirst() }
        if path.hasSuffix("/") { path = path.dropLast() }
        for (index, spec) in table.enumerated() {
            if case .fixed(let name) = spec.path, name.utf8.elementsEqual(path.utf8) { return Route(index: index, parameter: nil) }
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        if parts.count == 2, parts[0] == "sessions", path.hasPrefix("sessions/"),
           let index = table.firstIndex(where: { $0.path == .session }) {
            return Route(index: index, parameter: String(parts[1]))
        }
        return nil
    }
}
