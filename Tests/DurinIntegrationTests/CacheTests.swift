import DurinTestSupport
import Foundation
import XCTest

/// The cached verification path with two responders behind one nginx upstream:
/// hits cost no Redis round trip, and every revocation is seen by both at once.
final class CacheTests: XCTestCase {
    var stack: Stack!
    var second: pid_t = 0
    var http: RawHTTP { stack.http }

    override func setUpWithError() throws {
        try XCTSkipIf(Stack.sharedCluster != nil, "the verification cache is off on a cluster")
        stack = try Stack(settings: ["DURIN_TOKEN_CACHE_TIMEOUT": "60"])
        try stack.addClient("web")
        try stack.addClient("short", ttl: "2s")
        try stack.addUser("cal", password: "cal-pw")
        // A second responder, and an upstream with both.
        var env = stack.environment.merging(stack.stackEnv) { $1 }
        env["DURIN_LISTEN"] = "\(stack.state)/durin2.sock"
        second = try Processes.spawn(["\(Stack.binDir)/durin-fcgi"], environment: env, log: "\(stack.state)/durin2.log")
        XCTAssertTrue(Processes.eventually { FileManager.default.fileExists(atPath: "\(self.stack.state)/durin2.sock") })
        let site = "\(stack.state)/nginx/site.conf"
        let conf = try String(contentsOfFile: site, encoding: .utf8).replacingOccurrences(
            of: "server unix:\(stack.state)/durin.sock;",
            with: "server unix:\(stack.state)/durin.sock;\n    server unix:\(stack.state)/durin2.sock;")
        try conf.write(toFile: site, atomically: true, encoding: .utf8)
        try stack.reloadNginx()  // returns once only workers with both upstreams are left
    }

    override func tearDown() {
        if second > 0 {
            kill(second, SIGTERM)
            _ = Processes.waitExit(second, timeout: 3)
        }
        stack?.stop()
        super.tearDown()
    }

    /// Commands that a check could have sent Redis so far, from INFO commandstats.
    /// Left out: the INFO calls that read them (and their redis-cli's AUTH), and the
    /// invalidation listeners' PINGs,
    /// which each responder sends on a timer while its subscription is quiet (every
    /// 250 ms here): counting them would make the result depend on how many HTTP calls
    /// fit between two pings. Whatever a check sends (a token read, a tracking switch,
    /// a reconnect's AUTH or HELLO) is counted. INFO's lines end in CRLF, which Swift
    /// reads as one Character: split on any newline. Every cmdstat line must parse,
    /// and there must be some: anything else fails the test rather than reading as zero.
    static let timerCommands: Set<Substring> = ["cmdstat_info", "cmdstat_ping", "cmdstat_auth"]

    func redisCalls() throws -> Int {
        let info = try stack.redisCLI("INFO", "commandstats")
        let lines = info.split(whereSeparator: \.isNewline)
        guard lines.first == "# Commandstats" else { throw RawHTTP.Failure(description: "not INFO commandstats: \(info)") }
        var total = 0
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].hasPrefix("cmdstat_"), let field = parts[1].split(separator: ",").first,
                field.hasPrefix("calls="), let n = Int(field.dropFirst("calls=".count))
            else { throw RawHTTP.Failure(description: "cannot read a call count from \(line)") }
            if !Self.timerCommands.contains(parts[0]) { total += n }
        }
        guard total > 0 else { throw RawHTTP.Failure(description: "no commands counted in \(info)") }
        return total
    }

    func cached(_ token: String, times: Int = 20) throws -> [Int] {
        try (0..<times).map { _ in try http.call("GET", "/api/ping/cached/", token: token).status }
    }

    func testHitsSkipRedisAndRevocationsReachBothResponders() throws {
        let token = try stack.login("cal", "cal-pw", client: "web")
        XCTAssertEqual(Set(try cached(token, times: 40)), [200])
        let before = try redisCalls()
        XCTAssertEqual(try http.call("GET", "/api/ping/cached/", token: token).text, #"{"user":"cal","client":"web"}"#)
        XCTAssertEqual(Set(try cached(token, times: 60)), [200])
        XCTAssertEqual(try redisCalls(), before, "cache hits send Redis nothing")
        // The count does move: an uncached verify reads the token from Redis.
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: token).status, 200)
        XCTAssertGreaterThan(try redisCalls(), before, "the uncached route reads Redis")
        XCTAssertTrue(try String(contentsOfFile: "\(stack.state)/durin2.log", encoding: .utf8).contains("listening"))

        // Logout through one responder: neither serves the token again.
        XCTAssertEqual(try http.call("POST", "/api/auth/logout/", token: token).status, 204)
        XCTAssertEqual(Set(try cached(token)), [401])
        XCTAssertEqual(try http.call("GET", "/api/ping/cached/", token: token).detail, "Invalid token.")
    }

    func testDeactivationRemovalAndLogoutAllAreSeenAtOnce() throws {
        var token = try stack.login("cal", "cal-pw", client: "web")
        XCTAssertEqual(Set(try cached(token)), [200])
        try stack.durinctl(["user", "deactivate", "cal"]).checked()
        XCTAssertEqual(Set(try cached(token)), [401])
        XCTAssertEqual(try http.call("GET", "/api/ping/cached/", token: token).detail, "User inactive or deleted.")
        try stack.durinctl(["user", "activate", "cal"]).checked()
        XCTAssertEqual(Set(try cached(token)), [200])
        XCTAssertEqual(try http.call("POST", "/api/auth/logoutall/", token: token).status, 204)
        XCTAssertEqual(Set(try cached(token)), [401])

        token = try stack.login("cal", "cal-pw", client: "web")
        XCTAssertEqual(Set(try cached(token)), [200])
        try stack.durinctl(["client", "remove", "web"]).checked()
        XCTAssertEqual(Set(try cached(token)), [401])
    }

    func testLostTrackingFlushesTheCache() throws {
        let token = try stack.login("cal", "cal-pw", client: "web")
        XCTAssertEqual(Set(try cached(token)), [200])
        // Cut the invalidation connections, then revoke behind the responders' backs.
        _ = try stack.redisCLI("CLIENT", "KILL", "TYPE", "pubsub")
        XCTAssertEqual(try stack.redisCLI("DEL", tokenKey(token)), "1")
        XCTAssertEqual(Set(try cached(token)), [401], "a cache without invalidations is never trusted")
        // Tracking comes back by itself and the cache serves again.
        let fresh = try stack.login("cal", "cal-pw", client: "web")
        XCTAssertTrue(Processes.eventually { (try? self.http.call("GET", "/api/ping/cached/", token: fresh))?.status == 200 })
        XCTAssertTrue(
            Processes.eventually {
                guard let n = try? self.redisCalls() else { return false }
                _ = try? self.cached(fresh, times: 10)
                return (try? self.redisCalls()) == n
            }, "hits again without Redis")
    }

    func testNeverServedPastExpiry() throws {
        let token = try stack.login("cal", "cal-pw", client: "short")
        let expiryMillis = try XCTUnwrap(Double(try stack.redisCLI("HGET", tokenKey(token), "e")))
        let expiry = Date(timeIntervalSince1970: expiryMillis / 1000)
        XCTAssertEqual(Set(try cached(token, times: 10)), [200])
        // Deliberately a wait for time to pass, not a poll: the key stays in Redis for
        // the grace period after the expiry, so no invalidation comes; the cache must
        // know by itself. 50 ms past the stored expiry.
        Thread.sleep(until: expiry.addingTimeInterval(0.05))
        let r = try http.call("GET", "/api/ping/cached/", token: token)
        XCTAssertEqual(r.status, 401)
        XCTAssertEqual(r.detail, "The given token has expired.")
    }
}
