import Foundation
import XCTest

/// Worst-case bodies at the size limit, through nginx: every parser is linear in its
/// input, so none of them holds a worker for long, and verification stays up while
/// several arrive at once. (Before the fix a 1 MB JSON object of distinct keys held
/// a worker for 22 s: the duplicate-key check compared each key with all before it.)
final class HostileInputTests: SharedStackTestCase {
    /// Below DURIN_MAX_BODY_BYTES (1 MiB), so the parsers see all of it.
    static let size = 1_000_000
    /// Generous for a debug build on two shared cores; the quadratic parser took 22 s
    /// in a release build.
    static let bound = 5.0

    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        try stack.addUser("alice", password: "alice-pw")
    }

    /// The worst case of each parser at the size limit, with the status durin answers.
    static var bodies: [(name: String, contentType: String, body: [UInt8], status: Int)] {
        func fill(_ open: String, _ piece: (Int) -> String, _ close: String) -> [UInt8] {
            var s = open
            var i = 0
            while s.utf8.count < size - 64 {
                s += (i == 0 ? "" : ",") + piece(i)
                i += 1
            }
            return Array((s + close).utf8)
        }
        var form = ""
        var i = 0
        while form.utf8.count < size - 32 {
            form += "k\(i)=%41%42&"
            i += 1
        }
        let boundary = "b0undary"
        var multipart = ""
        i = 0
        while multipart.utf8.count < size - 200 {
            multipart += "--\(boundary)\r\nContent-Disposition: form-data; name=\"f\(i)\"\r\n\r\nv\r\n"
            i += 1
        }
        multipart += "--\(boundary)--\r\n"
        return [
            ("JSON object of distinct keys", "application/json", fill("{", { "\"k\($0)\":0" }, "}"), 400),
            ("JSON object of one repeated key", "application/json", fill("{", { _ in "\"username\":1" }, "}"), 400),
            (
                "JSON string of escapes", "application/json",
                Array(("{\"username\":\"" + String(repeating: "\\u00e9\\n", count: size / 9) + "\"}").utf8), 400
            ),
            ("JSON array of numbers", "application/json", fill("[", { _ in "-1.5e+300" }, "]"), 400),
            (
                "JSON nesting at the limit", "application/json",
                Array((String(repeating: "[", count: 64) + String(repeating: "]", count: 64)).utf8), 400
            ),
            ("JSON nesting past the limit", "application/json", Array(String(repeating: "[", count: size).utf8), 400),
            ("form of many fields", "application/x-www-form-urlencoded", Array(form.utf8), 400),
            ("multipart of many parts", "multipart/form-data; boundary=\(boundary)", Array(multipart.utf8), 400),
            (
                "multipart without a delimiter", "multipart/form-data; boundary=\(boundary)",
                Array(String(repeating: "-", count: size).utf8), 400
            ),
        ]
    }

    func testEachWorstCaseBodyIsAnsweredPromptly() throws {
        for (name, contentType, body, status) in Self.bodies {
            let started = Date()
            let r = try http.call("POST", "/api/auth/login/", contentType: contentType, body: body, extra: [])
            let seconds = Date().timeIntervalSince(started)
            XCTAssertEqual(r.status, status, "\(name): \(r.text.prefix(200))")
            XCTAssertLessThan(seconds, Self.bound, "\(name) (\(body.count) bytes) took \(seconds) s")
        }
    }

    /// Eight workers' worth of the worst JSON at once: verify/ keeps answering.
    func testVerificationStaysUpWhileWorstCaseBodiesArrive() throws {
        let token = try stack.login("alice", "alice-pw", client: "web")
        let (_, contentType, body, _) = Self.bodies[0]
        let group = DispatchGroup()
        let port = stack.port
        for _ in 0..<8 {
            group.enter()
            DispatchQueue.global().async {
                for _ in 0..<3 { _ = try? RawHTTP(port: port).call("POST", "/api/auth/login/", contentType: contentType, body: body) }
                group.leave()
            }
        }
        // Probes for as long as the bodies are being sent (and at least 20 times).
        var slowest = 0.0
        var probes = 0
        let deadline = Date().addingTimeInterval(120)
        while probes < 20 || (group.wait(timeout: .now()) == .timedOut && Date() < deadline) {
            let started = Date()
            XCTAssertEqual(try http.call("GET", "/api/auth/verify/", token: token).status, 200)
            slowest = max(slowest, Date().timeIntervalSince(started))
            probes += 1
            usleep(50_000)  // pacing between probes, not a wait for any state
        }
        XCTAssertEqual(group.wait(timeout: .now()), .success, "the hostile bodies were still being answered after 120 s")
        XCTAssertLessThan(slowest, Self.bound, "verify/ waited \(slowest) s behind the hostile bodies")
    }

    /// A long Authorization header of many parts, and a long path: refused at once.
    func testLongHeaderAndPathAreLinear() throws {
        let header = "Token " + String(repeating: "a ", count: 3000)
        let r = try http.call("GET", "/api/auth/verify/", extra: [("Authorization", header)])
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(r.detail, "Invalid token header. Token string should not contain spaces.")
        let path = "/api/auth/" + String(repeating: "sessions/", count: 700)
        XCTAssertEqual(try http.call("GET", path).status, 404)
    }
}
