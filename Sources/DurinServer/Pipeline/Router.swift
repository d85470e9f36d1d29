package import DurinHTTP
package import DurinStore

/// One route, declared once: where it is, what it answers, how it is authenticated,
/// its metrics label and its handler. A class: every request's `Route` refers to
/// its declaration instead of copying it. Nothing else lists routes: the dispatcher,
/// the metrics labels, OPTIONS and the OpenAPI test all read these.
package final class RouteSpec: Sendable {
    /// Its `route` label in durin_requests_total, unique in the router.
    package let name: String
    package let path: Path
    /// The methods it answers (DRF adds OPTIONS to every API view, HEAD to GET).
    package let methods: [String]
    /// DRF's view name (shown by OPTIONS).
    package let viewName: String
    /// Where it exists: elsewhere it looks like any unknown path.
    package let exists: Availability
    package let action: Action
    /// Its latency goes into durin_verify_duration_seconds (the token check).
    package let timed: Bool

    package init(
        _ name: String, _ path: Path, methods: [String], viewName: String = "", exists: Availability = .always,
        timed: Bool = false, _ action: Action
    ) {
        self.name = name
        self.path = path
        self.methods = methods
        self.viewName = viewName
        self.exists = exists
        self.action = action
        self.timed = timed
    }

    package var requiresToken: Bool {
        switch action {
        case .token, .hashedWithToken: return true
        default: return false
        }
    }

    /// Where a route is, below its group's mount point, matched with or without the
    /// trailing slash.
    package enum Path: Equatable, Sendable {
        /// Exactly this path (`login`, `openapi.json`, `""` for the mount point).
        case fixed(String)
        /// Segments, `nil` for a parameter: `["sessions", nil]` is `sessions/<id>`.
        /// Empty segments are skipped (durin's router writes `sessions//<id>`; nginx
        /// merges the slashes, and a server that does not still reaches the route).
        case pattern([String?])

        /// The parameters, when `path` (no leading slash, at most one trailing one
        /// removed) is this route's.
        func match(_ path: Substring) -> [String]? {
            switch self {
            case .fixed(let name):
                return name.utf8.elementsEqual(path.utf8) ? [] : nil
            case .pattern(let segments):
                let parts = path.split(separator: "/", omittingEmptySubsequences: true)
                guard parts.count == segments.count else { return nil }
                var parameters: [String] = []
                for (part, segment) in zip(parts, segments) {
                    if let literal = segment {
                        guard literal.utf8.elementsEqual(part.utf8) else { return nil }
                    } else {
                        parameters.append(String(part))
                    }
                }
                return parameters
            }
        }

        /// As the OpenAPI document writes it: `/login/`, `/sessions/{id}/`, `/openapi.json`.
        package var template: String {
            switch self {
            case .fixed(let name): return name.contains(".") ? "/\(name)" : "/\(name)/"
            case .pattern(let segments): return "/" + segments.map { $0 ?? "{id}" }.joined(separator: "/") + "/"
            }
        }
    }

    package enum Availability: Sendable {
        case always
        /// issue/: only where nginx sets DURIN_TRUSTED.
        case trustedLocation
        /// apiaccess/: only with DURIN_API_ACCESS_CLIENT_NAME.
        case apiAccessClient
        /// metrics/: only where nginx sets DURIN_METRICS, with metrics on.
        case metricsLocation
        /// openapi.json: only where nginx sets DURIN_OPENAPI.
        case openAPILocation
        /// signin/: only where the location takes browser sessions ($durin_cookie on).
        case cookieLocation
    }

    /// A handler that needs no token: it may authenticate in its own way (an issuer
    /// key, the console's cookie).
    package typealias Open = @Sendable (API, RequestContext) throws -> HTTPResponse
    /// A handler of a token route: it gets the checked record, never an optional.
    package typealias Authenticated = @Sendable (API, RequestContext, TokenRecord) throws -> HTTPResponse
    /// What a login does once its password matched, on the hasher (LoginPool).
    package typealias LoginCompletion = @Sendable (API, RequestContext, LoginAttempt, UserRecord) throws -> HTTPResponse
    /// A handler of an issuer's route: it gets the issuer whose key the request
    /// carried, already known to hold the route's right.
    package typealias IssuerHandler = @Sendable (API, RequestContext, IssuerRecord) throws -> HTTPResponse

    /// When a login must bring the user's second factor.
    package enum SecondFactor: Sendable {
        /// When its client says so (`--require-otp`; login/).
        case whenTheClientRequires
        /// Whenever the user has one (the console: staff).
        case whenEnrolled
    }

    package enum Action: Sendable {
        /// Answered without a token.
        case open(Open)
        /// Needs a token, checked first (DRF's order: authenticate, then the method).
        /// `locationRules`: the check applies the location's client rules, throttle
        /// and cache (verify/).
        case token(locationRules: Bool, Authenticated)
        /// Admitted on the worker (the per-address limit), its password checked on
        /// a hasher, then its second factor where `SecondFactor` asks for it, then
        /// completed there.
        case login(SecondFactor, LoginCompletion)
        /// A token route that checks or hashes a password (password/): the token is
        /// checked on the worker and the address counted as a login attempt; the
        /// handler runs on a hasher, so no hash ever holds a worker.
        case hashedWithToken(Authenticated)
        /// An issuer's route that may hash a password (users/): the key and its
        /// right are checked on the worker, so that nothing unauthenticated ever
        /// waits for a hasher; the handler runs on one.
        case hashedForIssuer(IssuerRight, IssuerHandler)
        /// A route that authenticates in its own way and may hash a password (the
        /// console's password form): the whole handler runs on a hasher.
        case onHasher(Open)
    }
}

/// Routes mounted together at one nginx location, with what they share: the
/// checks made before any of them, the headers on every answer, errors included,
/// and the scheme their 401s name.
package final class RouteGroup: Sendable {
    package let name: String
    /// The location that mounts it: the API's (no directive), or the one whose
    /// directive names this group (DURIN_CONSOLE). A location answers its own
    /// group's routes and no other's.
    package let location: Location
    package let routes: [RouteSpec]
    /// Runs first, for every request of the location, before the route is even
    /// matched (the console's Host and Origin).
    package let admit: @Sendable (API, RequestContext) throws -> Void
    /// Applied to every answer of the group, errors included.
    package let finish: @Sendable (HTTPResponse) -> HTTPResponse
    /// The scheme of the group's WWW-Authenticate (nil: DURIN_AUTH_HEADER_PREFIX's).
    package let authScheme: String?
    /// How a method the route does not take is answered.
    package let wrongMethod: WrongMethod

    package enum WrongMethod: Sendable {
        /// DRF's 405 with `Allow` (and OPTIONS describing the route).
        case methodNotAllowed
        /// 404, as for any path the group does not have: a page's JSON endpoints
        /// are a (method, path) each, and describe nothing.
        case notFound
    }

    package enum Location: Equatable, Sendable {
        case api
        case console
    }

    package init(
        name: String, location: Location, routes: [RouteSpec], authScheme: String? = nil,
        wrongMethod: WrongMethod = .methodNotAllowed,
        admit: @escaping @Sendable (API, RequestContext) throws -> Void = { _, _ in },
        finish: @escaping @Sendable (HTTPResponse) -> HTTPResponse = { $0 }
    ) {
        self.name = name
        self.location = location
        self.routes = routes
        self.authScheme = authScheme
        self.wrongMethod = wrongMethod
        self.admit = admit
        self.finish = finish
    }
}

/// A matched route: its declaration, its position in the router (its metrics
/// slot), its group and the path's parameters (`sessions/<id>/`: the id as written).
package struct Route: Sendable {
    package let spec: RouteSpec
    package let index: Int
    package let group: RouteGroup
    package let parameters: [String]

    /// The first parameter, as written.
    package var parameter: String? { parameters.first }
}

/// Every route of the service, in its groups, built once at start. Its order is the
/// metrics labels' order.
package struct Router: Sendable {
    package let groups: [RouteGroup]
    /// Every route of every group, in order: a route's index is its metrics slot.
    package let routes: [RouteSpec]
    /// The metrics label of a request that matched no route (or was refused first).
    package static let unknownLabel = "unknown"

    package init(groups: [RouteGroup]) {
        self.groups = groups
        routes = groups.flatMap(\.routes)
        let names = routes.map(\.name)
        precondition(Set(names).count == names.count, "two routes share a metrics label")
        precondition(!names.contains(Self.unknownLabel))
    }

    /// The `route` labels of durin_requests_total: every route's, then "unknown".
    package var labels: [String] { routes.map(\.name) + [Self.unknownLabel] }

    package func index(of name: String) -> Int? { routes.firstIndex { $0.name == name } }

    package func group(for location: RouteGroup.Location) -> RouteGroup? { groups.first { $0.location == location } }

    /// The route of `pathInfo` in the location's group. Leading slashes never
    /// matter; one trailing slash is optional.
    package func match(_ pathInfo: String, in location: RouteGroup.Location = .api) -> Route? {
        // Over the bytes (every request is matched): a slash is one byte in UTF-8.
        let slash = UInt8(ascii: "/")
        var bytes = Substring(pathInfo).utf8
        while bytes.first == slash { bytes = bytes.dropFirst() }
        if bytes.last == slash { bytes = bytes.dropLast() }
        let path = Substring(bytes)
        var index = 0
        for group in groups {
            defer { index += group.routes.count }
            guard group.location == location else { continue }
            for (offset, spec) in group.routes.enumerated() {
                if let parameters = spec.path.match(path) {
                    return Route(spec: spec, index: index + offset, group: group, parameters: parameters)
                }
            }
        }
        return nil
    }
}
