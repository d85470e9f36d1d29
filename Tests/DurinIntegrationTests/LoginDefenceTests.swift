import DurinCore
import DurinStore
import DurinTestSupport
import Foundation
import XCTest

/// The login defences under attack, through nginx: a failed-login limit that holds
/// under concurrency, a per-address limit, a deadline for queued logins, and a check
/// that costs the same for every kind of account.
final class LoginDefenceTests: XCTestCase {
    /// Sends `count` requests from `parallel` threads of their own (a dispatch or
    /// operation queue would run about one per core: these block on sockets); returns
    /// the statuses.
    static func flood(_ count: Int, parallel: Int, _ send: @escaping @Sendable (Int) -> Int) -> [Int] {
        let statuses = Locked<[Int]>([])
        let next = Locked<Int>(0)
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<parallel {
            let thread = Thread {
                while true {
                    var i = 0
                    next.update { n in
                        i = n ?? 0
                        n = i + 1
                    }
                    guard i < count else { break }
                    let s = send(i)
                    statuses.update { $0 = ($0 ?? []) + [s] }
                }
                done.signal()
            }
            thread.stackSize = 256 << 10
            thread.start()
        }
        for _ in 0..<parallel { done.wait() }
        return statuses.get() ?? []
    }

    static func login(_ port: UInt16, _ user: String, _ password: String, from source: String? = nil) -> Int {
        let body = #"{"username":"\#(user)","password":"\#(password)","client":"web"}"#
        if let source {
            let out = try? Processes.run(
                [
                    "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--interface", source, "-m", "60",
                    "-H", "Content-Type: application/json", "-d", body, "http://127.0.0.1:\(port)/api/auth/login/",
                ],
                environment: ProcessInfo.processInfo.environment)
            return Int(out?.stdout ?? "") ?? 0
        }
        return (try? RawHTTP(port: port).call("POST", "/api/auth/login/", json: body, timeout: 60).status) ?? 0
    }

    /// 60 concurrent wrong passwords for one name with a limit of 10/m: exactly 10 are
    /// checked (400), the rest refused before hashing (429). The count used to be taken
    /// before the hash and added after it, so 55-60 reached the hash.
    func testFailedLoginLimitHoldsUnderConcurrency() throws {
        let stack = try Stack(settings: ["DURIN_LOGIN_FAILURE_RATE": "10/m", "DURIN_PASSWORD_ITERATIONS": "20000"])
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addUser("alice", password: "alice-pw")
        let port = stack.port
        let statuses = Self.flood(60, parallel: 60) { _ in Self.login(port, "alice", "wrong") }
        XCTAssertEqual(statuses.filter { $0 == 400 }.count, 10, "\(statuses)")
        XCTAssertEqual(statuses.filter { $0 == 429 }.count, 50, "\(statuses)")
        // The limit is per name: the right password is refused too until the window passes.
        XCTAssertEqual(Self.login(port, "alice", "alice-pw"), 429)
    }

    /// 600 logins of ever new unknown names from one address, 100 at a time, while a
    /// real user logs in from another: the flood is limited per address, so the real
    /// login is not queued behind hundreds of decoy hashes (it took 18.7 s before).
    func testPerAddressLimitKeepsAFloodFromStarvingOthers() throws {
        let stack = try Stack(settings: [
            "DURIN_LOGIN_RATE_PER_ADDRESS": "20/m", "DURIN_PASSWORD_ITERATIONS": "100000", "DURIN_HASH_THREADS": "1",
        ])
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addUser("bob", password: "bob-pw")
        // The example site's own nginx limit (10 r/s, burst 100) would hide durin's.
        try Self.liftNginxLoginLimit(stack)
        let port = stack.port
        let flood = Locked<[Int]>([])
        let attacker = Thread {
            flood.set(Self.flood(600, parallel: 100) { i in Self.login(port, "nobody\(i)", "guess") })
        }
        attacker.start()
        // Under way once the flood has used up its address's budget: the decoys it
        // let through are then queued for the one hasher thread.
        XCTAssertTrue(
            Processes.eventually(timeout: 60) {
                (try? stack.redisCLI("ZCARD", stack.keys.loginAddress(ClientAddress.group("127.0.0.1")))) == "20"
            },
            "the flood never filled its address's window")
        let started = Date()
        XCTAssertEqual(Self.login(port, "bob", "bob-pw", from: "127.0.0.2"), 200)
        let waited = Date().timeIntervalSince(started)
        let hashed = try XCTUnwrap(stack.metric("durin_password_hash_duration_seconds_count"))
        XCTAssertLessThanOrEqual(hashed, 21, "bob's login was checked after at most the 20 decoys of the address")
        XCTAssertTrue(Processes.eventually(timeout: 120) { (flood.get()?.count ?? 0) == 600 })
        let statuses = flood.get() ?? []
        XCTAssertLessThanOrEqual(statuses.filter { $0 == 400 }.count, 20, "at most the address's rate reached a hash")
        XCTAssertGreaterThanOrEqual(statuses.filter { $0 == 429 }.count, 580)
        // About a second with the fix; generous for two shared cores.
        XCTAssertLessThan(waited, 10, "the real user's login waited \(waited) s behind the flood")
    }

    /// Logins still queued past DURIN_LOGIN_DEADLINE are answered 503 without a hash.
    func testLoginsQueuedPastTheDeadlineAreNotHashed() throws {
        let stack = try Stack(settings: [
            "DURIN_LOGIN_DEADLINE": "1", "DURIN_PASSWORD_ITERATIONS": "300000", "DURIN_HASH_THREADS": "1",
            "DURIN_LOGIN_FAILURE_RATE": "off",
        ])
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addUser("carol", password: "carol-pw")
        let port = stack.port
        let statuses = Self.flood(16, parallel: 16) { _ in Self.login(port, "carol", "wrong") }
        XCTAssertGreaterThan(statuses.filter { $0 == 503 }.count, 0, "\(statuses)")
        XCTAssertEqual(statuses.filter { $0 != 503 && $0 != 400 }, [], "\(statuses)")
        let metrics = try stack.http.call("GET", "/internal/durin/metrics").text
        let hashed = metrics.split(separator: "\n").first { $0.hasPrefix("durin_password_hash_duration_seconds_count ") }
        XCTAssertEqual(
            hashed.map { String($0.split(separator: " ")[1]) }, String(statuses.filter { $0 == 400 }.count),
            "only the logins answered 400 were hashed")
    }

    /// Wrong passwords cost the same for an unknown name, a user whose stored hash has
    /// fewer iterations, and a user with an unusable password (they used to answer in
    /// 160 ms, 1-2 ms and 1 ms): timing does not tell which names exist. A successful
    /// login moves a hash to the configured count.
    func testCheckCostsTheSameForEveryKindOfAccount() throws {
        let stack = try Stack(settings: ["DURIN_PASSWORD_ITERATIONS": "200000", "DURIN_LOGIN_FAILURE_RATE": "off"])
        defer { stack.stop() }
        try stack.addClient("web")
        // A Django hash of "cheap-pw" at 1000 iterations (django.contrib.auth.hashers).
        let cheap = "pbkdf2_sha256$1000$salt$" + "tj+JiwED/DJzFXxcrHaT/bkx872Mlc7O9hS2R32VAXU="
        try stack.durinctl(["user", "add", "imported", "--password-hash"], stdin: cheap + "\n").checked()
        // Django's unusable password ("!" and 40 random characters), as an import leaves it.
        try stack.addUser("locked", password: "irrelevant")
        _ = try stack.redisCLI("HSET", "durin:user:locked", "password", "!" + String(repeating: "x", count: 40))
        let port = stack.port

        func median(_ user: String) -> Double {
            var times: [Double] = []
            for _ in 0..<5 {
                let started = Date()
                XCTAssertEqual(Self.login(port, user, "wrong-password"), 400)
                times.append(Date().timeIntervalSince(started))
            }
            return times.sorted()[2]
        }
        // A hash at 10^8 iterations (written straight to Redis: durinctl refuses it)
        // would cost 500 of these checks: it is never computed.
        try stack.addUser("costly", password: "irrelevant")
        _ = try stack.redisCLI("HSET", "durin:user:costly", "password", "pbkdf2_sha256$100000000$salt$" + String(repeating: "A", count: 44))
        let unknown = median("nobody")
        for user in ["imported", "locked", "costly"] {
            let t = median(user)
            XCTAssertGreaterThan(t, unknown * 0.5, "\(user): \(t) s vs \(unknown) s for an unknown name")
            XCTAssertLessThan(t, unknown * 2, "\(user): \(t) s vs \(unknown) s for an unknown name")
        }

        XCTAssertEqual(Self.login(port, "imported", "cheap-pw"), 200)
        let stored = try stack.redisCLI("GET", stack.keys.password("imported"))
        XCTAssertTrue(stored.hasPrefix("pbkdf2_sha256$200000$"), stored)
        XCTAssertEqual(Self.login(port, "imported", "cheap-pw"), 200, "the upgraded hash checks the same password")
    }

    static func liftNginxLoginLimit(_ stack: Stack) throws {
        let site = "\(stack.state)/nginx/site.conf"
        let text = try String(contentsOfFile: site, encoding: .utf8)
        try text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("limit_req ") }
            .joined(separator: "\n").write(toFile: site, atomically: true, encoding: .utf8)
        try stack.reloadNginx()
    }
}

/// The example site's own login limit (nginx limit_req): the excess gets durin's 429 JSON.
final class NginxLoginLimitTests: SharedStackTestCase {
    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
    }

    func testBurstsBeyondTheExampleLimitGetDurinsThrottleAnswer() throws {
        let port = stack.port
        let refused = Locked<HTTPResult>()
        let statuses = LoginDefenceTests.flood(160, parallel: 160) { i in
            let body = #"{"username":"x\#(i)","password":"pw","client":"web"}"#
            guard let r = try? RawHTTP(port: port).call("POST", "/api/auth/login/", json: body, timeout: 60) else { return 0 }
            if r.status == 429 { refused.set(r) }
            return r.status
        }
        XCTAssertGreaterThan(statuses.filter { $0 == 429 }.count, 0, "\(statuses)")
        let r = try XCTUnwrap(refused.get())
        XCTAssertEqual(r.header("Content-Type"), "application/json")
        XCTAssertEqual(r.detail, "Request was throttled. Expected available in 1 second.")
        XCTAssertEqual(r.header("Retry-After"), "1")
    }
}
