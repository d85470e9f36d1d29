import DurinTestSupport
import Foundation
import XCTest

/// Issue 24: one request followed through nginx, durin and the events. nginx passes
/// `$request_id` (DURIN_REQUEST_ID) with every request and every auth_request check;
/// durin's log lines and the events the request records carry it, and a client's
/// well-formed `traceparent` adds its trace id to the log lines. What a client
/// chooses never reaches a log line unchecked.
final class RequestIDTests: SharedStackTestCase {
    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        try stack.addUser("rhea", password: "rhea-pw")
    }

    func events() throws -> [[String: Any]] {
        let out = try stack.durinctl(["events", "--json", "--last", "200"]).checked()
        return out.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func durinLog() -> String { (try? String(contentsOfFile: "\(stack.state)/durin.log", encoding: .utf8)) ?? "" }

    func testLogLinesAndEventsCarryTheRequestsID() throws {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
        let failed = try http.call(
            "POST", "/api/auth/login/", json: #"{"username":"rhea","password":"wrong","client":"web"}"#,
            extra: [("traceparent", "00-\(trace)-00f067aa0ba902b7-01")])
        XCTAssertEqual(failed.status, 400)
        let failure = try XCTUnwrap(try events().last { $0["type"] as? String == "login_failed" && $0["user"] as? String == "rhea" })
        let failedID = try XCTUnwrap(failure["request_id"] as? String, "\(failure)")
        XCTAssertNotNil(failedID.range(of: "^[0-9a-f]{32}$", options: .regularExpression), failedID)
        XCTAssertTrue(
            Processes.eventually {
                self.durinLog().split(separator: "\n").contains {
                    $0.contains("login failed") && $0.contains("request_id=\(failedID)") && $0.contains("trace_id=\(trace)")
                }
            }, "durin's log line names the request and its trace:\n\(durinLog().suffix(2000))")

        let token = try stack.login("rhea", "rhea-pw", client: "web")
        let created = try XCTUnwrap(try events().last { $0["type"] as? String == "token_created" && $0["user"] as? String == "rhea" })
        let createdID = try XCTUnwrap(created["request_id"] as? String)
        XCTAssertNotEqual(createdID, failedID, "each request its own id")

        // Every route's events name their request: a logout records the id nginx gave it.
        XCTAssertEqual(try http.call("POST", "/api/auth/logout/", token: token).status, 204)
        let revoked = try XCTUnwrap(try events().last { $0["type"] as? String == "token_revoked" && $0["user"] as? String == "rhea" })
        XCTAssertNotNil((revoked["request_id"] as? String)?.range(of: "^[0-9a-f]{32}$", options: .regularExpression))
    }

    /// A traceparent that is not one, or a forged line break, never reaches a log line.
    func testAClientsTraceparentIsCheckedBeforeAnyLine() throws {
        for forged in [
            "00-\(String(repeating: "0", count: 32))-00f067aa0ba902b7-01", "00-zz-00-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 injected=1",
        ] {
            let r = try http.call(
                "POST", "/api/auth/login/", json: #"{"username":"rhea","password":"wrong","client":"web"}"#,
                extra: [("traceparent", forged)])
            XCTAssertEqual(r.status, 400)
        }
        XCTAssertFalse(durinLog().contains("injected"), "an unchecked traceparent reached the log")
        XCTAssertFalse(durinLog().contains("trace_id=00000000000000000000000000000000"))
    }
}
