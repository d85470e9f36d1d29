import Codecs
import DurinCore
import DurinHTTP
package import DurinServer
import DurinStore

/// The operator console (docs/console.md): a page for staff users, served where
/// nginx sets DURIN_CONSOLE (durin-console.conf), and the JSON it reads and writes
/// under `api/`, mounted as one group of the responder's router.
///
/// Signed in by durin's own login (a staff user, the console client), the token
/// living in an HttpOnly, SameSite=Strict cookie scoped to the console's path. Every
/// state change is a POST that must come from the console's own origin (Origin,
/// Sec-Fetch-Site) and carry the session's CSRF token (an HMAC of its token's
/// digest under the sealing secret). Every answer carries a strict
/// Content-Security-Policy: the page loads its own script and style, nothing else.
package enum Console {
    /// The console's routes, each with its own metrics label. What they share is
    /// the group's: the origin check before anything (`admit`), the security headers
    /// on every answer (`secured`), `Cookie` as the scheme of its 401s. A route that
    /// needs a signed-in staff user says so (`signedIn`).
    package static let routes = RouteGroup(
        name: "console", location: .console,
        routes: [
            RouteSpec("console_page", .fixed(""), methods: ["GET", "HEAD"], .open { _, _ in asset(ConsoleAssets.page) }),
            RouteSpec("console_script", .fixed("console.js"), methods: ["GET", "HEAD"], .open { _, _ in asset(ConsoleAssets.script) }),
            RouteSpec("console_style", .fixed("console.css"), methods: ["GET", "HEAD"], .open { _, _ in asset(ConsoleAssets.style) }),
            RouteSpec(
                "console_sign_in", .pattern(["api", "session"]), methods: ["POST"],
                .login(.whenEnrolled) { api, context, attempt, user in
                    try api.consoleSignIn(context, user, details: attempt.details)
                }),
            RouteSpec(
                "console_me", .pattern(["api", "me"]), methods: ["GET", "HEAD"],
                signedIn { api, _, session in
                    .json(
                        200,
                        [
                            "user": .string(session.user.username), "csrf": .string(session.csrf),
                            "client": .string(api.config.consoleClientName), "expiry": api.expiryJSON(session.record.expiry),
                        ])
                }),
            RouteSpec(
                "console_sign_out", .pattern(["api", "session", "end"]), methods: ["POST"],
                signedIn { api, context, session in
                    _ = try api.tokens.revoke(digest: session.record.digest, reason: "console_sign_out")
                    return HTTPResponse(status: 204, headers: [("Set-Cookie", sessionCookie("", request: context.request, clear: true))])
                }),
            RouteSpec(
                "console_overview", .pattern(["api", "overview"]), methods: ["GET", "HEAD"],
                signedIn { api, context, _ in
                    .json(200, api.overview(context))
                }),
            RouteSpec(
                "console_users", .pattern(["api", "users"]), methods: ["GET", "HEAD"],
                signedIn { api, context, _ in
                    let query = queryItems(context.request.browser?.query ?? "")
                    return .json(200, try api.users(prefix: query["prefix"] ?? "", limit: Int(query["limit"] ?? "") ?? 50))
                }),
            RouteSpec(
                "console_user", .pattern(["api", "users", nil]), methods: ["GET", "HEAD"],
                signedIn { api, context, _ in
                    .json(200, try api.userDetail(parameter(context)))
                }),
            RouteSpec(
                "console_user_revoke", .pattern(["api", "users", nil, "revoke"]), methods: ["POST"],
                signedIn { api, context, session in try api.revokeSessions(context, parameter(context), session: session) }),
            RouteSpec(
                "console_user_active", .pattern(["api", "users", nil, "active"]), methods: ["POST"],
                signedIn { api, context, session in try api.setActive(context, parameter(context), session: session) }),
            RouteSpec(
                "console_user_password", .pattern(["api", "users", nil, "password"]), methods: ["POST"],
                signedInOnHasher { api, context, session in try api.setPassword(context, parameter(context), session: session) }),
            RouteSpec(
                "console_user_otp", .pattern(["api", "users", nil, "otp"]), methods: ["POST"],
                signedIn { api, context, session in try api.setSecondFactor(context, parameter(context), session: session) }),
            RouteSpec(
                "console_clients", .pattern(["api", "clients"]), methods: ["GET", "HEAD", "POST"],
                signedIn { api, context, session in
                    context.request.method.uppercased() == "POST"
                        ? try api.addClient(context, session: session) : .json(200, try api.clientList())
                }),
            RouteSpec(
                "console_client", .pattern(["api", "clients", nil]), methods: ["POST"],
                signedIn { api, context, session in
                    try api.editClient(context, parameter(context), session: session)
                }),
            RouteSpec(
                "console_client_remove", .pattern(["api", "clients", nil, "remove"]), methods: ["POST"],
                signedIn { api, context, session in try api.removeClient(context, parameter(context), session: session) }),
            RouteSpec(
                "console_issuers", .pattern(["api", "issuers"]), methods: ["GET", "HEAD", "POST"],
                signedIn { api, context, session in
                    context.request.method.uppercased() == "POST"
                        ? try api.addIssuer(context, session: session) : .json(200, try api.issuerList())
                }),
            RouteSpec(
                "console_issuer_remove", .pattern(["api", "issuers", nil, "remove"]), methods: ["POST"],
                signedIn { api, context, session in try api.removeIssuer(context, parameter(context), session: session) }),
            RouteSpec(
                "console_events", .pattern(["api", "events"]), methods: ["GET", "HEAD"],
                signedIn { api, context, _ in
                    let query = queryItems(context.request.browser?.query ?? "")
                    return .json(200, try api.events(user: query["user"], type: query["type"], limit: Int(query["limit"] ?? "") ?? 100))
                }),
        ],
        authScheme: "Cookie", wrongMethod: .notFound,
        admit: { api, context in
            // Before anything else, the page included: a name that merely resolves
            // here (DNS rebinding) would otherwise be the console's own origin.
            try requireConsoleOrigin(api.config, context.request)
            // A state change from another origin: a sign-in would sign the browser
            // in as someone else, anything else would act as its user.
            if context.request.method.uppercased() == "POST" { try requireSameOrigin(context.request) }
        },
        finish: secured)

    /// A route for a signed-in staff user: the session cookie, checked as any token
    /// is, and for a POST the session's CSRF token.
    static func signedIn(_ handler: @escaping @Sendable (API, RequestContext, ConsoleSession) throws -> HTTPResponse)
        -> RouteSpec.Action
    {
        .open { api, context in
            let session = try api.consoleSession(context)
            if context.request.method.uppercased() == "POST" {
                guard let sent = context.request.browser?.csrf,
                    constantTimeEquals(Array(sent.utf8), Array(session.csrf.utf8))
                else { throw APIError.csrfFailed }
            }
            return try handler(api, context, session)
        }
    }

    /// As `signedIn`, for a route that hashes a password: all of it runs on a hasher.
    static func signedInOnHasher(_ handler: @escaping @Sendable (API, RequestContext, ConsoleSession) throws -> HTTPResponse)
        -> RouteSpec.Action
    {
        guard case .open(let checked) = signedIn(handler) else { preconditionFailure() }
        return .onHasher(checked)
    }

    /// The route's name parameter, percent-decoded (`+` is a plus in a path: a
    /// username may hold one).
    static func parameter(_ context: RequestContext) -> String {
        String(decoding: PercentEncoding.decode(Array((context.route?.parameter ?? "").utf8), plusIsSpace: false), as: UTF8.self)
    }

    static let cookieName = "durin_console"

    /// The session cookie: only this path, never to scripts, never cross-site, and
    /// only over TLS when the page came over TLS.
    static func sessionCookie(_ value: String, request: HTTPRequest, clear: Bool = false) -> String {
        var cookie = "\(cookieName)=\(value); Path=\(request.mountPrefix)/; HttpOnly; SameSite=Strict"
        if request.browser?.scheme == "https" { cookie += "; Secure" }
        if clear { cookie += "; Max-Age=0" }
        return cookie
    }

    /// The origin the console answers under: DURIN_CONSOLE_ORIGIN, else the loopback
    /// name the request came by. Any other Host is refused before anything is read,
    /// and so is an Origin that is not this one: a page of another site, or of a name
    /// that resolves to this host, can neither sign in nor act.
    static func requireConsoleOrigin(_ config: Configuration, _ request: HTTPRequest) throws(APIError) {
        let browser = request.browser ?? HTTPRequest.BrowserContext()
        guard let here = WebOrigin(scheme: browser.scheme, authority: browser.host ?? "") else { throw .wrongConsoleHost }
        if let configured = config.consoleOrigin {
            guard here == configured else { throw .wrongConsoleHost }
        } else {
            guard here.isLoopback else { throw .wrongConsoleHost }
        }
        if let origin = browser.origin {
            guard WebOrigin(origin) == here else { throw .crossOrigin }
        }
    }

    /// A state change must come from the console's own page: a browser says where a
    /// request came from (Sec-Fetch-Site; its Origin was checked with the Host), and
    /// anything but this origin is refused. A client that sends neither is no
    /// browser; the CSRF token still applies.
    static func requireSameOrigin(_ request: HTTPRequest) throws(APIError) {
        if let site = request.browser?.fetchSite, site != "same-origin" { throw .crossOrigin }
    }

    /// The headers every console answer carries (`HTTPResponse.pageSecurityHeaders`).
    static let securityHeaders = HTTPResponse.pageSecurityHeaders

    @Sendable static func secured(_ response: HTTPResponse) -> HTTPResponse {
        var secured = response
        secured.headers += securityHeaders
        return secured
    }

    static func asset(_ asset: ConsoleAssets.Asset) -> HTTPResponse {
        HTTPResponse(status: 200, headers: [("Content-Type", asset.contentType)], body: Array(asset.text.utf8))
    }

    /// A query string's parameters: the form encoding's rules (`FormURLEncoded`).
    static func queryItems(_ query: String) -> [String: String] { FormURLEncoded.parse(Array(query.utf8)) }
}

/// A signed-in staff user: the cookie's token, checked as any token is (expiry,
/// idle timeout, deactivation) but valid here only if it is the console client's.
struct ConsoleSession {
    let user: UserRecord
    let record: TokenRecord
    /// The CSRF token every POST must carry (X-CSRF-Token).
    let csrf: String
}

extension API {
    func consoleSession(_ context: RequestContext) throws -> ConsoleSession {
        let sent = CookieHeader.values(named: Console.cookieName, in: context.request.browser?.cookie)
        // Two: one may be planted by a sibling site (a cookie set for a parent domain
        // or a narrower path comes along), and acting on either could act as its owner.
        guard sent.count <= 1 else { throw APIError.conflictingSessionCookies }
        guard let token = sent.first, !token.isEmpty else { throw APIError.notAuthenticated }
        let digest = Token.digest(of: token)
        let rules = AccessRules.consoleSession(client: config.consoleClientName)
        let record: TokenRecord
        switch try tokens.authenticate(digest: digest, rules: rules, now: context.now) {
        case .valid(let r): record = r
        case .expired: throw APIError.tokenExpired
        case .userInactive: throw APIError.userInactive
        case .invalid, .denied, .throttled: throw APIError.invalidToken
        }
        guard let user = try admin.user(named: record.user), user.isActive else { throw APIError.userInactive }
        guard user.isStaff else { throw APIError.notStaff }
        return ConsoleSession(user: user, record: record, csrf: try tokens.mac(purpose: "console-csrf", digest))
    }

    /// The hasher's end of a console sign-in: a staff user gets a new console session
    /// (the previous one is revoked) in a cookie, and the session's CSRF token.
    func consoleSignIn(_ context: RequestContext, _ user: UserRecord, details: SessionDetails) throws -> HTTPResponse {
        guard user.isStaff else {
            context.logger.notice("console sign-in refused: not staff", metadata: ["user": .string(user.username)])
            throw APIError.notStaff
        }
        let client = config.consoleClientName
        if try admin.client(named: client) == nil {
            do {
                try admin.addClient(
                    ClientRecord(
                        name: client, tokenTTL: .seconds(3600), throttleRate: nil,
                        created: context.now, idleTimeout: 900))
            } catch .store(let error) {
                throw error
            } catch {
                // Made meanwhile by another sign-in: fine.
            }
        }
        let outcome = try tokens.consoleSignIn(user: user.username, details: details, now: context.now)
        guard case .success(let issued) = outcome else { throw APIError.invalidCredentials }
        context.slot?.tokenIssued(client: client)
        context.logger.info("console sign-in", metadata: ["user": .string(user.username), "session": "\(issued.record.id)"])
        let csrf = try tokens.mac(purpose: "console-csrf", issued.record.digest)
        let cookie = Console.sessionCookie(issued.token.value, request: context.request)
        return .json(
            200, ["user": .string(user.username), "csrf": .string(csrf), "expiry": expiryJSON(issued.record.expiry)],
            headers: [("Set-Cookie", cookie)])
    }
}
