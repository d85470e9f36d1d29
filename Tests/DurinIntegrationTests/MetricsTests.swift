import DurinTestSupport
import Foundation
import Glibc
import XCTest

/// `metrics/` through the example site's loopback-only location, read with the
/// Prometheus project's own text parser (python3-prometheus-client).
final class MetricsTests: SharedStackTestCase {
    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        try stack.addClient("cli")
        try stack.addUser("alice", password: "alice-pw")
    }

    /// Parses an exposition with prometheus_client; returns "name{labels}" -> value
    /// for every sample, labels sorted. Fails the test if the text does not parse.
    func scrape(file: StaticString = #filePath, line: UInt = #line) throws -> [String: Double] {
        let r = try http.call("GET", "/internal/durin/metrics")
        XCTAssertEqual(r.status, 200, r.text, file: file, line: line)
        XCTAssertEqual(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8", file: file, line: line)
        let parser = """
            import json, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = {}
            for family in text_string_to_metric_families(sys.stdin.read()):
                for s in family.samples:
                    labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                    out[s.name + ("{" + labels + "}" if labels else "")] = s.value
            print(json.dumps(out))
            """
        let parsed = try Processes.run(["/usr/bin/python3", "-c", parser], environment: stack.environment, stdin: r.text)
        XCTAssertEqual(parsed.status, 0, "the exposition does not parse: \(parsed.stderr)\n\(r.text)", file: file, line: line)
        let object = try JSONSerialization.jsonObject(with: Data(parsed.stdout.utf8)) as? [String: Double]
        return try XCTUnwrap(object, file: file, line: line)
    }

    func delta(_ before: [String: Double], _ after: [String: Double], _ key: String) -> Double {
        (after[key] ?? 0) - (before[key] ?? 0)
    }

    func testCountsRequestsTokensCacheAndLogins() throws {
        try XCTSkipIf(stack.onCluster, "counts the verification cache, which is off on a cluster")
        let before = try scrape()
        let token = try stack.login("alice", "alice-pw", client: "web")
        let second = try stack.login("alice", "alice-pw", client: "web")
        XCTAssertEqual(token, second, "re-login returns the same token: one issued")
        for _ in 0..<5 { XCTAssertEqual(try http.call("GET", "/api/auth/verify/", token: token).status, 200) }
        XCTAssertEqual(try http.call("GET", "/api/auth/verify/", token: "nope").status, 401)
        for _ in 0..<3 { XCTAssertEqual(try http.call("GET", "/api/ping/cached/", token: token).status, 200) }
        let cli = try stack.login("alice", "alice-pw", client: "cli")
        XCTAssertEqual(
            try http.call("POST", "/api/auth/login/", json: #"{"username":"alice","password":"bad","client":"web"}"#).status, 400)
        XCTAssertEqual(try http.call("POST", "/api/auth/logoutall/", token: cli).status, 204)
        let after = try scrape()

        XCTAssertEqual(delta(before, after, #"durin_requests_total{route="verify",status="200"}"#), 5 + 3)
        XCTAssertEqual(delta(before, after, #"durin_requests_total{route="verify",status="401"}"#), 1)
        XCTAssertEqual(delta(before, after, #"durin_requests_total{route="login",status="200"}"#), 3)
        XCTAssertEqual(delta(before, after, #"durin_requests_total{route="login",status="400"}"#), 1)
        XCTAssertEqual(delta(before, after, #"durin_requests_total{route="logoutall",status="204"}"#), 1)
        XCTAssertEqual(delta(before, after, "durin_verify_duration_seconds_count"), 9)
        XCTAssertEqual(after["durin_verify_duration_seconds_bucket{le=\"+Inf\"}"], after["durin_verify_duration_seconds_count"])
        XCTAssertGreaterThan(delta(before, after, "durin_verify_duration_seconds_sum"), 0)
        XCTAssertEqual(delta(before, after, "durin_password_hash_duration_seconds_count"), 4)
        XCTAssertEqual(delta(before, after, #"durin_tokens_issued_total{client="web"}"#), 1)
        XCTAssertEqual(delta(before, after, #"durin_tokens_issued_total{client="cli"}"#), 1)
        XCTAssertEqual(delta(before, after, #"durin_tokens_revoked_total{client="web"}"#), 1)
        XCTAssertEqual(delta(before, after, #"durin_tokens_revoked_total{client="cli"}"#), 1)
        // The first cached request reads Redis; the two after it are hits.
        XCTAssertEqual(delta(before, after, "durin_cache_misses_total"), 1)
        XCTAssertEqual(delta(before, after, "durin_cache_hits_total"), 2)
        // logoutall changed the cached token's key: Redis told the responder.
        XCTAssertTrue(
            Processes.eventually(timeout: 5) {
                (try? self.scrape()).map { self.delta(before, $0, "durin_cache_invalidations_total") >= 1 } ?? false
            })
        XCTAssertEqual(after["durin_login_queue_depth"], 0)
        XCTAssertEqual(after["durin_login_queue_capacity"], 512)
        let log = (try? String(contentsOfFile: "\(stack.state)/durin.log", encoding: .utf8)) ?? ""
        XCTAssertNotNil(after["durin_redis_errors_total"], "a missing metric would read as no errors")
        XCTAssertEqual(
            delta(before, after, "durin_redis_errors_total"), 0,
            log.split(separator: "\n").filter { $0.contains("warning") || $0.contains("error") }.joined(separator: "\n"))
    }

    /// A Redis outage is answered 503 and counted as errors; when Redis returns, a
    /// worker whose connection was lost connects again on its next request, and that
    /// is counted. One worker in each lane (DURIN_THREADS=1): new connections all go
    /// to the one accepting worker, which lost its connection at the 503 and counts
    /// its reconnect at the next one. A kept connection recovers too (its requests go
    /// to the waiting worker, or to the one that just answered it when the next
    /// request arrives before it has let go).
    func testRedisOutageIsCountedAsErrorsAndReconnects() throws {
        try XCTSkipIf(stack.onCluster, "stops the stack's own redis-server, which a cluster run does not use")
        let stack = try Stack(settings: ["DURIN_THREADS": "1"])
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addUser("alice", password: "alice-pw")
        let token = try stack.login("alice", "alice-pw", client: "web")
        let key = try String(contentsOfFile: "\(stack.state)/proxy-key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let raw = RawFastCGI(socketPath: "\(stack.state)/durin.sock")
        let verify = [
            ("REQUEST_METHOD", "GET"), ("PATH_INFO", "/verify/"), ("HTTP_AUTHORIZATION", "Token \(token)"), ("DURIN_PROXY_KEY", key),
        ]
        let kept = try raw.connect()
        defer { close(kept) }
        func onKept() -> String {
            RawFastCGI.send(kept, RawFastCGI.request(verify, keep: true))
            return RawFastCGI.receiveAnswer(kept, timeout: 10) ?? "(no answer)"
        }
        func onNew() -> Int { (try? raw.call(verify).status) ?? 0 }
        for _ in 0..<3 {
            XCTAssertTrue(onKept().hasPrefix("Status: 200"))
            XCTAssertEqual(onNew(), 200)
        }
        let errors = stack.counter("durin_redis_errors_total")
        let reconnects = stack.counter("durin_redis_reconnects_total")
        try stack.devstack("redis-stop")
        XCTAssertTrue(onKept().hasPrefix("Status: 503"))
        XCTAssertEqual(onNew(), 503)
        try stack.devstack("redis-start")
        // The stack's Redis keeps nothing across a restart: the token is now unknown.
        XCTAssertTrue(Processes.eventually { onKept().hasPrefix("Status: 401") && onNew() == 401 })
        XCTAssertGreaterThanOrEqual(stack.counter("durin_redis_reconnects_total") - reconnects, 1, "the accepting worker connected again")
        XCTAssertGreaterThanOrEqual(stack.counter("durin_redis_errors_total") - errors, 2)
    }

    /// Only the location that sets DURIN_METRICS answers; the API mount and a client
    /// header naming it get durin's unknown-route 404.
    func testMetricsAnswerOnlyWhereNginxEnablesThem() throws {
        for path in ["/api/auth/metrics/", "/api/auth/metrics"] {
            let r = try http.call("GET", path, extra: [("X-Durin-Metrics", "1"), ("Durin-Metrics", "1")])
            XCTAssertEqual(r.status, 404, path)
            XCTAssertEqual(r.detail, "Not found.", path)
        }
    }
}
