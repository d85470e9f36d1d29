import DurinCore
import DurinStore
import Foundation
import XCTest

/// Sessions, the API-access token, throttling, failed-login limits, events, trusted
/// issuance and readiness, end to end through nginx.
final class Durin11Tests: SharedStackTestCase {
    override class var settings: [String: String] {
        [
            "DURIN_API_ACCESS_CLIENT_NAME": "api", "DURIN_THROTTLE_RATE": "3/m", "DURIN_LOGIN_FAILURE_RATE": "3/m",
        ]
    }

    override class func prepare(_ stack: Stack) throws {
        for c in ["web", "cli", "mobile", "api"] { try stack.addClient(c) }
        try stack.durinctl(["client", "add", "tight", "--throttle", "2/m"]).checked()
        try stack.addClient("week", ttl: "7d")
    }

    func newUser(_ name: String) throws -> String {
        try stack.addUser(name, password: "\(name)-pw")
        return "\(name)-pw"
    }

    // MARK: Sessions

    func testSessionsListTheCallersTokensWithDurinsFields() throws {
        let pw = try newUser("sam")
        let web = try stack.login("sam", pw, client: "web")
        _ = try stack.login("sam", pw, client: "week")
        _ = try stack.login(
            try {
                try newUser("other")
                return "other"
            }(), "other-pw", client: "web")
        let r = try http.call("GET", "/api/auth/sessions/", token: web)
        XCTAssertEqual(r.status, 200)
        let list = try XCTUnwrap(r.json as? [[String: Any]])
        XCTAssertEqual(list.count, 2, "only the caller's tokens, no pagination envelope")
        XCTAssertEqual(list.map { $0["client"] as? String }, ["web", "week"], "ordered by session id")
        let first = list[0]
        XCTAssertEqual(Set(first.keys), ["id", "client", "created", "expiry", "has_expired", "is_current", "expires_in_str"])
        XCTAssertTrue(first["id"] is Int, "session ids are integers")
        XCTAssertEqual(first["is_current"] as? Bool, true)
        XCTAssertEqual(list[1]["is_current"] as? Bool, false)
        XCTAssertEqual(first["has_expired"] as? Bool, false)
        XCTAssertEqual(first["expires_in_str"] as? String, "a day")
        XCTAssertEqual(list[1]["expires_in_str"] as? String, "6 days", "humanize: 6 whole days and change")
        XCTAssertEqual(try http.call("GET", "/api/auth/sessions", token: web).status, 200)
        XCTAssertEqual(try http.call("GET", "/api/auth/sessions/").status, 401)
        XCTAssertEqual(try http.call("POST", "/api/auth/sessions/", token: web).status, 405)
    }

    func testDeletingSessions() throws {
        let pw = try newUser("dana")
        let web = try stack.login("dana", pw, client: "web")
        let cli = try stack.login("dana", pw, client: "cli")
        let list = try XCTUnwrap(try http.call("GET", "/api/auth/sessions/", token: web).json as? [[String: Any]])
        let webID = try XCTUnwrap(list.first { $0["client"] as? String == "web" }?["id"] as? Int)
        let cliID = try XCTUnwrap(list.first { $0["client"] as? String == "cli" }?["id"] as? Int)

        var r = try http.call("DELETE", "/api/auth/sessions/\(webID)/", token: web)
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.text, #"["Can't delete token if the request is authed with it.Use /api/auth/logout/ instead."]"#)
        // durin's router writes sessions//<id>; nginx merges the slashes.
        r = try http.call("DELETE", "/api/auth/sessions//\(cliID)", token: web)
        XCTAssertEqual(r.status, 204)
        XCTAssertTrue(r.body.isEmpty)
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: cli).detail, "Invalid token.")

        r = try http.call("DELETE", "/api/auth/sessions/\(cliID)/", token: web)
        XCTAssertEqual(r.status, 404)
        XCTAssertEqual(r.text, #"{"detail":"No AuthToken matches the given query."}"#)
        let strangerToken = try stack.login(
            try {
                try newUser("eve")
                return "eve"
            }(), "eve-pw", client: "web")
        r = try http.call("DELETE", "/api/auth/sessions/\(webID)/", token: strangerToken)
        XCTAssertEqual(r.status, 404, "another user's session is not found")
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: web).status, 200)
        r = try http.call("DELETE", "/api/auth/sessions/abc/", token: web)
        XCTAssertEqual(r.status, 404)
        XCTAssertEqual(r.detail, "Not found.")
        XCTAssertEqual(try http.call("GET", "/api/auth/sessions/\(webID)/", token: web).detail, "Method \"GET\" not allowed.")
    }

    // MARK: API-access token

    func testAPIAccessTokenLifecycle() throws {
        let pw = try newUser("ada")
        let web = try stack.login("ada", pw, client: "web")
        var r = try http.call("GET", "/api/auth/apiaccess/", token: web)
        XCTAssertEqual(r.status, 404)
        XCTAssertEqual(r.text, #"{"detail":"Not found."}"#)
        r = try http.call("POST", "/api/auth/apiaccess/", token: web)
        XCTAssertEqual(r.status, 201)
        let apiToken = try XCTUnwrap(r.object["token"] as? String)
        XCTAssertEqual(r.object["client"] as? String, "api")
        XCTAssertEqual(r.object["has_expired"] as? Bool, false)
        XCTAssertNotNil(r.object["expires_in_str"] as? String)
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: apiToken).text, #"{"user":"ada","client":"api"}"#)
        r = try http.call("POST", "/api/auth/apiaccess/", token: web)
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.text, #"["An API token was already issued to you."]"#)
        r = try http.call("GET", "/api/auth/apiaccess/", token: web)
        XCTAssertEqual(r.status, 200)
        XCTAssertNil(r.object["token"], "the token is shown only when DURIN_API_ACCESS_RESPONSE_INCLUDE_TOKEN is set")
        XCTAssertEqual(r.object["client"] as? String, "api")
        let sessions = try XCTUnwrap(try http.call("GET", "/api/auth/sessions/", token: web).json as? [[String: Any]])
        XCTAssertTrue(sessions.contains { $0["client"] as? String == "api" }, "listed unless excluded")
        XCTAssertEqual(try http.call("DELETE", "/api/auth/apiaccess/", token: web).status, 204)
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: apiToken).status, 401)
        XCTAssertEqual(try http.call("DELETE", "/api/auth/apiaccess/", token: web).status, 404)
        XCTAssertEqual(try http.call("GET", "/api/auth/apiaccess/").status, 401)
    }

    // MARK: Throttling

    func testThrottledLocationAnswers429WithRetryAfter() throws {
        let pw = try newUser("tom")
        let web = try stack.login("tom", pw, client: "web")
        for _ in 0..<3 { XCTAssertEqual(try http.call("GET", "/api/throttled/", token: web).status, 200) }
        var r = try http.call("GET", "/api/throttled/", token: web)
        XCTAssertEqual(r.status, 429)
        XCTAssertEqual(r.header("Content-Type"), "application/json")
        let retry = try XCTUnwrap(Int(r.header("Retry-After") ?? ""))
        XCTAssertTrue((55...60).contains(retry), "\(retry)")
        XCTAssertEqual(r.detail, "Request was throttled. Expected available in \(retry) seconds.")
        // Unthrottled locations are not affected; rejected requests did not count.
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: web).status, 200)
        XCTAssertEqual(try stack.redisCLI("ZCARD", "durin:throttle:tom:web"), "3")
        // Keyed by user and client: it survives logout and a new token.
        XCTAssertEqual(try http.call("POST", "/api/auth/logout/", token: web).status, 204)
        let again = try stack.login("tom", pw, client: "web")
        XCTAssertEqual(try http.call("GET", "/api/throttled/", token: again).status, 429)
        // Another client of the same user has its own budget.
        let cli = try stack.login("tom", pw, client: "cli")
        XCTAssertEqual(try http.call("GET", "/api/throttled/", token: cli).status, 200)
        // A client's own rate wins over DURIN_THROTTLE_RATE.
        let tight = try stack.login("tom", pw, client: "tight")
        for _ in 0..<2 { XCTAssertEqual(try http.call("GET", "/api/throttled/", token: tight).status, 200) }
        r = try http.call("GET", "/api/throttled/", token: tight)
        XCTAssertEqual(r.status, 429)
        // Unauthenticated requests are refused before the throttle.
        XCTAssertEqual(try http.call("GET", "/api/throttled/").status, 401)
    }

    func testFailedLoginsAreLimitedPerUsernameWithoutHashing() throws {
        let pw = try newUser("lou")
        for _ in 0..<3 {
            XCTAssertEqual(
                try http.call("POST", "/api/auth/login/", json: #"{"username":"lou","password":"bad","client":"web"}"#).status, 400)
        }
        var r = try http.call("POST", "/api/auth/login/", json: #"{"username":"lou","password":"\#(pw)","client":"web"}"#)
        XCTAssertEqual(r.status, 429, "even the right password waits: it is not checked")
        XCTAssertNotNil(Int(r.header("Retry-After") ?? ""))
        XCTAssertTrue(r.detail?.hasPrefix("Request was throttled. Expected available in ") == true)
        // Other names are unaffected.
        let pw2 = try newUser("lia")
        XCTAssertNoThrow(try stack.login("lia", pw2, client: "web"))
        // A successful login clears the count (after the window, or here by hand).
        try stack.redisCLI("DEL", stack.keys.loginFailures(user: "lou", addressGroup: ClientAddress.group("127.0.0.1")))
        r = try http.call("POST", "/api/auth/login/", json: #"{"username":"lou","password":"\#(pw)","client":"web"}"#)
        XCTAssertEqual(r.status, 200)
    }

    // MARK: Events

    func testEventsRecordTheTokenLifecycleWithoutTokens() throws {
        let pw = try newUser("evan")
        let token = try stack.login("evan", pw, client: "web")
        _ = try http.call("POST", "/api/auth/refresh/", token: token)
        _ = try http.call("POST", "/api/auth/login/", json: #"{"username":"evan","password":"nope","client":"web"}"#)
        _ = try http.call("POST", "/api/auth/logout/", token: token)
        let out = try stack.durinctl(["events", "--json", "--last", "1000"]).checked()
        XCTAssertFalse(out.contains(token), "an event never holds a token")
        XCTAssertFalse(out.contains(tokenDigest(token)), "nor its digest")
        let mine = out.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String]
        }.filter { $0["user"] == "evan" }
        XCTAssertEqual(mine.map { $0["type"]! }, ["token_created", "login", "token_renewed", "login_failed", "token_revoked"])
        XCTAssertEqual(mine.last?["reason"], "logout")
        let first = try XCTUnwrap(mine.first)
        XCTAssertNotNil(Int(first["session"] ?? ""))
        XCTAssertNotNil(Int64(first["time"] ?? ""))
        let text = try stack.durinctl(["events", "--last", "3"]).checked()
        XCTAssertTrue(text.contains("token_revoked  user=evan client=web"), text)
    }

    // MARK: Trusted issuance and readiness

    func testTrustedIssuanceOnlyWhereNginxAllowsIt() throws {
        _ = try newUser("ivy")
        let key = try stack.durinctl(["issuer", "add", "portal"]).checked().trimmingCharacters(in: .whitespacesAndNewlines)
        let issuer = [("Authorization", "Issuer \(key)")]
        var r = try http.call("POST", "/internal/durin/issue/", json: #"{"username":"ivy","client":"web"}"#, extra: issuer)
        XCTAssertEqual(r.status, 200)
        let token = try XCTUnwrap(r.object["token"] as? String)
        XCTAssertNotNil(r.object["expiry"])
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: token).text, #"{"user":"ivy","client":"web"}"#)
        r = try http.call("POST", "/internal/durin/issue", json: #"{"username":"ivy","client":"web"}"#, extra: issuer)
        XCTAssertEqual(r.object["token"] as? String, token, "like login: the pair's live token")
        XCTAssertEqual(
            try http.call("POST", "/internal/durin/issue/", json: #"{"username":"ghost","client":"web"}"#, extra: issuer).status, 400)
        XCTAssertEqual(
            try http.call("POST", "/internal/durin/issue/", json: #"{"username":"ivy"}"#, extra: issuer).detail, "No client specified.")
        // The public mount has no issue/ route, even with a forged header.
        r = try http.call("POST", "/api/auth/issue/", json: #"{"username":"ivy","client":"web"}"#, extra: [("Durin-Trusted", "1")] + issuer)
        XCTAssertEqual(r.status, 404)
        XCTAssertEqual(r.detail, "Not found.")
        XCTAssertEqual(try http.call("POST", "/internal/durin/login/", json: "{}").status, 404, "only issue/ is routed there")
    }

    func testReady() throws {
        let r = try http.call("GET", "/api/auth/ready/")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.text, #"{"redis":"ok"}"#)
    }
}

/// durin's optional login behaviours.
final class LoginSettingsTests: XCTestCase {
    func testRefreshOnLoginAndUserFields() throws {
        let stack = try Stack(settings: ["DURIN_REFRESH_TOKEN_ON_LOGIN": "true", "DURIN_USER_FIELDS": "username,email,phone"])
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addUser("rita", password: "rita-pw", extra: ["--field", "email=rita@example.com"])
        let body = #"{"username":"rita","password":"rita-pw","client":"web"}"#
        let first = try stack.http.call("POST", "/api/auth/login/", json: body)
        XCTAssertEqual(first.text.hasPrefix(#"{"expiry":"#), true)
        let user = try XCTUnwrap(first.object["user"] as? [String: Any])
        XCTAssertEqual(user["username"] as? String, "rita")
        XCTAssertEqual(user["email"] as? String, "rita@example.com")
        XCTAssertTrue(user["phone"] is NSNull)
        // Deliberately lets time pass: expiries have millisecond resolution, and the
        // second login must happen at a later millisecond for a fresh expiry to differ.
        Thread.sleep(forTimeInterval: 0.05)
        let second = try stack.http.call("POST", "/api/auth/login/", json: body)
        XCTAssertEqual(second.object["token"] as? String, first.object["token"] as? String, "same token")
        XCTAssertNotEqual(second.object["expiry"] as? String, first.object["expiry"] as? String, "fresh expiry")
        XCTAssertEqual(
            try stack.http.call("GET", "/api/auth/apiaccess/", token: second.object["token"] as? String).status, 404,
            "no API-access client configured: the route does not exist")
    }

    func testRotateOnLoginAndAPIAccessOptions() throws {
        let stack = try Stack(settings: [
            "DURIN_ROTATE_TOKEN_ON_LOGIN": "1", "DURIN_API_ACCESS_CLIENT_NAME": "api",
            "DURIN_API_ACCESS_EXCLUDE_FROM_SESSIONS": "true", "DURIN_API_ACCESS_RESPONSE_INCLUDE_TOKEN": "true",
        ])
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addClient("api")
        try stack.addUser("rob", password: "rob-pw")
        let first = try stack.login("rob", "rob-pw", client: "web")
        let second = try stack.login("rob", "rob-pw", client: "web")
        XCTAssertNotEqual(first, second, "every login issues a new token")
        XCTAssertEqual(try stack.http.call("GET", "/api/ping/", token: first).detail, "Invalid token.", "the old one is revoked")
        let created = try stack.http.call("POST", "/api/auth/apiaccess/", token: second)
        let apiToken = try XCTUnwrap(created.object["token"] as? String)
        let shown = try stack.http.call("GET", "/api/auth/apiaccess/", token: second)
        XCTAssertEqual(shown.object["token"] as? String, apiToken, "DURIN_API_ACCESS_RESPONSE_INCLUDE_TOKEN")
        let sessions = try XCTUnwrap(try stack.http.call("GET", "/api/auth/sessions/", token: second).json as? [[String: Any]])
        XCTAssertEqual(sessions.map { $0["client"] as? String }, ["web"], "DURIN_API_ACCESS_EXCLUDE_FROM_SESSIONS")

        // Hidden from the listing, so not deletable through sessions/<id> either: durin's 404.
        let listed = try stack.durinctl(["token", "list", "--user", "rob", "--client", "api", "--json"]).checked()
        let apiSession = try XCTUnwrap(
            (try JSONSerialization.jsonObject(with: Data(listed.utf8)) as? [[String: Any]])?.first?["id"] as? Int)
        let delete = try stack.http.call("DELETE", "/api/auth/sessions/\(apiSession)/", token: second)
        XCTAssertEqual(delete.status, 404)
        XCTAssertEqual(delete.detail, "No AuthToken matches the given query.")
        XCTAssertEqual(try stack.http.call("GET", "/api/ping/", token: apiToken).status, 200, "the API-access token lives on")
    }
}
