import DurinCore
package import DurinHTTP
package import FastCGI

/// Every FastCGI param durin reads. A worker's request slot finds them all in one
/// pass over a request's params (`FastCGIRequest(indexing:)`), instead of scanning
/// every param once per name.
package enum Param: Int, CaseIterable, Sendable {
    case requestMethod, pathInfo, scriptName, contentType, contentLength, remoteAddress, authorization, userAgent
    case cookie, origin, fetchSite, host, scheme, queryString, csrfToken, traceparent
    case proxyKey, authRequest, forwardAuth, allowClients, denyClients, throttle, cache, trusted, metrics, console, openAPI
    case requestID, cookieLocation, forwardToken, originalMethod, upgrade, requestURI, requireStaff
    case assertion, assertionAudience, site

    /// The param's name, as nginx (or Caddy) sends it.
    package var name: String {
        switch self {
        case .requestMethod: return "REQUEST_METHOD"
        case .pathInfo: return "PATH_INFO"
        case .scriptName: return "SCRIPT_NAME"
        case .contentType: return "CONTENT_TYPE"
        case .contentLength: return "CONTENT_LENGTH"
        case .remoteAddress: return "REMOTE_ADDR"
        case .authorization: return "HTTP_AUTHORIZATION"
        case .userAgent: return "HTTP_USER_AGENT"
        case .cookie: return "HTTP_COOKIE"
        case .origin: return "HTTP_ORIGIN"
        case .fetchSite: return "HTTP_SEC_FETCH_SITE"
        case .host: return "HTTP_HOST"
        case .scheme: return "REQUEST_SCHEME"
        case .queryString: return "QUERY_STRING"
        case .csrfToken: return "HTTP_X_CSRF_TOKEN"
        case .traceparent: return "HTTP_TRACEPARENT"
        case .proxyKey: return "DURIN_PROXY_KEY"
        case .authRequest: return "DURIN_AUTH_REQUEST"
        case .forwardAuth: return "DURIN_FORWARD_AUTH"
        case .allowClients: return "DURIN_ALLOW_CLIENTS"
        case .denyClients: return "DURIN_DENY_CLIENTS"
        case .throttle: return "DURIN_THROTTLE"
        case .cache: return "DURIN_CACHE"
        case .trusted: return "DURIN_TRUSTED"
        case .metrics: return "DURIN_METRICS"
        case .console: return "DURIN_CONSOLE"
        case .openAPI: return "DURIN_OPENAPI"
        case .requestID: return "DURIN_REQUEST_ID"
        case .cookieLocation: return "DURIN_COOKIE"
        case .forwardToken: return "DURIN_FORWARD_TOKEN"
        case .originalMethod: return "DURIN_METHOD"
        case .upgrade: return "HTTP_UPGRADE"
        case .requestURI: return "REQUEST_URI"
        case .requireStaff: return "DURIN_REQUIRE_STAFF"
        case .assertion: return "DURIN_ASSERTION"
        case .assertionAudience: return "DURIN_ASSERTION_AUDIENCE"
        case .site: return "DURIN_SITE"
        }
    }

    /// Every name, by position: what a request slot indexes.
    package static let index = ParamIndex.Names(allCases.map(\.name))
}

/// The FastCGI params of a request, as the mapping reads them: libfcgi's in
/// service, a dictionary in tests.
package protocol RequestParams {
    /// A param's value (nil: not sent); bytes that are not UTF-8 are repaired.
    func param(_ param: Param) -> String?
    /// A param's bytes, exactly as sent.
    func paramBytes(_ param: Param) -> [UInt8]?
    /// Whether a param is exactly `value`.
    func param(_ param: Param, is value: String) -> Bool
    /// A switch (`on`, `1`, `true` or `yes`, in any case).
    func paramIsOn(_ param: Param) -> Bool
    /// Whether any param's name starts with `prefix`, whatever the values.
    func hasParam(prefixed prefix: String) -> Bool
}

extension FastCGIRequest: RequestParams {
    /// A request slot that finds every param durin reads in one pass.
    package convenience init() { self.init(indexing: Param.index) }

    package func param(_ param: Param) -> String? { self.param(at: param.rawValue) }
    package func paramBytes(_ param: Param) -> [UInt8]? { paramBytes(at: param.rawValue) }
    package func param(_ param: Param, is value: String) -> Bool { self.param(at: param.rawValue, is: value) }
    package func paramIsOn(_ param: Param) -> Bool { paramIsOn(at: param.rawValue) }
}

/// How the params nginx (or Caddy) passes become an `HTTPRequest`, and what is
/// refused before any of it is read: a request without the proxy key, and a
/// gateway check that brought X-Durin-* headers of its own.
package enum RequestMapping {
    /// The decision made on the params alone, before the body is read.
    package enum Admission: Equatable {
        /// Read `contentLength` bytes of body, then map.
        case admitted(contentLength: Int)
        /// Refused with this answer (already shaped for auth_request where it must be).
        case refused(APIError, reshapeForAuthRequest: Bool)
    }

    package static func admit(_ params: some RequestParams, proxyKey: [UInt8]?) -> Admission {
        let authRequest = params.param(.authRequest, is: "1")
        // Before anything else, the body included: only nginx gives durin requests.
        guard let proxyKey, ProxyKey.admits(params.paramBytes(.proxyKey), key: proxyKey) else {
            return .refused(.notFromProxy, reshapeForAuthRequest: false)
        }
        // Another gateway's check (Caddy's forward_auth), whose denials reach the
        // client as durin gives them: auth_request's defence without its rewriting.
        let forwardAuth = params.param(.forwardAuth, is: "1")
        // The gateway passes the client's request headers to the check as HTTP_*
        // params, every line of them: a client's own X-Durin-* header (in any number
        // of lines, empty ones too) must never reach an upstream that trusts them,
        // whatever the protected location forwards. (Caddy 2.6's copy_headers leaves
        // a client's header in place when durin's answer lacks it: X-Durin-Expiry of
        // a token that never expires.)
        if (authRequest || forwardAuth) && params.hasParam(prefixed: "HTTP_X_DURIN_") {
            return .refused(.forgedIdentityHeaders, reshapeForAuthRequest: authRequest)
        }
        // A check reads no body. Caddy 2.6's forward_auth passes the client's body to
        // the check (its method rewritten to GET): reading it would answer 413 for an
        // upload the upstream accepts. Left unread, it goes with the connection.
        return .admitted(contentLength: forwardAuth ? 0 : max(0, Int(params.param(.contentLength) ?? "") ?? 0))
    }

    /// The request an admitted request's params and body describe.
    package static func request(_ params: some RequestParams, body: [UInt8]) -> HTTPRequest {
        var directives = HTTPRequest.Directives()
        directives.allowClients = HTTPRequest.clientList(params.param(.allowClients))
        directives.denyClients = HTTPRequest.clientList(params.param(.denyClients))
        directives.throttle = params.paramIsOn(.throttle)
        directives.cache = params.paramIsOn(.cache)
        directives.trusted = params.param(.trusted, is: "1")
        directives.metrics = params.param(.metrics, is: "1")
        directives.authRequest = params.param(.authRequest, is: "1")
        directives.console = params.param(.console, is: "1")
        directives.openAPI = params.param(.openAPI, is: "1")
        directives.cookie = params.paramIsOn(.cookieLocation)
        directives.forwardToken = params.paramIsOn(.forwardToken)
        directives.requireStaff = params.paramIsOn(.requireStaff)
        if params.paramIsOn(.assertion) {
            // Never from the request's Host: a client could then choose the audience,
            // and take an assertion made here to another upstream. Without one named,
            // the server's own (`$scheme://$server_name`, from nginx's configuration).
            let named = params.param(.assertionAudience) ?? ""
            directives.assertionAudience = !named.isEmpty ? named : params.param(.site).flatMap(WebOrigin.init)?.description
        }
        var browser: HTTPRequest.BrowserContext?
        // Only a location that serves browsers reads what they send.
        if directives.console || directives.cookie {
            var c = HTTPRequest.BrowserContext()
            c.cookie = params.param(.cookie)
            c.origin = params.param(.origin)
            c.fetchSite = params.param(.fetchSite)
            c.host = params.param(.host)
            c.scheme = params.param(.scheme) ?? "http"
            c.query = params.param(.queryString) ?? ""
            c.csrf = params.param(.csrfToken)
            c.method = params.param(.originalMethod).flatMap { $0.isEmpty ? nil : $0 }
            c.upgrade = !(params.param(.upgrade) ?? "").isEmpty
            c.uri = params.param(.requestURI)
            browser = c
        }
        let method = params.param(.requestMethod) ?? "GET"
        return HTTPRequest(
            method: method,
            path: params.param(.pathInfo) ?? "",
            mountPrefix: params.param(.scriptName) ?? "",
            authorization: params.paramBytes(.authorization),
            contentType: params.param(.contentType),
            body: body,
            directives: directives,
            remoteAddress: params.param(.remoteAddress),
            // Kept with a token at login/ and issue/, and named in a token_reused
            // event, which any check may record.
            userAgent: params.param(.userAgent),
            browser: browser,
            requestID: TraceContext.requestID(params.param(.requestID)),
            traceparent: TraceContext.traceparent(params.param(.traceparent)))
    }
}
