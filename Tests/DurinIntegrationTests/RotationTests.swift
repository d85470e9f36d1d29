import Foundation
import XCTest

/// Tokens that rotate on refresh (RFC 9700 §4.14.2), through nginx: a client marked
/// `--rotate-on-refresh` gets a new token from refresh/, the old one keeps working
/// for the reuse grace, and its use after that is taken as theft: the session ends,
/// whoever holds its current token, and `token_reused` names where the reuse came
/// from. The session is one session throughout. Run on one server and, with the
/// rest of the suite, on a cluster.
final class RotationTests: SharedStackTestCase {
    override class var settings: [String: String] { ["DURIN_SESSION_DETAILS": "on"] }

    override class func prepare(_ stack: Stack) throws {
        try stack.durinctl(["client", "add", "mobile", "--ttl", "30d", "--idle", "7d", "--rotate-on-refresh", "--reuse-grace", "2s"])
            .checked()
        try stack.addClient("web")
        try stack.addUser("rosa", password: "rosa-pw")
        try stack.addUser("theo", password: "theo-pw")
        try stack.addUser("lena", password: "lena-pw")
    }

    func refresh(_ token: String, agent: String = "app/1.0") throws -> HTTPResult {
        try http.call("POST", "/api/auth/refresh/", token: token, extra: [("User-Agent", agent)])
    }

    func status(_ token: String, _ path: String = "/api/auth/verify/") throws -> Int {
        try http.call("GET", path, token: token).status
    }

    func login(_ user: String, client: String = "mobile") throws -> String {
        let r = try http.call(
            "POST", "/api/auth/login/", json: #"{"username":"\#(user)","password":"\#(user)-pw","client":"\#(client)","label":"phone"}"#)
        XCTAssertEqual(r.status, 200, r.text)
        return try XCTUnwrap(r.object["token"] as? String)
    }

    func testRotationWithinAndAfterTheGraceWindow() throws {
        let first = try login("rosa")
        let before = try XCTUnwrap(http.call("GET", "/api/auth/sessions/", token: first).json as? [[String: Any]])
        XCTAssertEqual(before.count, 1)

        var r = try refresh(first)
        XCTAssertEqual(r.status, 200, r.text)
        let second = try XCTUnwrap(r.object["token"] as? String)
        XCTAssertNotEqual(second, first)
        XCTAssertNotNil(r.object["expiry"] as? String)
        XCTAssertEqual(Array(r.object.keys).sorted(), ["expiry", "token"])

        // In the grace window both work, on plain and cached checks, and a refresh
        // retried with the old token gets the same new token.
        XCTAssertEqual(try status(first), 200)
        XCTAssertEqual(try status(first, "/api/ping/cached/"), 200)
        XCTAssertEqual(try status(second), 200)
        XCTAssertEqual(try status(second, "/api/ping/cached/"), 200)
        r = try refresh(first)
        XCTAssertEqual(r.object["token"] as? String, second, "a retried refresh: \(r.text)")

        // One session, the same id, details and idle timeout carried over.
        let after = try XCTUnwrap(http.call("GET", "/api/auth/sessions/", token: second).json as? [[String: Any]])
        XCTAssertEqual(after.count, 1, "\(after)")
        XCTAssertEqual(after.first?["id"] as? Int, before.first?["id"] as? Int)
        XCTAssertEqual(after.first?["is_current"] as? Bool, true)
        XCTAssertEqual(after.first?["label"] as? String, "phone")
        let listed = try stack.durinctl(["token", "list", "--user", "rosa", "--json"]).checked()
        XCTAssertTrue(listed.contains(#""idle_timeout":"7d""#), listed)

        // Past the window the old token is a copy's: the session ends.
        Thread.sleep(forTimeInterval: 2.5)
        XCTAssertEqual(try status(second), 200, "the new token lives until the old one is reused")
        let reused = try http.call("GET", "/api/auth/verify/", token: first, extra: [("User-Agent", "curl/8.0 thief")])
        XCTAssertEqual(reused.status, 401)
        XCTAssertEqual(reused.detail, "Invalid token.")
        XCTAssertEqual(try status(second), 401, "the pair's current token went with it")
        XCTAssertEqual(try status(second, "/api/ping/cached/"), 401)
        let events = try stack.durinctl(["events", "--last", "100", "--json"]).checked()
        let lines = events.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let reuse = try XCTUnwrap(lines.last { $0["type"] as? String == "token_reused" }, events)
        XCTAssertEqual(reuse["user"] as? String, "rosa")
        XCTAssertEqual(reuse["address"] as? String, "127.0.0.1")
        XCTAssertEqual(reuse["user_agent"] as? String, "curl/8.0 thief")
        XCTAssertEqual(reuse["reason"] as? String, "session_revoked")
        XCTAssertTrue(events.contains(#""type":"token_rotated""#))
    }

    func testAnOldTokensLogoutEndsTheSessionAndOthersKeepDurinsRefresh() throws {
        let first = try login("theo")
        let second = try XCTUnwrap(try refresh(first).object["token"] as? String)
        XCTAssertEqual(try http.call("POST", "/api/auth/logout/", token: first).status, 204)
        XCTAssertEqual(try status(second), 401, "logging out with the old token ends the session")

        // A client that does not rotate: durin's refresh, the same token.
        let web = try login("theo", client: "web")
        let r = try refresh(web)
        XCTAssertEqual(Array(r.object.keys), ["expiry"])
        XCTAssertEqual(try status(web), 200)

        // Turning rotation on reaches the next refresh; a new session after a reuse is a new token.
        try stack.durinctl(["client", "set", "web", "--rotate-on-refresh", "--reuse-grace", "0"]).checked()
        let rotated = try XCTUnwrap(try refresh(web).object["token"] as? String)
        XCTAssertEqual(try status(web), 401, "no grace: the old token is a copy at once")
        XCTAssertEqual(try status(rotated), 401)
        try stack.durinctl(["client", "set", "web", "--no-rotate-on-refresh"]).checked()
    }

    /// Two refreshes of one token at once (an app's two threads) end with one
    /// session, and each gets a token that works.
    func testConcurrentRefreshesKeepOneSession() throws {
        let first = try login("lena")
        let answers = Locked<[String]>([])
        let http = self.http
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            if let r = try? http.call("POST", "/api/auth/refresh/", token: first), let token = r.object["token"] as? String {
                answers.update { $0?.append(token) }
            }
        }
        let tokens = Set(answers.get() ?? [])
        XCTAssertEqual(tokens.count, 1, "every refresh got the one new token: \(tokens)")
        let sessions = try XCTUnwrap(http.call("GET", "/api/auth/sessions/", token: try XCTUnwrap(tokens.first)).json as? [[String: Any]])
        XCTAssertEqual(sessions.count, 1)
    }
}
