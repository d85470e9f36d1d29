import DurinConsole
import DurinCore
import DurinHTTP
import DurinServer
import DurinStore
import DurinTestSupport
import XCTest

/// Every console endpoint in process, through the responder's own router (the API's
/// group and the console's) against a real redis-server: the group's origin check
/// and headers, the cookie session and its CSRF token, each page's JSON and each
/// action's effect and event. The browser suite (Tests/browser) drives the page.
final class ConsoleRouteTests: XCTestCase {
    var redis: RedisServer!
    var config = Configuration()
    var client: RouteClient!
    var admin: AdminStore!
    let clock = TestClock()

    override func setUpWithError() throws {
        redis = try RedisServer()
        config.passwordIterations = 1000
        config.loginRatePerAddress = nil
        admin = AdminStore(connection: redis.connection(), configuration: config)
        try admin.addClient(ClientRecord(name: "web", tokenTTL: .seconds(3600), throttleRate: nil, created: 0))
        let hash = PasswordHasher(iterations: 1000)
        try admin.addUser(UserRecord(username: "olive", passwordHash: hash.hash("olive-pw"), isActive: true, isStaff: true))
        try admin.addUser(UserRecord(username: "bob", passwordHash: hash.hash("bob-pw"), isActive: true))
        client = RouteClient(redis: redis, configuration: config, router: Router(groups: [API.routes, Console.routes]), clock: clock)
    }

    override func tearDown() { redis?.stop() }

    /// A browser's request to the console's location (durin-console.conf).
    func call(
        _ method: String, _ path: String, json: String? = nil, cookie: String? = nil, csrf: String? = nil,
        host: String = "127.0.0.1:8080", origin: String? = nil, fetchSite: String? = nil, query: String = ""
    ) -> HTTPResponse {
        var directives = HTTPRequest.Directives()
        directives.console = true
        var browser = HTTPRequest.BrowserContext()
        browser.cookie = cookie
        browser.csrf = csrf
        browser.host = host
        browser.origin = origin
        browser.fetchSite = fetchSite
        browser.query = query
        return client.call(
            HTTPRequest(
                method: method, path: path, mountPrefix: "/console",
                contentType: json == nil ? nil : "application/json", body: Array((json ?? "").utf8),
                directives: directives, remoteAddress: "192.0.2.9", browser: browser))
    }

    struct Session {
        let cookie: String
        let csrf: String
    }

    func signIn(_ user: String = "olive", _ password: String = "olive-pw") throws -> Session {
        let r = call("POST", "/api/session", json: #"{"username":"\#(user)","password":"\#(password)"}"#, fetchSite: "same-origin")
        XCTAssertEqual(r.status, 200, r.text)
        let setCookie = try XCTUnwrap(r.header("Set-Cookie"))
        let value = try XCTUnwrap(setCookie.split(separator: ";").first.map(String.init))
        return Session(cookie: value, csrf: try XCTUnwrap(r.object["csrf"] as? String))
    }

    func get(_ path: String, _ s: Session, query: String = "") -> HTTPResponse { call("GET", path, cookie: s.cookie, query: query) }

    func post(_ path: String, _ s: Session, _ json: String = "{}") -> HTTPResponse {
        call("POST", path, json: json, cookie: s.cookie, csrf: s.csrf, fetchSite: "same-origin")
    }

    func testThePageAndItsFilesCarryTheSecurityHeaders() {
        for (path, type) in [("/", "text/html"), ("", "text/html"), ("/console.js", "text/javascript"), ("/console.css", "text/css")] {
            let r = call("GET", path)
            XCTAssertEqual(r.status, 200, path)
            XCTAssertTrue(r.header("Content-Type")?.hasPrefix(type) == true, path)
            XCTAssertTrue(r.header("Content-Security-Policy")?.contains("script-src 'self'") == true, path)
            XCTAssertEqual(r.header("X-Frame-Options"), "DENY")
        }
        let missing = call("GET", "/nope")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.header("Cache-Control"), "no-store", "errors carry the group's headers too")
        XCTAssertEqual(call("GET", "/login/").status, 404, "no API route answers the console's location")
        XCTAssertEqual(call("DELETE", "/").status, 404, "a (method, path) the console does not have")
        XCTAssertEqual(call("GET", "/api/users/bob/revoke").status, 404, "a GET changes nothing")
    }

    func testOnlyItsOwnOriginReachesIt() throws {
        XCTAssertEqual(call("GET", "/", host: "evil.example").status, 421, "not loopback, no DURIN_CONSOLE_ORIGIN")
        XCTAssertEqual(call("GET", "/", origin: "http://evil.example").status, 403)
        let crossSite = call("POST", "/api/session", json: #"{"username":"olive","password":"olive-pw"}"#, fetchSite: "cross-site")
        XCTAssertEqual(crossSite.status, 403, "a sign-in from another site")
        let s = try signIn()
        XCTAssertEqual(call("POST", "/api/session/end", json: "{}", cookie: s.cookie, csrf: s.csrf, fetchSite: "same-site").status, 403)
        config.consoleOrigin = WebOrigin("https://console.example.com")
        client = RouteClient(redis: redis, configuration: config, router: client.api.router, clock: clock)
        XCTAssertEqual(call("GET", "/").status, 421, "the configured origin only")
    }

    func testSignInSessionAndCSRF() throws {
        XCTAssertEqual(call("POST", "/api/session", json: #"{"username":"bob","password":"bob-pw"}"#).status, 403, "not staff")
        XCTAssertEqual(call("POST", "/api/session", json: #"{"username":"olive","password":"x"}"#).status, 400)
        let s = try signIn()
        XCTAssertTrue(s.cookie.hasPrefix("durin_console="))
        let me = get("/api/me", s)
        XCTAssertEqual(me.status, 200)
        XCTAssertEqual(me.object["user"] as? String, "olive")
        XCTAssertEqual(me.object["csrf"] as? String, s.csrf)

        let anonymous = call("GET", "/api/me")
        XCTAssertEqual(anonymous.status, 401)
        XCTAssertEqual(anonymous.header("WWW-Authenticate"), "Cookie")
        XCTAssertEqual(call("POST", "/api/clients", json: #"{"name":"x"}"#, cookie: s.cookie).status, 403, "no CSRF token")
        XCTAssertEqual(call("POST", "/api/clients", json: #"{"name":"x"}"#, cookie: s.cookie, csrf: "forged").status, 403)
        XCTAssertEqual(call("GET", "/api/me", cookie: "\(s.cookie); \(s.cookie)").status, 400, "two session cookies")

        // The console's token is no API token, and the API's login cannot make one.
        let token = String(s.cookie.dropFirst("durin_console=".count))
        let verify = client.call(HTTPRequest(method: "GET", path: "/verify/", authorization: Array("Token \(token)".utf8)))
        XCTAssertEqual(verify.status, 401)

        // Idle for 20 minutes (the console client's 15, and the quarter of it a last
        // use may be recorded late): signed out, without sleeping through it.
        clock.advance(seconds: 14 * 60)
        XCTAssertEqual(get("/api/me", s).status, 200, "within the idle timeout")
        clock.advance(seconds: 20 * 60)
        let idle = get("/api/me", s)
        XCTAssertEqual(idle.detail, "The given token has expired.")
    }

    func testSignOut() throws {
        let s = try signIn()
        let out = post("/api/session/end", s)
        XCTAssertEqual(out.status, 204)
        XCTAssertTrue(out.header("Set-Cookie")?.contains("Max-Age=0") == true)
        XCTAssertEqual(get("/api/me", s).status, 401)
    }

    func testOverviewUsersAndSessions() throws {
        let s = try signIn()
        let overview = get("/api/overview", s)
        XCTAssertEqual(overview.status, 200)
        XCTAssertNotNil(overview.object["redis"])
        XCTAssertEqual(overview.object["time"] as? Int64, clock.nowMillis())

        let users = try XCTUnwrap(get("/api/users", s, query: "prefix=b").json as? [[String: Any]])
        XCTAssertEqual(users.map { $0["username"] as? String }, ["bob"])
        let bobToken = try TokenStore(connection: redis.connection(), configuration: config)
            .login(user: "bob", client: "web", mode: .keep).get()
        let detail = get("/api/users/bob", s)
        XCTAssertEqual(detail.status, 200)
        let sessions = try XCTUnwrap(detail.object["sessions"] as? [[String: Any]])
        XCTAssertEqual(sessions.count, 1)
        XCTAssertEqual(get("/api/users/nobody", s).status, 404)

        XCTAssertEqual(post("/api/users/bob/revoke", s, #"{"id":"x"}"#).status, 400)
        XCTAssertEqual(post("/api/users/bob/revoke", s, #"{"id":999}"#).status, 404)
        let one = post("/api/users/bob/revoke", s, #"{"id":\#(bobToken.record.id)}"#)
        XCTAssertEqual(one.object["revoked"] as? Int, 1, one.text)
        _ = try TokenStore(connection: redis.connection(), configuration: config).login(user: "bob", client: "web", mode: .keep)
        XCTAssertEqual(post("/api/users/bob/revoke", s).object["revoked"] as? Int, 1, "all of them")

        XCTAssertEqual(post("/api/users/bob/active", s, #"{"active":"no"}"#).status, 400)
        XCTAssertEqual(post("/api/users/bob/active", s, #"{"active":false}"#).object["is_active"] as? Bool, false)
        XCTAssertEqual(try admin.user(named: "bob")?.isActive, false)
        XCTAssertEqual(post("/api/users/nobody/active", s, #"{"active":true}"#).status, 404)
    }

    func testClientsIssuersAndEvents() throws {
        let s = try signIn()
        XCTAssertEqual(post("/api/clients", s, #"{"name":"bad name"}"#).status, 400)
        XCTAssertEqual(post("/api/clients", s, #"{"name":"tv","token_ttl":"soon"}"#).status, 400)
        XCTAssertEqual(post("/api/clients", s, #"{"name":"tv","token_ttl":"2h","idle_timeout":"30m"}"#).status, 201)
        XCTAssertEqual(post("/api/clients", s, #"{"name":"tv"}"#).text, #"["client tv already exists."]"#)
        XCTAssertEqual(get("/api/clients/tv/remove", s).status, 404, "a GET changes nothing")
        let clients = try XCTUnwrap(get("/api/clients", s).json as? [[String: Any]])
        XCTAssertEqual(clients.first { $0["name"] as? String == "tv" }?["token_ttl"] as? String, "2h")
        XCTAssertEqual(post("/api/clients/tv", s, "{}").status, 400, "nothing to change")
        XCTAssertEqual(post("/api/clients/tv", s, #"{"throttle_rate":"10/m"}"#).status, 200)
        XCTAssertEqual(try admin.client(named: "tv")?.throttleRate?.description, "10/m")
        XCTAssertEqual(post("/api/clients/tv/remove", s).status, 200)
        XCTAssertNil(try admin.client(named: "tv"))
        XCTAssertEqual(post("/api/clients/tv/remove", s).status, 404)

        XCTAssertEqual(post("/api/issuers", s, #"{"name":"portal","clients":"console"}"#).status, 400, "the console's client is reserved")
        let issuer = post("/api/issuers", s, #"{"name":"portal","clients":"web"}"#)
        XCTAssertEqual(issuer.status, 201)
        XCTAssertNotNil(issuer.object["key"] as? String)
        let issuers = try XCTUnwrap(get("/api/issuers", s).json as? [[String: Any]])
        XCTAssertEqual(issuers.map { $0["name"] as? String }, ["portal"])
        XCTAssertEqual(post("/api/issuers/portal/remove", s).status, 204)
        XCTAssertEqual(post("/api/issuers/portal/remove", s).status, 404)

        let events = try XCTUnwrap(get("/api/events", s, query: "type=console").json as? [[String: Any]])
        let reasons = events.compactMap { $0["reason"] as? String }
        XCTAssertTrue(reasons.contains("client_add tv"), "\(reasons)")
        XCTAssertTrue(reasons.contains("issuer_remove portal"), "\(reasons)")
        XCTAssertTrue(events.allSatisfy { $0["user"] as? String == "olive" }, "every action names who did it")
    }

    /// Each endpoint counts under a label of its own, the sign-in too (not as login).
    func testEachEndpointHasItsOwnMetricsLabel() throws {
        let s = try signIn()
        _ = get("/api/users", s)
        _ = get("/api/users/bob", s)
        let text = client.metrics.render()
        XCTAssertTrue(text.contains(#"durin_requests_total{route="console_sign_in",status="200"} 1"#), text)
        XCTAssertTrue(text.contains(#"durin_requests_total{route="console_users",status="200"} 1"#), text)
        XCTAssertTrue(text.contains(#"durin_requests_total{route="console_user",status="200"} 1"#), text)
        XCTAssertFalse(text.contains(#"route="login",status="200"} 1"#), text)
        let names = client.api.router.routes.map(\.name)
        XCTAssertEqual(Set(names).count, names.count)
        for spec in Console.routes.routes where spec.methods.contains("GET") {
            XCTAssertTrue(spec.methods.contains("HEAD"), spec.name)
        }
    }
}
