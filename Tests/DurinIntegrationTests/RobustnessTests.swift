import DurinTestSupport
import Foundation
import XCTest

/// Bad input of every kind gets a clear answer, never a crash, and loses nothing.
final class RobustnessTests: SharedStackTestCase {
    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        try stack.addUser("alice", password: "alice-pw")
    }

    override func tearDown() {
        // Whatever a test sent, the responder is still the same process and answers.
        XCTAssertTrue(stack.pid("durin.pid").map(Processes.isRunning) ?? false, "durin-fcgi died")
        XCTAssertEqual((try? http.call("GET", "/api/auth/login/"))?.status, 405)
        super.tearDown()
    }

    func testMalformedJSON() throws {
        var r = try http.call("POST", "/api/auth/login/", json: #"{"username": "alice", "#)
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.detail, "JSON parse error - Expecting property name enclosed in double quotes: line 1 column 23 (char 22)")
        r = try http.call("POST", "/api/auth/login/", json: "{'a': 1}")
        XCTAssertEqual(r.status, 400)
        XCTAssertTrue(r.detail?.hasPrefix("JSON parse error - ") == true)
        r = try http.call("POST", "/api/auth/login/", json: String(repeating: "[", count: 100_000))
        XCTAssertEqual(r.status, 400, "deep nesting is refused, not recursed into")
    }

    func testNonUTF8Bodies() throws {
        let r = try http.call("POST", "/api/auth/login/", contentType: "application/json", body: [0x7B, 0xFF, 0xFE, 0x7D])
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.detail, "JSON parse error - 'utf-8' codec can't decode byte 0xff in position 1: invalid start byte")
        let f = try http.call(
            "POST", "/api/auth/login/", contentType: "application/x-www-form-urlencoded",
            body: Array("username=al%FFice&password=x&client=web".utf8))
        XCTAssertEqual(f.text, #"{"non_field_errors":["Unable to log in with provided credentials."]}"#)
    }

    func testUnsupportedMediaType() throws {
        let r = try http.call("POST", "/api/auth/login/", contentType: "text/plain", body: Array("username=alice".utf8))
        XCTAssertEqual(r.status, 415)
        XCTAssertEqual(r.text, #"{"detail":"Unsupported media type \"text/plain\" in request."}"#)
    }

    func testUnknownRoutesAndMethods() throws {
        for path in ["/api/auth/", "/api/auth/nope/", "/api/auth/login/extra", "/api/auth/../auth/x"] {
            let r = try http.call("GET", path)
            XCTAssertEqual(r.status, 404, path)
            XCTAssertEqual(r.text, #"{"detail":"Not found."}"#, path)
        }
        let r = try http.call("PUT", "/api/auth/login/", json: "{}")
        XCTAssertEqual(r.status, 405)
        XCTAssertEqual(r.detail, "Method \"PUT\" not allowed.")
        XCTAssertEqual(r.header("Allow"), "POST, OPTIONS")
        let o = try http.call("OPTIONS", "/api/auth/login/")
        XCTAssertEqual(o.status, 200)
        XCTAssertEqual(o.object["name"] as? String, "Login")
    }

    func testOversizedBodies() throws {
        // Over the responder's 1 MiB limit: its own JSON 413.
        var r = try http.call("POST", "/api/auth/login/", contentType: "application/json", body: [UInt8](repeating: 0x20, count: 1_500_000))
        XCTAssertEqual(r.status, 413)
        XCTAssertEqual(r.detail, "Request body too large: the limit is 1048576 bytes.")
        // Over nginx's limit: refused before it reaches the responder, still as JSON.
        r = try http.call("POST", "/api/auth/login/", contentType: "application/json", body: [UInt8](repeating: 0x20, count: 3_000_000))
        XCTAssertEqual(r.status, 413)
        XCTAssertEqual(r.header("Content-Type"), "application/json")
        XCTAssertEqual(r.detail, "Request body too large: the limit is 1048576 bytes.")
        // A body at the limit is read and parsed.
        let padded =
            #"{"username":"alice","password":"alice-pw","client":"web","pad":""# + String(repeating: "x", count: 1_000_000) + #""}"#
        XCTAssertEqual(try http.call("POST", "/api/auth/login/", json: padded).status, 200)
    }

    func testHostileHeaderValuesAreHarmless() throws {
        let token = try stack.login("alice", "alice-pw", client: "web")
        var r = try http.request("GET", "/api/auth/verify/", headers: [("Authorization", Array("Token \(token)\u{0}x".utf8))])
        XCTAssertEqual(r.status, 400, "nginx refuses a NUL in a header before anything reaches durin")
        r = try http.request(
            "GET", "/api/auth/verify/", headers: [("Authorization", Array("Token ".utf8) + Array(repeating: 0x61, count: 6000))])
        XCTAssertEqual(r.detail, "Invalid token.")
        r = try http.call("GET", "/api/auth/verify/", token: "*")
        XCTAssertEqual(r.detail, "Invalid token.")
        r = try http.call("GET", "/api/auth/verify/", token: "../../durin:user:alice")
        XCTAssertEqual(r.detail, "Invalid token.")
    }

    func testInjectionInNamesReachesNoOtherKey() throws {
        var r = try http.call("POST", "/api/auth/login/", json: #"{"username":"alice","password":"alice-pw","client":"web:tokens"}"#)
        XCTAssertEqual(r.detail, "No client with that name.")
        r = try http.call("POST", "/api/auth/login/", json: #"{"username":"alice:tokens","password":"x","client":"web"}"#)
        XCTAssertEqual(r.text, #"{"non_field_errors":["Unable to log in with provided credentials."]}"#)
    }
}
