import DurinCore

/// One request as the handlers see it: copied out of libfcgi, so plain values.
package struct HTTPRequest: Sendable {
    package var method: String
    /// PATH_INFO: the path below the mount point (`/login/`).
    package var path: String
    /// SCRIPT_NAME: the mount point (`/api/auth`), used in durin's logout hint.
    package var mountPrefix: String
    /// The raw `Authorization` header bytes (may be any bytes).
    package var authorization: [UInt8]?
    package var contentType: String?
    package var body: [UInt8]
    /// FastCGI params set by the nginx snippets, never by the client.
    package var directives: Directives
    /// REMOTE_ADDR as nginx passes it: the per-address login limit's key.
    package var remoteAddress: String?
    /// The User-Agent header (POST requests only), kept with a token at login.
    package var userAgent: String?
    /// What a browser's request says of where it came from; read only where a
    /// location serves browsers (the console's), nil elsewhere: a check copies none of it.
    package var browser: BrowserContext?
    /// nginx's `$request_id` (DURIN_REQUEST_ID), when it is one: every log line and
    /// event of the request carries it.
    package var requestID: String?
    /// The W3C `traceparent` header, when well formed: its trace id goes with the request id.
    package var traceparent: String?

    /// The browser's side of a request.
    package struct BrowserContext: Sendable, Equatable {
        /// The Cookie header.
        package var cookie: String?
        /// Origin and Sec-Fetch-Site: where a state-changing request came from.
        package var origin: String?
        package var fetchSite: String?
        /// The Host header and the scheme nginx was reached by: this page's origin.
        package var host: String?
        package var scheme: String = "http"
        /// QUERY_STRING.
        package var query: String = ""
        /// The X-CSRF-Token header of a state change.
        package var csrf: String?
        /// The protected request's own method (nginx's `$request_method`, passed to
        /// the verify subrequest, whose method is always GET); nil at the API's routes,
        /// whose method is the request's.
        package var method: String?
        /// Whether the request asks for a protocol upgrade (a WebSocket).
        package var upgrade = false
        /// REQUEST_URI: the protected request's path and query (the sign-in page's way back).
        package var uri: String?
        package init() {}
    }

    package struct Directives: Sendable, Equatable {
        /// `$durin_allow_clients`: only these clients pass verify/.
        package var allowClients: [String] = []
        /// `$durin_deny_clients`: these clients are refused by verify/.
        package var denyClients: [String] = []
        /// `$durin_throttle on`: apply the (user, client) throttle.
        package var throttle = false
        /// `$durin_cache on`: answer verify/ from the in-process cache.
        package var cache = false
        /// Set by the trusted-issuance location only: enables `issue/`.
        package var trusted = false
        /// Set by the metrics location only: enables `metrics/`.
        package var metrics = false
        /// Set by the auth_request snippet: denials travel as 401/403 plus headers,
        /// since auth_request turns any other status into 500.
        package var authRequest = false
        /// Set by durin-console.conf: the operator console's routes, and no others, answer.
        package var console = false
        /// Set by a location that serves the API's description: enables `openapi.json`.
        package var openAPI = false
        /// `$durin_cookie on`: the durin_session cookie authenticates here (a request
        /// without a token in its Authorization header), and at the API's location a
        /// login of a cookie client sets it.
        package var cookie = false
        /// `$durin_forward_token on`: the credentials go on to the upstream, the
        /// session cookie with the other cookies.
        package var forwardToken = false
        /// `$durin_require_staff on`: only staff users pass (403 otherwise).
        package var requireStaff = false
        /// `$durin_assertion on`: the upstream gets a signed identity assertion for
        /// this audience (`$durin_assertion_audience`, else the server's origin,
        /// `$scheme://$server_name`); nil where none is asked for (or a server
        /// without a name gives no audience: no assertion then).
        package var assertionAudience: String?
        package init() {}
    }

    package init(
        method: String, path: String, mountPrefix: String = "", authorization: [UInt8]? = nil,
        contentType: String? = nil, body: [UInt8] = [], directives: Directives = Directives(),
        remoteAddress: String? = nil, userAgent: String? = nil, browser: BrowserContext? = nil,
        requestID: String? = nil, traceparent: String? = nil
    ) {
        self.method = method
        self.path = path
        self.mountPrefix = mountPrefix
        self.authorization = authorization
        self.contentType = contentType
        self.body = body
        self.directives = directives
        self.remoteAddress = remoteAddress
        self.userAgent = userAgent
        self.browser = browser
        self.requestID = requestID
        self.traceparent = traceparent
    }

    /// Splits a FastCGI param list (`"web mobile"`) into client names.
    package static func clientList(_ param: String?) -> [String] {
        (param ?? "").split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }).map(String.init)
    }
}
