import Foundation
import DurinCore
import DurinHTTP
@testable import DurinServer
import DurinStore
import DurinTestSupport
import Logging
import RedisClient
import XCTest

/// The route table: each route declared once, matched with or without the trailing
/// slash, its metrics label its own.
final class RouteTableTests: XCTestCase {
    func testRoutesWithAndWithoutTrailingSlash() {
        XCTAssertEqual(Route.match("/login/"), .login)
        XCTAssertEqual(Route.match("/login"), .login)
        XCTAssertEqual(Route.match("/logoutall/")?.spec.name, "logoutall")
        XCTAssertEqual(Route.match("/verify"), .verify)
        XCTAssertEqual(Route.match("/sessions/7/")?.parameter, "7")
        XCTAssertEqual(Route.match("/sessions//7")?.spec.name, "session", "durin's router writes two slashes")
        XCTAssertNil(Route.match("/login//x"))
        XCTAssertNil(Route.match("/nope/"))
        XCTAssertNil(Route.match(""))
    }

    func testEachRouteIsDeclaredOnce() {
        let names = Route.table.map(\.name)
        XCTAssertEqual(Set(names).count, names.count, "one entry per route")
        XCTAssertEqual(Metrics.routes, names + ["unknown"], "the metrics labels are the table's")
        for spec in Route.table {
            XCTAssertFalse(spec.methods.isEmpty, spec.name)
            if spec.methods.contains("GET") { XCTAssertTrue(spec.methods.contains("HEAD"), "\(spec.name): DRF adds HEAD to GET") }
        }
        XCTAssertEqual(Route.table.filter(\.requiresToken).map(\.name).sorted(),
                       ["apiaccess", "logout", "logoutall", "refresh", "session", "sessions", "verify"])
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
        for spec in Route.table {
            switch spec.path {
            case .fixed(let name): routed[name.contains(".") ? "/\(name)" : "/\(name)/"] = Set(spec.methods)
            case .session: routed["/sessions/{id}/"] = Set(spec.methods)
            case .console: continue
            }
        }
        XCTAssertEqual(described, routed)
    }
}

/// Every route's answers, success and errors, through the API in process against a
/// real redis-server: no FastCGI, no nginx (the end-to-end suite proves those). A
/// login's password check runs here as a hasher would run it.
final class RouteTests: XCTestCase {
    var redis: RedisServer!
    var config = Configuration()
    var metrics: Metrics!
    var api: API!
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
        api = makeAPI(config)
    }

    override func tearDown() { redis?.stop() }

    func makeAPI(_ config: Configuration) -> API {
        metrics = Metrics(threads: 1) { Metrics.Readings() }
        return API(settings: ServiceSettings(configuration: config),
                   tokens: TokenStore(connection: redis.connection(), configuration: config),
                   metrics: metrics, logger: Logger(label: "test"))
    }

    /// One request as nginx would pass it; a login is checked and answered as the
    /// pool would.
    func call(_ method: String, _ path: String, token: String? = nil, scheme: String = "Token", json: String? = nil,
              directives: HTTPRequest.Directives = .init(), remote: String = "192.0.2.1") -> HTTPResponse {
        let request = HTTPRequest(method: method, path: path, mountPrefix: "/api/auth",
                                  authorization: token.map { Array("\(scheme) \($0)".utf8) },
                                  contentType: json == nil ? nil : "application/json", body: Array((json ?? "").utf8),
                                  directives: directives, remoteAddress: remote)
        let handled = api.handle(request)
        let response: HTTPResponse
        switch handled.handling {
        case .respond(let r): response = r
        case .checkPassword(let job): response = api.completeLogin(job)
        }
        api.countAnswer(response, route: handled.route)
        return response
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
        XCTAssertEqual(call("POST", "/login/", json: #"{"username":"alice","password":"alice-pw","client":"web"}"#).object["token"] as? String,
                       r.object["token"] as? String, "re-login: the same token")
        XCTAssertEqual(call("POST", "/login/", json: #"{"username":"alice","password":"x","client":"web"}"#).text,
                       #"{"non_field_errors":["Unable to log in with provided credentials."]}"#)
        XCTAssertEqual(call("POST", "/login/", json: #"{"password":"x","client":"web"}"#).text, #"{"username":["This field is required."]}"#)
        XCTAssertEqual(call("POST", "/login/", json: #"{"username":"alice","password":"alice-pw"}"#).text, #"{"detail":"No client specified."}"#)
        XCTAssertEqual(call("POST", "/login/", json: #"{"username":"alice","password":"alice-pw","client":"tv"}"#).text,
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
        XCTAssertEqual(call("POST", "/login/", json: #"{"username":"alice","password":"alice-pw","client":"cli"}"#, remote: "192.0.2.2").status,
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
        XCTAssertEqual(call("DELETE", "/sessions/\(currentID)/", token: current).text,
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
        api = makeAPI(plain)
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
        XCTAssertEqual(call("POST", "/issue/", token: issuerKey, scheme: "Issuer", json: #"{"username":"alice","client":"cli"}"#,
                            directives: trusted).status, 403, "the issuer may issue for web only")

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
}

extension HTTPResponse {
    var text: String { String(decoding: body, as: UTF8.self) }
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) }
    var object: [String: Any] { json as? [String: Any] ?? [:] }
    var detail: String? { object["detail"] as? String }
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
}
