import DurinCore
import DurinHTTP
import DurinStore
import DurinTestSupport
import Foundation
import Logging
import RedisClient
import XCTest

@testable import DurinServer

/// The route table: each route declared once, matched with or without the trailing
/// slash, its metrics label its own.
final class RouteTableTests: XCTestCase {
    let router = Router(groups: [API.routes])

    func testRoutesWithAndWithoutTrailingSlash() {
        XCTAssertEqual(router.match("/login/")?.spec.name, "login")
        XCTAssertEqual(router.match("/login")?.spec.name, "login")
        XCTAssertEqual(router.match("//login")?.spec.name, "login", "leading slashes never matter")
        XCTAssertEqual(router.match("/logoutall/")?.spec.name, "logoutall")
        XCTAssertEqual(router.match("/verify")?.spec.name, "verify")
        XCTAssertEqual(router.match("/sessions/7/")?.parameter, "7")
        XCTAssertEqual(router.match("/sessions//7")?.spec.name, "session", "durin's router writes two slashes")
        XCTAssertNil(router.match("/login//x"))
        XCTAssertNil(router.match("/login//"), "one trailing slash, not two")
        XCTAssertEqual(router.match("/sessions/x/y/")?.spec.name, nil)
        XCTAssertNil(router.match("/nope/"))
        XCTAssertNil(router.match(""))
        XCTAssertNil(router.match("/login/", in: .console), "a location answers its own group's routes only")
    }

    func testEachRouteIsDeclaredOnce() {
        let names = router.routes.map(\.name)
        XCTAssertEqual(Set(names).count, names.count, "one entry per route")
        let metrics = Metrics(threads: 1, router: router) { Metrics.Readings() }
        XCTAssertEqual(metrics.routes, names + ["unknown"], "the metrics labels are the table's")
        for spec in router.routes {
            XCTAssertFalse(spec.methods.isEmpty, spec.name)
            if spec.methods.contains("GET") { XCTAssertTrue(spec.methods.contains("HEAD"), "\(spec.name): DRF adds HEAD to GET") }
        }
        XCTAssertEqual(
            router.routes.filter(\.requiresToken).map(\.name).sorted(),
            ["apiaccess", "logout", "logoutall", "password", "refresh", "session", "sessions", "totp", "verify"])
        XCTAssertEqual(router.routes.filter(\.timed).map(\.name), ["verify"])
    }

    /// docs/openapi.yaml (served as openapi.json, generated from it) and the table
    /// name the same routes with the same methods: a route added to one is missing
    /// from the other here. The console is a location of its own, not the API's.
    func testTheOpenAPIDocumentDescribesExactlyTheTable() throws {
        let document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any])
        let paths = try XCTUnwrap(document["paths"] as? [String: [String: Any]])
        let verbs: Set<String> = ["get", "head", "post", "put", "patch", "delete", "options"]
        var described: [String: Set<String>] = [:]
        for (path, item) in paths { described[path] = Set(item.keys.filter(verbs.contains).map { $0.uppercased() }) }
        var routed: [String: Set<String>] = [:]
        for spec in router.routes { routed[spec.path.template] = Set(spec.methods) }
        XCTAssertEqual(described, routed)
    }
}

/// Every route's answers, success and errors, through the API in process against a
/// real redis-server: no FastCGI, no nginx (the end-to-end suite proves those). A
/// login's password check runs here as a hasher would run it.
final class RouteTests: XCTestCase {
    var redis: RedisServer!
    var config = Configuration()
    var client: RouteClient!
    var metrics: Metrics { client.metrics }
    var issuerKey = ""

    override func setUpWithError() throws {
        redis = try RedisServer()
        config.passwordIterations = 1000
        config.apiAccessClientName = "api"
        config.loginFailureRate = ThrottleRate.parse("3/m")
        config.loginRatePerAddress = nil
        let admin = AdminStore(connection: redis.connection(), configuration: config)
        for (name, ttl) in [("web", TokenTTL.seconds(3600)), ("cli", .seconds(3600)), ("api", .seconds(86400))] {
            try admin.addClient(ClientRecord(name: name, tokenTTL: ttl, throttleRate: nil, created: 0))
        }
        try admin.addUser(UserRecord(username: "alice", passwordHash: PasswordHasher(iterations: 1000).hash("alice-pw"), isActive: true))
        issuerKey = try admin.addIssuer("portal", clients: ["web"]).value
        client = RouteClient(redis: redis, configuration: config)
    }

    override func tearDown() { redis?.stop() }

    /// One request as nginx would pass it; a login is checked and answered as the
    /// pool would.
    func call(
        _ method: String, _ path: String, token: String? = nil, scheme: String = "Token", json: String? = nil,
        directives: HTTPRequest.Directives = .init(), remote: String = "192.0.2.1"
    ) -> HTTPResponse {
        let request = HTTPRequest(
            method: method, path: path, mountPrefix: "/api/auth",
            authorization: token.map { Array("\(scheme) \($0)".utf8) },
            contentType: json == nil ? nil : "application/json", body: Array((json ?? "").utf8),
            directives: directives, remoteAddress: remote)
        return client.call(request)
    }

    func login(_ user: String = "alice", _ password: String = "alice-pw", client: String = "web") throws -> String {
        let r = call("POST", "/login/", json: #"{"username":"\#(user)","password":"\#(password)","client":"\#(client)"}"#)
        XCTAssertEqual(r.status, 200, r.text)
        return try XCTUnwrap(r.object["token"] as? String, r.text)
    }

    func testLogin() throws {
        let r = call("POST", "/login/", json: #"{"username":"alice","password":"alice-pw","client":"web"}"#)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.object.keys.sorted(), ["expiry", "token"])
        XCTAssertEqual(
            call("POST", "/login/", json: #"{"username":"alice","password":"alice-pw","client":"web"}"#).object["token"] as? String,
            r.object["token"] as? String, "re-login: the same token")
        XCTAssertEqual(
            call("POST", "/login/", json: #"{"username":"alice","password":"x","client":"web"}"#).text,
            #"{"non_field_errors":["Unable to log in with provided credentials."]}"#)
        XCTAssertEqual(
            call("POST", "/login/", json: #"{"password":"x","client":"web"}"#).text, #"{"username":["This field is required."]}"#)
        XCTAssertEqual(
            call("POST", "/login/", json: #"{"username":"alice","password":"alice-pw"}"#).text, #"{"detail":"No client specified."}"#)
        XCTAssertEqual(
            call("POST", "/login/", json: #"{"username":"alice","password":"alice-pw","client":"tv"}"#).text,
            #"{"detail":"No client with that name."}"#)
        XCTAssertEqual(call("POST", "/login/", json: "{").status, 400)
        let get = call("GET", "/login/")
        XCTAssertEqual(get.status, 405)
        XCTAssertEqual(get.header("Allow"), "POST, OPTIONS")
        XCTAssertEqual(call("OPTIONS", "/login/").object["name"] as? String, "Login")
        // The limit per (name, address): the third wrong password of 3/m is the last checked.
        for _ in 0..<2 { _ = call("POST", "/login/", json: #"{"username":"alice","password":"x","client":"cli"}"#) }
        let limited = call("POST", "/login/", json: #"{"username":"alice","password":"alice-pw","client":"cli"}"#)
        XCTAssertEqual(limited.status, 429)
        XCTAssertNotNil(limited.header("Retry-After"))
        XCTAssertEqual(
            call("POST", "/login/", json: #"{"username":"alice","password":"alice-pw","client":"cli"}"#, remote: "192.0.2.2").status,
            200, "another address")
    }

    func testTokenRoutes() throws {
        let token = try login()
        let noToken = call("POST", "/refresh/")
        XCTAssertEqual(noToken.status, 401)
        XCTAssertEqual(noToken.detail, "Authentication credentials were not provided.")
        XCTAssertEqual(noToken.header("WWW-Authenticate"), "Token")
        XCTAssertEqual(call("POST", "/refresh/", token: "nope").detail, "Invalid token.")
        XCTAssertEqual(call("POST", "/refresh/", token: "a b").detail, "Invalid token header. Token string should not contain spaces.")
        let refreshed = call("POST", "/refresh/", token: token)
        XCTAssertEqual(refreshed.status, 200)
        XCTAssertEqual(refreshed.object.keys.sorted(), ["expiry"])
        XCTAssertEqual(call("GET", "/refresh/", token: token).status, 405, "authenticated first, then the method")

        let verified = call("GET", "/verify/", token: token)
        XCTAssertEqual(verified.status, 200)
        XCTAssertEqual(verified.header("X-Durin-User"), "alice")
        XCTAssertEqual(verified.header("X-Durin-Client"), "web")
        var denyWeb = HTTPRequest.Directives()
        denyWeb.denyClients = ["web"]
        XCTAssertEqual(call("GET", "/verify/", token: token, directives: denyWeb).status, 403)
        denyWeb.authRequest = true
        let forNginx = call("GET", "/verify/", token: token, directives: denyWeb)
        XCTAssertEqual(forNginx.status, 403)
        XCTAssertEqual(forNginx.header("X-Durin-Status"), "403")

        XCTAssertEqual(call("POST", "/logout/", token: token).status, 204)
        XCTAssertEqual(call("GET", "/verify/", token: token).detail, "Invalid token.")
        let again = try login()
        _ = try login(client: "cli")
        XCTAssertEqual(call("POST", "/logoutall/", token: again).status, 204)
        XCTAssertEqual(call("GET", "/verify/", token: again).status, 401)
    }

    func testSessions() throws {
        let current = try login()
        let other = try login(client: "cli")
        let list = call("GET", "/sessions/", token: current)
        XCTAssertEqual(list.status, 200)
        let sessions = try XCTUnwrap(list.json as? [[String: Any]])
        XCTAssertEqual(sessions.count, 2)
        XCTAssertEqual(Set(sessions[0].keys), ["id", "client", "created", "expiry", "has_expired", "is_current", "expires_in_str"])
        let currentID = try XCTUnwrap(sessions.first { $0["is_current"] as? Bool == true }?["id"] as? Int)
        let otherID = try XCTUnwrap(sessions.first { $0["is_current"] as? Bool == false }?["id"] as? Int)
        XCTAssertEqual(
            call("DELETE", "/sessions/\(currentID)/", token: current).text,
            #"["Can't delete token if the request is authed with it.Use /api/auth/logout/ instead."]"#)
        XCTAssertEqual(call("DELETE", "/sessions/999999/", token: current).detail, "No AuthToken matches the given query.")
        XCTAssertEqual(call("DELETE", "/sessions/x/", token: current).detail, "Not found.")
        XCTAssertEqual(call("DELETE", "/sessions/\(otherID)/", token: current).status, 204)
        XCTAssertEqual(call("GET", "/verify/", token: other).status, 401)
    }

    func testAPIAccess() throws {
        let token = try login()
        XCTAssertEqual(call("GET", "/apiaccess/", token: token).status, 404)
        let created = call("POST", "/apiaccess/", token: token)
        XCTAssertEqual(created.status, 201)
        XCTAssertNotNil(created.object["token"] as? String)
        XCTAssertEqual(call("POST", "/apiaccess/", token: token).text, #"["An API token was already issued to you."]"#)
        XCTAssertEqual(call("GET", "/apiaccess/", token: token).object["client"] as? String, "api")
        XCTAssertEqual(call("DELETE", "/apiaccess/", token: token).status, 204)
        XCTAssertEqual(call("DELETE", "/apiaccess/", token: token).status, 404)
        var plain = config
        plain.apiAccessClientName = nil
        client = RouteClient(redis: redis, configuration: plain)
        XCTAssertEqual(call("GET", "/apiaccess/", token: token).detail, "Not found.", "not configured: no such route")
    }

    func testIssueReadyMetricsAndUnknownPaths() throws {
        let body = #"{"username":"alice","client":"web"}"#
        XCTAssertEqual(call("POST", "/issue/", json: body).detail, "Not found.", "only where nginx sets DURIN_TRUSTED")
        var trusted = HTTPRequest.Directives()
        trusted.trusted = true
        XCTAssertEqual(call("POST", "/issue/", json: body, directives: trusted).status, 401)
        XCTAssertEqual(call("POST", "/issue/", token: "wrong", scheme: "Issuer", json: body, directives: trusted).detail, "Invalid token.")
        let issued = call("POST", "/issue/", token: issuerKey, scheme: "Issuer", json: body, directives: trusted)
        XCTAssertEqual(issued.status, 200, issued.text)
        XCTAssertEqual(
            call(
                "POST", "/issue/", token: issuerKey, scheme: "Issuer", json: #"{"username":"alice","client":"cli"}"#,
                directives: trusted
            ).status, 403, "the issuer may issue for web only")

        XCTAssertEqual(call("GET", "/ready/").text, #"{"redis":"ok"}"#)
        XCTAssertEqual(call("GET", "/metrics/").status, 404, "only where nginx sets DURIN_METRICS")
        var scrape = HTTPRequest.Directives()
        scrape.metrics = true
        let exposition = call("GET", "/metrics/", directives: scrape)
        XCTAssertEqual(exposition.status, 200)
        XCTAssertTrue(exposition.text.contains(#"durin_requests_total{route="ready",status="200"} 1"#), exposition.text)
        XCTAssertTrue(exposition.text.contains(#"durin_requests_total{route="issue",status="404"} 1"#), exposition.text)
        XCTAssertEqual(call("GET", "/nope/").detail, "Not found.")
        XCTAssertTrue(metrics.render().contains(#"durin_requests_total{route="unknown",status="404"} 1"#))
    }

    // MARK: introspect/ and revoke/ (an issuer's, with its key)

    func introspect(_ token: String, key: String? = nil, scheme: String = "Issuer") -> HTTPResponse {
        call("POST", "/introspect/", token: key ?? issuerKey, scheme: scheme, json: #"{"token":"\#(token)"}"#)
    }

    func testIntrospectSeesOnlyTheIssuersLiveTokens() throws {
        let web = try login()
        let cli = try login(client: "cli")
        let noKey = call("POST", "/introspect/", json: #"{"token":"\#(web)"}"#)
        XCTAssertEqual(noKey.status, 401)
        XCTAssertEqual(noKey.object["error"] as? String, "invalid_client")
        XCTAssertEqual(introspect(web, key: "wrong").status, 401)

        let live = introspect(web)
        XCTAssertEqual(live.status, 200, live.text)
        XCTAssertEqual(live.object["active"] as? Bool, true)
        XCTAssertEqual(live.object["username"] as? String, "alice")
        XCTAssertEqual(live.object["client_id"] as? String, "web")
        XCTAssertEqual(live.header("Cache-Control"), "no-store")
        let basic = Data("portal:\(issuerKey)".utf8).base64EncodedString()
        XCTAssertEqual(introspect(web, key: basic, scheme: "Basic").object["active"] as? Bool, true, "OAuth's client authentication")
        let otherName = Data("other:\(issuerKey)".utf8).base64EncodedString()
        XCTAssertEqual(introspect(web, key: otherName, scheme: "Basic").status, 401, "a name that is not the key's")

        XCTAssertEqual(introspect(cli).text, #"{"active":false}"#, "another client's token says nothing")
        XCTAssertEqual(introspect("no-such-token").text, #"{"active":false}"#)
        let missing = call("POST", "/introspect/", token: issuerKey, scheme: "Issuer", json: "{}")
        XCTAssertEqual(missing.status, 400)
        XCTAssertEqual(missing.object["error"] as? String, "invalid_request")
        XCTAssertEqual(call("GET", "/introspect/", token: issuerKey, scheme: "Issuer").status, 405)
    }

    func testRevokeForAnIssuer() throws {
        let web = try login()
        let cli = try login(client: "cli")
        let revoke = call("POST", "/revoke/", token: issuerKey, scheme: "Issuer", json: #"{"token":"\#(web)"}"#)
        XCTAssertEqual(revoke.status, 200)
        XCTAssertEqual(revoke.text, "{}")
        XCTAssertEqual(call("GET", "/verify/", token: web).status, 401)
        XCTAssertEqual(
            call("POST", "/revoke/", token: issuerKey, scheme: "Issuer", json: #"{"token":"\#(web)"}"#).status, 200,
            "RFC 7009: a token already gone is no error")
        XCTAssertEqual(call("POST", "/revoke/", token: issuerKey, scheme: "Issuer", json: #"{"token":"\#(cli)"}"#).status, 200)
        XCTAssertEqual(call("GET", "/verify/", token: cli).status, 200, "another client's token stays")

        _ = try login()
        let backChannel = call("POST", "/revoke/", token: issuerKey, scheme: "Issuer", json: #"{"username":"alice"}"#)
        XCTAssertEqual(backChannel.object["revoked"] as? Int, 1, backChannel.text)
        XCTAssertEqual(call("GET", "/verify/", token: cli).status, 200, "only the issuer's clients")
        XCTAssertEqual(call("POST", "/revoke/", token: issuerKey, scheme: "Issuer", json: #"{"username":"a b"}"#).status, 400)
        XCTAssertEqual(call("POST", "/revoke/", json: #"{"token":"\#(cli)"}"#).status, 401)
    }

    func testIssuerCallsAreLimited() throws {
        var limited = config
        limited.introspectionRate = ThrottleRate.parse("2/m")
        client = RouteClient(redis: redis, configuration: limited)
        XCTAssertEqual(introspect("x").status, 200)
        XCTAssertEqual(introspect("x").status, 200)
        let third = introspect("x")
        XCTAssertEqual(third.status, 429)
        XCTAssertNotNil(third.header("Retry-After"))
    }

    /// Idle timeouts and expiry pass by moving the clock: nothing sleeps.
    func testIdleTimeoutAndExpiryFollowTheClock() throws {
        let clock = TestClock()
        client = RouteClient(redis: redis, configuration: config, clock: clock)
        try AdminStore(connection: redis.connection(), configuration: config)
            .addClient(ClientRecord(name: "idle", tokenTTL: .seconds(86400), throttleRate: nil, created: 0, idleTimeout: 1800))
        let idle = try login(client: "idle")
        let web = try login()
        clock.advance(seconds: 20 * 60)
        XCTAssertEqual(call("GET", "/verify/", token: idle).status, 200, "used within its 30 minutes")
        clock.advance(seconds: 20 * 60)
        XCTAssertEqual(call("GET", "/verify/", token: idle).status, 200, "20 minutes since its last use")
        XCTAssertEqual(call("GET", "/verify/", token: web).status, 200, "within web's hour")
        clock.advance(seconds: 45 * 60)
        XCTAssertEqual(call("GET", "/verify/", token: web).detail, "The given token has expired.", "past web's hour")
        XCTAssertEqual(call("GET", "/verify/", token: idle).detail, "The given token has expired.", "idle for 45 minutes")
        XCTAssertEqual(call("GET", "/verify/", token: idle).detail, "Invalid token.", "and then gone")
    }
}
