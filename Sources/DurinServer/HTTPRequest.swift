import DurinCore

/// One request as the handlers see it: copied out of libfcgi, so plain values.
public struct HTTPRequest: Sendable {
    public var method: String
    /// PATH_INFO: the path below the mount point (`/login/`).
    public var path: String
    /// SCRIPT_NAME: the mount point (`/api/auth`), used in durin's logout hint.
    public var mountPrefix: String
    /// The raw `Authorization` header bytes (may be any bytes).
    public var authorization: [UInt8]?
    public var contentType: String?
    public var body: [UInt8]
    /// FastCGI params set by the nginx snippets, never by the client.
    public var directives: Directives
    /// REMOTE_ADDR as nginx passes it: the per-address login limit's key.
    public var remoteAddress: String?
    /// The User-Agent header (POST requests only), kept with a token at login.
    public var userAgent: String?
    /// What only the console's location reads (nil elsewhere: a check copies none of it).
    public var console: ConsoleContext?

    /// The browser's side of a console request.
    public struct ConsoleContext: Sendable, Equatable {
        /// The Cookie header.
        public var cookie: String?
        /// Origin and Sec-Fetch-Site: where a state-changing request came from.
        public var origin: String?
        public var fetchSite: String?
        /// The Host header and the scheme nginx was reached by: this page's origin.
        public var host: String?
        public var scheme: String = "http"
        /// QUERY_STRING.
        public var query: String = ""
        /// The X-CSRF-Token header of a state change.
        public var csrf: String?
        public init() {}
    }

    public struct Directives: Sendable, Equatable {
        /// `$durin_allow_clients`: only these clients pass verify/.
        public var allowClients: [String] = []
        /// `$durin_deny_clients`: these clients are refused by verify/.
        public var denyClients: [String] = []
        /// `$durin_throttle on`: apply the (user, client) throttle.
        public var throttle = false
        /// `$durin_cache on`: answer verify/ from the in-process cache.
        public var cache = false
        /// Set by the trusted-issuance location only: enables `issue/`.
        public var trusted = false
        /// Set by the metrics location only: enables `metrics/`.
        public var metrics = false
        /// Set by the auth_request snippet: denials travel as 401/403 plus headers,
        /// since auth_request turns any other status into 500.
        public var authRequest = false
        /// Set by durin-console.conf: the operator console, and nothing else, answers.
        public var console = false
        /// Set by a location that serves the API's description: enables `openapi.json`.
        public var openAPI = false
        public init() {}
    }

    public init(method: String, path: String, mountPrefix: String = "", authorization: [UInt8]? = nil,
                contentType: String? = nil, body: [UInt8] = [], directives: Directives = Directives(),
                remoteAddress: String? = nil, userAgent: String? = nil, console: ConsoleContext? = nil) {
        self.method = method
        self.path = path
        self.mountPrefix = mountPrefix
        self.authorization = authorization
        self.contentType = contentType
        self.body = body
        self.directives = directives
        self.remoteAddress = remoteAddress
        self.userAgent = userAgent
        self.console = console
    }

    /// Splits a FastCGI param list (`"web mobile"`) into client names.
    public static func clientList(_ param: String?) -> [String] {
        (param ?? "").split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }).map(String.init)
    }
}
