import DurinCore
import DurinHTTP
import DurinServer
import DurinStore
import DurinTestSupport
import XCTest

/// The account routes in process, against a real redis-server, with a clock the
/// test moves: a rotation's grace and a code's step pass without sleeping. The same
/// behaviour through nginx, on a cluster and on the package is in the end-to-end
/// suites (AccountTests, RotationTests, SecondFactorTests).
final class AccountRouteTests: XCTestCase {
    var redis: RedisServer!
    var config = Configuration()
    var client: RouteClient!
    let clock = TestClock()
    var admin: AdminStore!

    override func setUpWithError() throws {
        redis = try RedisServer()
        config.passwordIterations = 1000
        config.loginRatePerAddress = nil
        admin = AdminStore(connection: redis.connection(), configuration: config)
        try admin.addClient(
            ClientRecord(name: "app", tokenTTL: .seconds(86400), throttleRate: nil, created: 0, rotateOnRefresh: true, reuseGrace: 10))
        var vault = ClientRecord(name: "vault", tokenTTL: .seconds(3600), throttleRate: nil, created: 0)
        vault.requireOTP = true
        try admin.addClient(vault)
        try admin.addUser(
            UserRecord(username: "alice", passwordHash: PasswordHasher(iterations: 1000).hash("alice-pw-2026"), isActive: true))
        client = RouteClient(redis: redis, configuration: config, clock: clock)
    }

    override func tearDown() { redis?.stop() }

    func call(_ method: String, _ path: String, token: String? = nil, issuer: String? = nil, json: String? = nil) -> HTTPResponse {
        let authorization = token.map { "Token \($0)" } ?? issuer.map { "Issuer \($0)" }
        return client.call(
            HTTPRequest(
                method: method, path: path, mountPrefix: "/api/auth", authorization: authorization.map { Array($0.utf8) },
                contentType: json == nil ? nil : "application/json", body: Array((json ?? "").utf8), remoteAddress: "192.0.2.1"))
    }

    func login(client name: String = "app", extra: String = "") -> HTTPResponse {
        call("POST", "/login/", json: #"{"username":"alice","password":"alice-pw-2026","client":"\#(name)"\#(extra)}"#)
    }

    func testARotatingRefreshAndTheReuseOfItsOldToken() throws {
        let old = try XCTUnwrap(login().object["token"] as? String)
        let refreshed = call("POST", "/refresh/", token: old)
        let new = try XCTUnwrap(refreshed.object["token"] as? String, refreshed.text)
        XCTAssertEqual(call("GET", "/verify/", token: old).status, 200, "in its grace")
        clock.advance(seconds: 11)
        XCTAssertEqual(call("GET", "/verify/", token: new).status, 200)
        XCTAssertEqual(call("GET", "/verify/", token: old).detail, "Invalid token.")
        XCTAssertEqual(call("GET", "/verify/", token: new).status, 401, "the session went with it")
        let reused = try admin.recentEvents(count: 20).last { $0["type"] == "token_reused" }
        XCTAssertEqual(reused?["address"], "192.0.2.1")
    }

    func testIssuerRightsGateEachRoute() throws {
        let users = try admin.addIssuer("signup", clients: [], rights: [.users]).value
        let gateway = try admin.addIssuer("gateway", clients: []).value
        XCTAssertEqual(call("POST", "/introspect/", issuer: users, json: #"{"token":"x"}"#).status, 403)
        XCTAssertEqual(call("POST", "/users/", issuer: gateway, json: #"{"username":"bob"}"#).status, 403)
        XCTAssertEqual(call("POST", "/users/", json: #"{"username":"bob"}"#).status, 401)
        let created = call("POST", "/users/", issuer: users, json: #"{"username":"bob","password":"bob-passphrase"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        XCTAssertEqual(created.object["has_usable_password"] as? Bool, true)
        XCTAssertEqual(call("POST", "/users/", issuer: users, json: #"{"username":"eve","is_staff":true}"#).status, 403)
        XCTAssertThrowsError(try admin.addIssuer("odd", clients: [], rights: [.staff]), "staff goes with users")
    }

    func testAPasswordChangeAndItsPolicy() throws {
        let token = try XCTUnwrap(login().object["token"] as? String)
        var r = call("POST", "/password/", token: token, json: #"{"old_password":"alice-pw-2026","new_password":"alice2026"}"#)
        XCTAssertEqual(r.object["new_password"] as? [String], ["The password is too similar to the username."])
        r = call("POST", "/password/", token: token, json: #"{"old_password":"alice-pw-2026","new_password":"a-new-passphrase"}"#)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(call("GET", "/verify/", token: token).status, 200)
    }

    func testASecondFactorAtLogin() throws {
        XCTAssertEqual(login(client: "vault").object["code"] as? String, "otp_not_enrolled")
        let secret = TOTP.generateSecret()
        XCTAssertTrue(
            try TokenStore(connection: redis.connection(), configuration: config).enrollSecondFactor(
                user: "alice", secret: secret, pending: false))
        XCTAssertEqual(login(client: "vault").object["code"] as? String, "otp_required")
        let code = TOTP.code(secret: secret, counter: TOTP.step(at: clock.nowMillis()))
        XCTAssertEqual(login(client: "vault", extra: #","otp":"\#(code)""#).status, 200)
        XCTAssertEqual(login(client: "vault", extra: #","otp":"\#(code)""#).object["code"] as? String, "otp_invalid", "once")
        clock.advance(seconds: 30)
        let next = TOTP.code(secret: secret, counter: TOTP.step(at: clock.nowMillis()))
        XCTAssertEqual(login(client: "vault", extra: #","otp":"\#(next)""#).status, 200, "the next step's code")
        XCTAssertEqual(Array(login().object.keys).sorted(), ["expiry", "token"], "a client without it: durin's answer")
    }
}
