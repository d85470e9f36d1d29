package import DurinCore
package import DurinHTTP
import FastCGI

/// The FastCGI params of a request, as the mapping reads them: libfcgi's in
/// service, a dictionary in tests.
package protocol RequestParams {
    /// A param's value (nil: not sent); bytes that are not UTF-8 are repaired.
    func param(_ name: String) -> String?
    /// A param's bytes, exactly as sent.
    func paramBytes(_ name: String) -> [UInt8]?
    /// Whether a param is exactly `value`.
    func param(_ name: String, is value: String) -> Bool
    /// A switch (`on`, `1`, `true` or `yes`, in any case).
    func paramIsOn(_ name: String) -> Bool
    /// Whether any param's name starts with `prefix`, whatever the values.
    func hasParam(prefixed prefix: String) -> Bool
}

extension FastCGIRequest: RequestParams {}

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
        let authRequest = params.param("DURIN_AUTH_REQUEST", is: "1")
        // Before anything else, the body included: only nginx gives durin requests.
        guard let proxyKey, ProxyKey.admits(params.paramBytes("DURIN_PROXY_KEY"), key: proxyKey) else {
            return .refused(.notFromProxy, reshapeForAuthRequest: false)
        }
        // Another gateway's check (Caddy's forward_auth), whose denials reach the
        // client as durin gives them: auth_request's defence without its rewriting.
        let forwardAuth = params.param("DURIN_FORWARD_AUTH", is: "1")
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
        return .admitted(contentLength: forwardAuth ? 0 : max(0, Int(params.param("CONTENT_LENGTH") ?? "") ?? 0))
    }

    /// The request an admitted request's params and body describe.
    package static func request(_ params: some RequestParams, body: [UInt8]) -> HTTPRequest {
        var directives = HTTPRequest.Directives()
        directives.allowClients = HTTPRequest.clientList(params.param("DURIN_ALLOW_CLIENTS"))
        directives.denyClients = HTTPRequest.clientList(params.param("DURIN_DENY_CLIENTS"))
        directives.throttle = params.paramIsOn("DURIN_THROTTLE")
        directives.cache = params.paramIsOn("DURIN_CACHE")
        directives.trusted = params.param("DURIN_TRUSTED", is: "1")
        directives.metrics = params.param("DURIN_METRICS", is: "1")
        directives.authRequest = params.param("DURIN_AUTH_REQUEST", is: "1")
        directives.console = params.param("DURIN_CONSOLE", is: "1")
        directives.openAPI = params.param("DURIN_OPENAPI", is: "1")
        var browser: HTTPRequest.BrowserContext?
        // Only a location that serves browsers reads what they send.
        if directives.console {
            var c = HTTPRequest.BrowserContext()
            c.cookie = params.param("HTTP_COOKIE")
            c.origin = params.param("HTTP_ORIGIN")
            c.fetchSite = params.param("HTTP_SEC_FETCH_SITE")
            c.host = params.param("HTTP_HOST")
            c.scheme = params.param("REQUEST_SCHEME") ?? "http"
            c.query = params.param("QUERY_STRING") ?? ""
            c.csrf = params.param("HTTP_X_CSRF_TOKEN")
            browser = c
        }
        let method = params.param("REQUEST_METHOD") ?? "GET"
        return HTTPRequest(
            method: method,
            path: params.param("PATH_INFO") ?? "",
            mountPrefix: params.param("SCRIPT_NAME") ?? "",
            authorization: params.paramBytes("HTTP_AUTHORIZATION"),
            contentType: params.param("CONTENT_TYPE"),
            body: body,
            directives: directives,
            remoteAddress: params.param("REMOTE_ADDR"),
            // Kept with a token at login/ and issue/, both POST: a check (GET) does
            // not copy it.
            userAgent: method == "POST" ? params.param("HTTP_USER_AGENT") : nil,
            browser: browser,
            requestID: TraceContext.requestID(params.param("DURIN_REQUEST_ID")),
            traceparent: TraceContext.traceparent(params.param("HTTP_TRACEPARENT")))
    }
}
