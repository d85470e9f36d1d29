import Foundation
import XCTest

/// What a protected upstream is told beyond the user and client: the session id
/// always, and where the check reads the user's record (DURIN_UPSTREAM_FIELDS,
/// `$durin_require_staff on`) whether the user is staff and the named profile
/// fields. A client can forge none of them, and a location that requires staff
/// refuses everyone else as it refuses a denied client.
final class UpstreamIdentityTests: SharedStackTestCase {
    override class var settings: [String: String] { ["DURIN_UPSTREAM_FIELDS": "email,first_name"] }

    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        try stack.addUser("alice", password: "alice-pw", extra: ["--field", "email=alice@example.com", "--field", "first_name=Alice"])
        try stack.addUser("ada", password: "ada-pw", extra: ["--staff", "--field", "email=ada@example.com"])
    }

    func currentSession(_ token: String) throws -> Int {
        let sessions = try http.call("GET", "/api/auth/sessions/", token: token).json as? [[String: Any]] ?? []
        return try XCTUnwrap(sessions.first { $0["is_current"] as? Bool == true }?["id"] as? Int)
    }

    func testTheUpstreamIsToldTheSessionStaffAndFields() throws {
        let alice = try stack.login("alice", "alice-pw", client: "web")
        let page = try http.call("GET", "/app/page", token: alice)
        XCTAssertEqual(page.status, 200, page.text)
        XCTAssertEqual(page.object["session"] as? String, String(try currentSession(alice)))
        XCTAssertEqual(page.object["staff"] as? String, "false")
        XCTAssertEqual(page.object["email"] as? String, "alice@example.com")

        let ada = try stack.login("ada", "ada-pw", client: "web")
        let staff = try http.call("GET", "/app/page", token: ada)
        XCTAssertEqual(staff.object["staff"] as? String, "true")
        XCTAssertEqual(staff.object["email"] as? String, "ada@example.com")

        // verify/ itself names them too, as headers.
        let verified = try http.call("GET", "/api/auth/verify/", token: alice)
        XCTAssertEqual(verified.header("X-Durin-First-Name"), "Alice")
        XCTAssertEqual(verified.header("X-Durin-Session"), String(try currentSession(alice)))
    }

    func testALocationCanRequireStaff() throws {
        let alice = try stack.login("alice", "alice-pw", client: "web")
        let refused = try http.call("GET", "/app/staff/report", token: alice)
        XCTAssertEqual(refused.status, 403, refused.text)
        XCTAssertEqual(refused.detail, "You do not have permission to perform this action.")
        let ada = try stack.login("ada", "ada-pw", client: "web")
        let allowed = try http.call("GET", "/app/staff/report", token: ada)
        XCTAssertEqual(allowed.status, 200, allowed.text)
        XCTAssertEqual(allowed.object["user"] as? String, "ada")

        // Staff taken away: refused at the next check.
        try stack.addUser("sam", password: "sam-pw", extra: ["--staff"])
        let sam = try stack.login("sam", "sam-pw", client: "web")
        XCTAssertEqual(try http.call("GET", "/app/staff/report", token: sam).status, 200)
        try stack.durinctl(["user", "set", "sam", "--no-staff"]).checked()
        XCTAssertEqual(try http.call("GET", "/app/staff/report", token: sam).status, 403)
    }

    /// A client's own X-Durin-Session, -Staff or -<Field> header never reaches an
    /// upstream: the check refuses the request, in any case and any number of lines.
    func testNoneOfThemCanBeForged() throws {
        let alice = try stack.login("alice", "alice-pw", client: "web")
        for header in ["X-Durin-Session", "X-Durin-Staff", "X-Durin-Email", "x-durin-first-name"] {
            for value in ["1", "true", ""] {
                let r = try http.call("GET", "/app/page", token: alice, extra: [(header, value)])
                XCTAssertEqual(r.status, 400, "\(header): \(value): \(r.text)")
                XCTAssertEqual(r.detail, "X-Durin-* headers are set by durin, never by a client.")
            }
        }
    }

    /// A profile value that nginx would read as the end of a header line is not
    /// passed on: no header can be injected through a profile field.
    func testAFieldWithALineBreakIsNotPassedOn() throws {
        try stack.addUser("mallory", password: "mallory-pw")
        _ = try stack.redisCLI("HSET", stack.keys.user("mallory"), "email", "m@example.com\r\nX-Durin-User: root")
        let token = try stack.login("mallory", "mallory-pw", client: "web")
        let page = try http.call("GET", "/app/page", token: token)
        XCTAssertEqual(page.status, 200, page.text)
        XCTAssertEqual(page.object["user"] as? String, "mallory")
        XCTAssertEqual(page.object["email"] as? String, "")
    }
}
