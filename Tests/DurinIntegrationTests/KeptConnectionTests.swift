import DurinTestSupport
import Foundation
import Glibc
import XCTest

/// Connections nginx keeps (fastcgi_keep_conn on, with the upstream's keepalive, as
/// the shipped snippets and example site set them): durin-fcgi serves one request
/// after another on them, keeps only those whose requests carry nginx's proxy key,
/// and never drops one to make room for connections that have proved nothing.
final class KeptConnectionTests: XCTestCase {
    func peer(_ stack: Stack) -> RawFastCGI { RawFastCGI(socketPath: "\(stack.state)/durin.sock") }

    func proxyKey(_ stack: Stack) throws -> String {
        try String(contentsOfFile: "\(stack.state)/proxy-key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static let kept = #"durin_fastcgi_connections{state="kept"}"#
    static let unproven = #"durin_fastcgi_connections{state="unproven"}"#

    /// API calls through nginx come on the connections it keeps: a hundred calls
    /// open a handful. auth_request checks cannot: nginx ends the subrequest at the
    /// answer's headers, before END_REQUEST, and closes its connection, so the verify
    /// location does not ask for it to be kept (durin-server.conf). (A check may take
    /// a connection from the pool: it is then closed after its answer.)
    func testNginxSendsAPICallsOnTheConnectionsItKeeps() throws {
        let stack = try Stack()
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addUser("alice", password: "alice-pw")
        let token = try stack.login("alice", "alice-pw", client: "web")
        let accepted = stack.counter("durin_fastcgi_accepted_total")
        let reused = stack.counter("durin_fastcgi_reused_total")
        for _ in 0..<100 {
            XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: token).status, 200)
        }
        XCTAssertLessThanOrEqual(stack.counter("durin_fastcgi_accepted_total") - accepted, 8, "nginx opened a connection per call")
        XCTAssertGreaterThanOrEqual(stack.counter("durin_fastcgi_reused_total") - reused, 90)
        XCTAssertGreaterThanOrEqual(stack.counter(Self.kept), 1)

        let before = stack.counter("durin_fastcgi_accepted_total")
        for _ in 0..<50 {
            XCTAssertEqual(try stack.http.call("GET", "/api/ping/", token: token).status, 200)
        }
        XCTAssertGreaterThanOrEqual(stack.counter("durin_fastcgi_accepted_total") - before, 45, "a check per connection")
        XCTAssertLessThan(stack.counter(Self.kept), 40, "the checks' connections were not kept open")
    }

    /// A connection is kept only while its requests carry the proxy key and its peer
    /// asks (FCGI_KEEP_CONN): one request without the key, or without the flag, and
    /// it is closed after its answer.
    func testOnlyAConnectionWhoseRequestsCarryTheKeyIsKept() throws {
        let stack = try Stack()
        defer { stack.stop() }
        let key = try proxyKey(stack)
        let peer = peer(stack)
        let ready = [("REQUEST_METHOD", "GET"), ("PATH_INFO", "/ready/")]
        func ask(_ fd: Int32, key: String?, keep: Bool) -> String {
            RawFastCGI.send(fd, RawFastCGI.request(ready + (key.map { [("DURIN_PROXY_KEY", $0)] } ?? []), keep: keep))
            return RawFastCGI.receiveAnswer(fd, timeout: 10) ?? "(no answer)"
        }

        // Without the key: refused, and closed although it asked to be kept.
        let stranger = try peer.connect()
        defer { close(stranger) }
        XCTAssertTrue(ask(stranger, key: nil, keep: true).hasPrefix("Status: 403"))
        XCTAssertTrue(RawFastCGI.isClosed(stranger, within: 5), "a connection without the key was kept")

        // With it: kept, and served again on the same connection.
        let reused = stack.counter("durin_fastcgi_reused_total")
        let fd = try peer.connect()
        defer { close(fd) }
        for _ in 0..<3 {
            XCTAssertTrue(ask(fd, key: key, keep: true).hasPrefix("Status: 200"))
            XCTAssertFalse(RawFastCGI.isClosed(fd, within: 0.2))
        }
        XCTAssertGreaterThanOrEqual(stack.counter("durin_fastcgi_reused_total") - reused, 2)
        // A later request without the key: refused, and the connection ends there.
        XCTAssertTrue(ask(fd, key: nil, keep: true).hasPrefix("Status: 403"))
        XCTAssertTrue(RawFastCGI.isClosed(fd, within: 5))

        // With the key but without the flag: closed after the answer, as before.
        let once = try peer.connect()
        defer { close(once) }
        XCTAssertTrue(ask(once, key: key, keep: false).hasPrefix("Status: 200"))
        XCTAssertTrue(RawFastCGI.isClosed(once, within: 5))
    }

    /// A login is answered by a hasher thread, not the worker that read it: its
    /// connection is kept all the same, and the next request on it is answered.
    /// (nginx does not retry a POST whose kept connection was closed under it: 502.)
    func testALoginsConnectionIsKeptLikeAnyOther() throws {
        let stack = try Stack()
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addUser("alice", password: "alice-pw")
        let key = try proxyKey(stack)
        let fd = try peer(stack).connect()
        defer { close(fd) }
        for (password, status) in [("wrong", "Status: 400"), ("alice-pw", "Status: 200"), ("wrong", "Status: 400")] {
            let body = Array(#"{"username":"alice","password":"\#(password)","client":"web"}"#.utf8)
            let params = [
                ("REQUEST_METHOD", "POST"), ("PATH_INFO", "/login/"), ("SCRIPT_NAME", "/api/auth"), ("REMOTE_ADDR", "127.0.0.1"),
                ("CONTENT_TYPE", "application/json"), ("CONTENT_LENGTH", String(body.count)), ("DURIN_PROXY_KEY", key),
            ]
            RawFastCGI.send(fd, RawFastCGI.request(params, body: body, keep: true))
            let answer = RawFastCGI.receiveAnswer(fd, timeout: 30) ?? "(no answer)"
            XCTAssertTrue(answer.hasPrefix(status), answer)
            XCTAssertFalse(RawFastCGI.isClosed(fd, within: 0.2), "the login's connection was closed")
        }
    }

    /// A peer that asks to keep its connection owns it (FastCGI 3.5): whatever the
    /// request's body was (larger than the peek window, so it streamed; larger than
    /// the limit; shorter than announced), the connection stays open and the next
    /// request on it is answered. (durin closed a streamed body's connection: nginx,
    /// which had put it back in its pool, answered the next POST on it 502.)
    func testAConnectionIsKeptWhateverItsRequestsBody() throws {
        let stack = try Stack()
        defer { stack.stop() }
        let key = try proxyKey(stack)
        let fd = try peer(stack).connect()
        defer { close(fd) }
        func post(_ body: [UInt8], announcing length: Int) -> String {
            let params = [
                ("REQUEST_METHOD", "POST"), ("PATH_INFO", "/login/"), ("SCRIPT_NAME", "/api/auth"), ("REMOTE_ADDR", "127.0.0.1"),
                ("CONTENT_TYPE", "application/json"), ("CONTENT_LENGTH", String(length)), ("DURIN_PROXY_KEY", key),
            ]
            RawFastCGI.send(fd, RawFastCGI.request(params, body: body, keep: true))
            return RawFastCGI.receiveAnswer(fd, timeout: 30) ?? "(no answer)"
        }
        let streamed = Array(repeating: UInt8(ascii: "["), count: 300_000)
        let tooLarge = Array(repeating: UInt8(ascii: " "), count: 1_048_576 + 1)
        let short = Array(#"{"username":"#.utf8)
        for (name, body, length, status) in [
            ("a streamed body", streamed, streamed.count, "Status: 400"),
            ("a body over the limit", tooLarge, tooLarge.count, "Status: 413"),
            ("a body shorter than announced", short, 1_000, "Status: 400"),
        ] {
            let answer = post(body, announcing: length)
            XCTAssertTrue(answer.hasPrefix(status), "\(name): \(answer.prefix(200))")
            XCTAssertFalse(RawFastCGI.isClosed(fd, within: 0.2), "the connection was closed after \(name)")
            let next = post(Array(#"{"username":"alice"}"#.utf8), announcing: 20)
            XCTAssertTrue(next.hasPrefix("Status: 400"), "the request after \(name): \(next.prefix(200))")
        }
    }

    /// Issue 25: a local process without the key opens 4,096 connections that send
    /// nothing or half a request. They share a budget of their own (1,024 waiting,
    /// the oldest put out first); nginx's kept connections are never put out for
    /// them, and checks through nginx, on kept connections (verify/) and new ones
    /// (auth_request), answer as fast as before.
    func testUnprovenConnectionsCannotCrowdOutNginxs() throws {
        // A deadline far beyond the test: only the budget closes the flood's connections.
        let stack = try Stack(settings: ["DURIN_FASTCGI_TIMEOUT": "300", "DURIN_THREADS": "4"])
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addUser("alice", password: "alice-pw")
        let token = try stack.login("alice", "alice-pw", client: "web")
        func verify(_ n: Int) throws {
            for _ in 0..<n { XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: token, timeout: 30).status, 200) }
        }
        func ping(_ n: Int) throws {
            for _ in 0..<n { XCTAssertEqual(try stack.http.call("GET", "/api/ping/", token: token, timeout: 30).status, 200) }
        }
        var started = Date()
        try verify(150)
        try ping(50)
        let quiet = Date().timeIntervalSince(started)
        // A check may take a connection from nginx's pool (closed after its answer):
        // API calls fill it again.
        try verify(20)
        let kept = stack.counter(Self.kept)
        XCTAssertGreaterThanOrEqual(kept, 1)

        let peer = peer(stack)
        let half = Array(RawFastCGI.request([("REQUEST_METHOD", "GET"), ("PATH_INFO", "/ready/")]).prefix(30))
        var held: [Int32] = []
        defer { held.forEach { close($0) } }
        for i in 0..<4_096 {
            let fd = try peer.connect()
            if i % 2 == 1 { RawFastCGI.send(fd, half) }
            held.append(fd)
        }
        XCTAssertTrue(
            Processes.eventually(timeout: 30) { stack.counter("durin_fastcgi_timeouts_total") >= 4_096 - 1_024 },
            "the oldest were put out to keep the budget")
        XCTAssertEqual(stack.counter(Self.unproven), 1_024)
        XCTAssertGreaterThanOrEqual(stack.counter(Self.kept), kept, "a kept connection was put out")

        let accepted = stack.counter("durin_fastcgi_accepted_total")
        started = Date()
        try verify(150)
        // They came on the connections nginx kept through the flood.
        XCTAssertLessThanOrEqual(stack.counter("durin_fastcgi_accepted_total") - accepted, 8)
        try ping(50)
        let busy = Date().timeIntervalSince(started)
        print("200 checks: \(String(format: "%.2f", quiet)) s quiet, \(String(format: "%.2f", busy)) s beside 4,096 unproven connections")
        XCTAssertLessThan(busy, quiet * 3 + 1, "checks slowed down while the connections were held")
    }
}
