import Foundation
import XCTest

/// Session details and idle timeouts end to end through nginx: a login keeps where
/// it came from, sessions/ shows it with DURIN_SESSION_DETAILS, durinctl lists it,
/// and a token of a client with an idle timeout expires once unused that long, on
/// the plain and the cached path alike, while use and refresh keep it alive.
final class SessionDetailsTests: SharedStackTestCase {
    override class var settings: [String: String] { ["DURIN_SESSION_DETAILS": "on"] }

    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        try stack.durinctl(["client", "add", "kiosk", "--idle", "4s"]).checked()
        try stack.durinctl(["client", "add", "booth", "--idle", "1h"]).checked()
        try stack.addUser("sid", password: "sid-pw")
    }

    static let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

    func login(client: String, label: String? = nil, agent: String = chrome) throws -> HTTPResult {
        var body = #"{"username":"sid","password":"sid-pw","client":"\#(client)""#
        if let label { body += #","label":"\#(label)""# }
        return try http.call("POST", "/api/auth/login/", json: body + "}", extra: [("User-Agent", agent)])
    }

    func token(client: String) throws -> String {
        let r = try login(client: client)
        return try XCTUnwrap(r.object["token"] as? String, "\(r.status) \(r.text)")
    }

    func testALoginKeepsItsAddressAgentAndLabelForSessionsAndDurinctl() throws {
        let r = try login(client: "web", label: "Work laptop")
        XCTAssertEqual(r.status, 200, r.text)
        let token = try XCTUnwrap(r.object["token"] as? String)

        let listed = try http.call("GET", "/api/auth/sessions/", token: token)
        let session = try XCTUnwrap((listed.json as? [[String: Any]])?.first { $0["client"] as? String == "web" }, listed.text)
        XCTAssertEqual(
            Set(session.keys),
            [
                "id", "client", "created", "expiry", "has_expired", "is_current", "expires_in_str",
                "last_used", "address", "user_agent", "label",
            ])
        XCTAssertEqual(session["address"] as? String, "127.0.0.1")
        XCTAssertEqual(session["user_agent"] as? String, "(Windows NT 10.0; Win64; x64) Chrome/131.0.0.0")
        XCTAssertEqual(session["label"] as? String, "Work laptop")
        XCTAssertNotNil(session["last_used"] as? String)

        let out = try stack.durinctl(["token", "list", "--user", "sid", "--client", "web", "--json"]).checked()
        let row = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])?.first, out)
        XCTAssertEqual(row["address"] as? String, "127.0.0.1")
        XCTAssertEqual(row["label"] as? String, "Work laptop")
        XCTAssertEqual(row["user_agent"] as? String, session["user_agent"] as? String)
        XCTAssertNotNil(row["last_used"] as? String)
        let text = try stack.durinctl(["token", "list", "--user", "sid", "--client", "web"]).checked()
        XCTAssertTrue(text.contains("from 127.0.0.1") && text.contains("[Work laptop]"), text)
    }

    func testALabelIsShortDisplayText() throws {
        var r = try login(client: "web", label: String(repeating: "x", count: 33))
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.text, #"{"label":["Ensure this field has no more than 32 characters."]}"#)
        r = try login(client: "web", label: #"tab\there"#)
        XCTAssertEqual(r.status, 400)
        XCTAssertNotNil((r.object["label"] as? [String])?.first, r.text)
        r = try http.call("POST", "/api/auth/login/", json: #"{"username":"sid","password":"sid-pw","client":"web","label":["x"]}"#)
        XCTAssertEqual(r.text, #"{"label":["Not a valid string."]}"#)
        r = try http.call("POST", "/api/auth/login/", json: #"{"username":"sid","password":"sid-pw","client":"web","label":null}"#)
        XCTAssertEqual(r.status, 200, "no label is fine")
    }

    /// kiosk's idle timeout is 4 s; with the default resolution a token is written
    /// at most every second (a quarter of 4 s), so it is idle once unused for 5 s.
    /// The gaps here are 2 s of use and 7 s of none: a slow machine has seconds to spare.
    func testAnIdleTokenExpiresWhileOneInUseOrRefreshedDoesNot() throws {
        let plain = try token(client: "kiosk")
        let cached = try token(client: "kiosk")  // the pair's one token: the same
        XCTAssertEqual(plain, cached)
        let other = try http.call("POST", "/api/auth/login/", json: #"{"username":"sid","password":"sid-pw","client":"kiosk"}"#)
        XCTAssertEqual(other.object["token"] as? String, plain)

        // A second user's token for the refresh path.
        try stack.addUser("rae", password: "rae-pw")
        let refreshed = try stack.login("rae", "rae-pw", client: "kiosk")

        for round in 1...2 {
            Thread.sleep(forTimeInterval: 2)
            XCTAssertEqual(try http.call("GET", "/api/ping/", token: plain).status, 200, "in use, round \(round)")
            XCTAssertEqual(try http.call("GET", "/api/ping/cached/", token: cached).status, 200, "cached, in use, round \(round)")
            if round == 1 {
                XCTAssertEqual(try http.call("POST", "/api/auth/refresh/", token: refreshed).status, 200)
            }
        }
        // rae's token: 4 s since its login, 2 s since its refresh.
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: refreshed).status, 200, "a refresh is a use")

        Thread.sleep(forTimeInterval: 7)
        var r = try http.call("GET", "/api/ping/cached/", token: cached)
        XCTAssertEqual(r.status, 401, "the cached path sees the idle timeout too")
        XCTAssertEqual(r.detail, "The given token has expired.")
        r = try http.call("GET", "/api/ping/", token: plain)
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(r.detail, "Invalid token.", "reported once, then gone")
        let events = try stack.durinctl(["events", "--last", "20"]).checked()
        XCTAssertTrue(events.contains("token_expired") && events.contains("idle"), events)

        // A new login gets a new token.
        XCTAssertNotEqual(try token(client: "kiosk"), plain)
    }

    func testANewIdleTimeoutReachesLiveTokens() throws {
        let t = try token(client: "booth")
        func idle() throws -> Any? {
            let out = try stack.durinctl(["token", "list", "--user", "sid", "--client", "booth", "--json"]).checked()
            return (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]])?.first?["idle_timeout"]
        }
        XCTAssertEqual(try idle() as? String, "1h")
        let out = try stack.durinctl(["client", "set", "booth", "--idle", "none"]).checked()
        XCTAssertTrue(out.contains("1 live token"), out)
        XCTAssertTrue(try idle() is NSNull)
        let shown = try stack.durinctl(["client", "show", "booth", "--json"]).checked()
        XCTAssertTrue((try JSONSerialization.jsonObject(with: Data(shown.utf8)) as? [String: Any])?["idle_timeout"] is NSNull, shown)
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: t).status, 200)
    }
}
