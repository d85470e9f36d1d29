import DurinCore
import DurinHTTP
import DurinStore

/// The operator console (docs/console.md): a page for staff users, served where
/// nginx sets DURIN_CONSOLE (durin-console.conf), and the JSON it reads and writes
/// under `api/`.
///
/// Signed in by durin's own login (a staff user, the console client), the token
/// living in an HttpOnly, SameSite=Strict cookie scoped to the console's path. Every
/// state change is a POST that must come from the console's own origin (Origin,
/// Sec-Fetch-Site) and carry the session's CSRF token (an HMAC of its token's
/// digest under the sealing secret). Every answer carries a strict
/// Content-Security-Policy: the page loads its own script and style, nothing else.
extension API {
    /// Every request of the console's location.
    func console(_ request: HTTPRequest) -> Handling {
        do throws(APIError) {
            // Before anything else, the page included: a name that merely resolves
            // here (DNS rebinding) would otherwise be the console's own origin.
            try requireConsoleOrigin(request)
            let method = request.method.uppercased()
            switch (method, request.path) {
            case ("GET", "/"), ("HEAD", "/"), ("GET", ""):
                return .respond(Self.asset(ConsoleAssets.page, type: "text/html; charset=utf-8"))
            case ("GET", "/console.js"):
                return .respond(Self.asset(ConsoleAssets.script, type: "text/javascript; charset=utf-8"))
            case ("GET", "/console.css"):
                return .respond(Self.asset(ConsoleAssets.style, type: "text/css; charset=utf-8"))
            case ("POST", "/api/session"):
                // A sign-in from another origin would sign the browser in as someone else.
                try Self.requireSameOrigin(request)
                return .checkPassword(try admitLogin(request, forConsole: true))
            default:
                break
            }
            guard request.path.hasPrefix("/api/") else { throw .notFound }
            let session = try consoleSession(request)
            if method == "POST" {
                try Self.requireSameOrigin(request)
                guard let sent = request.console?.csrf,
                      constantTimeEquals(Array(sent.utf8), Array(session.csrf.utf8)) else { throw .csrfFailed }
            } else if method != "GET" && method != "HEAD" {
                throw .methodNotAllowed(method: method, allowed: ["GET", "POST"])
            }
            let route = String(request.path.dropFirst("/api/".count))
            return .respond(Self.secured(try consoleAPI(request, route: route, method: method, session: session)))
        } catch {
            return .respond(Self.secured(error.response(authPrefix: "Cookie")))
        }
    }

    /// A signed-in staff user: the cookie's token, checked as any token is (expiry,
    /// idle timeout, deactivation) but valid here only if it is the console client's.
    struct ConsoleSession {
        let user: UserRecord
        let record: TokenRecord
        /// The CSRF token every POST must carry (X-CSRF-Token).
        let csrf: String
    }

    static let cookieName = "durin_console"

    func consoleSession(_ request: HTTPRequest) throws(APIError) -> ConsoleSession {
        let sent = Self.cookies(Self.cookieName, in: request.console?.cookie)
        // Two: one may be planted by a sibling site (a cookie set for a parent domain
        // or a narrower path comes along), and acting on either could act as its owner.
        guard sent.count <= 1 else { throw .conflictingSessionCookies }
        guard let token = sent.first, !token.isEmpty else { throw .notAuthenticated }
        let digest = Token.digest(of: token)
        let rules = AccessRules.consoleSession(client: config.consoleClientName)
        let record: TokenRecord
        switch try store({ () throws(StoreError) in try tokens.authenticate(digest: digest, rules: rules) }) {
        case .valid(let r): record = r
        case .expired: throw .tokenExpired
        case .userInactive: throw .userInactive
        case .invalid, .denied, .throttled: throw .invalidToken
        }
        guard let user = try store({ () throws(StoreError) in try admin.user(named: record.user) }), user.isActive else {
            throw .userInactive
        }
        guard user.isStaff else { throw .notStaff }
        return ConsoleSession(user: user, record: record, csrf: try csrfToken(digest: digest))
    }

    func csrfToken(digest: String) throws(APIError) -> String {
        try store { () throws(StoreError) in try tokens.mac(purpose: "console-csrf", digest) }
    }

    /// The hasher's end of a console sign-in: a staff user gets a new console session
    /// (the previous one is revoked) in a cookie, and the session's CSRF token.
    func consoleSignIn(_ user: UserRecord, job: LoginJob, details: SessionDetails) throws(APIError) -> HTTPResponse {
        guard user.isStaff else {
            logger.notice("console sign-in refused: not staff", metadata: ["user": .string(user.username)])
            throw .notStaff
        }
        let client = config.consoleClientName
        if try store({ () throws(StoreError) in try admin.client(named: client) }) == nil {
            do {
                try admin.addClient(ClientRecord(name: client, tokenTTL: .seconds(3600), throttleRate: nil,
                                                 created: WallClock.nowMillis(), idleTimeout: 900))
            } catch .store(let error) {
                _ = try store { () throws(StoreError) in throw error }
            } catch {
                // Made meanwhile by another sign-in: fine.
            }
        }
        let outcome = try store { () throws(StoreError) in try tokens.consoleSignIn(user: user.username, details: details) }
        guard case .success(let issued) = outcome else { throw .invalidCredentials }
        slot?.tokenIssued(client: client)
        logger.info("console sign-in", metadata: ["user": .string(user.username), "session": "\(issued.record.id)"])
        let csrf = try csrfToken(digest: issued.record.digest)
        let cookie = Self.sessionCookie(issued.token.value, request: job.request)
        return Self.secured(.json(200, ["user": .string(user.username), "csrf": .string(csrf),
                                        "expiry": expiryJSON(issued.record.expiry)], headers: [("Set-Cookie", cookie)]))
    }

    /// The session cookie: only this path, never to scripts, never cross-site, and
    /// only over TLS when the page came over TLS.
    static func sessionCookie(_ value: String, request: HTTPRequest, clear: Bool = false) -> String {
        var cookie = "\(cookieName)=\(value); Path=\(request.mountPrefix)/; HttpOnly; SameSite=Strict"
        if request.console?.scheme == "https" { cookie += "; Secure" }
        if clear { cookie += "; Max-Age=0" }
        return cookie
    }

    /// The origin the console answers under: DURIN_CONSOLE_ORIGIN, else the loopback
    /// name the request came by. Any other Host is refused before anything is read,
    /// and so is an Origin that is not this one: a page of another site, or of a name
    /// that resolves to this host, can neither sign in nor act.
    func requireConsoleOrigin(_ request: HTTPRequest) throws(APIError) {
        let context = request.console ?? HTTPRequest.ConsoleContext()
        guard let here = WebOrigin(scheme: context.scheme, authority: context.host ?? "") else { throw .wrongConsoleHost }
        if let configured = config.consoleOrigin {
            guard here == configured else { throw .wrongConsoleHost }
        } else {
            guard here.isLoopback else { throw .wrongConsoleHost }
        }
        if let origin = context.origin {
            guard WebOrigin(origin) == here else { throw .crossOrigin }
        }
    }

    /// A state change must come from the console's own page: a browser says where a
    /// request came from (Sec-Fetch-Site; its Origin was checked with the Host), and
    /// anything but this origin is refused. A client that sends neither is no
    /// browser; the CSRF token still applies.
    static func requireSameOrigin(_ request: HTTPRequest) throws(APIError) {
        if let site = request.console?.fetchSite, site != "same-origin" { throw .crossOrigin }
    }

    /// Every value of one cookie in a Cookie header, in the order sent.
    static func cookies(_ name: String, in header: String?) -> [String] {
        guard let header else { return [] }
        return header.split(separator: ";").compactMap { part in
            let pair = part.drop { $0 == " " }
            return pair.hasPrefix(name + "=") ? String(pair.dropFirst(name.count + 1)) : nil
        }
    }

    /// The headers every console answer carries: its own script and style only, no
    /// framing, no sniffing, no referrer, no caching of what may name users.
    static let securityHeaders: [(String, String)] = [
        ("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
            + "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("Cache-Control", "no-store"),
    ]

    static func secured(_ response: HTTPResponse) -> HTTPResponse {
        var secured = response
        secured.headers += securityHeaders
        return secured
    }

    static func asset(_ text: String, type: String) -> HTTPResponse {
        secured(HTTPResponse(status: 200, headers: [("Content-Type", type)], body: Array(text.utf8)))
    }
}
