import DurinTestSupport
import Foundation
import XCTest

/// Concurrency, Redis outages, shutdown and socket activation, on a real stack.
final class ResilienceTests: XCTestCase {
    var stack: Stack!
    var http: RawHTTP { stack.http }

    override func setUpWithError() throws {
        stack = try Stack()
        try stack.addClient("web")
        try stack.addClient("cli")
        try stack.addUser("alice", password: "alice-pw")
    }

    override func tearDown() {
        stack?.stop()
        super.tearDown()
    }

    /// Runs `body` on `count` threads at once and collects the results.
    func concurrently<T>(_ count: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
        let results = Locked<[Int: T]>([:])
        DispatchQueue.concurrentPerform(iterations: count) { i in
            let r = body(i)
            results.update { $0![i] = r }
        }
        return (0..<count).compactMap { results.get()?[$0] }
    }

    func testConcurrentFirstLoginsYieldExactlyOneToken() throws {
        let port = stack.port
        let answers = concurrently(50) { _ -> (status: Int, token: String?) in
            guard
                let r = try? RawHTTP(port: port).call(
                    "POST", "/api/auth/login/", json: #"{"username":"alice","password":"alice-pw","client":"web"}"#)
            else { return (0, nil) }
            return (r.status, r.object["token"] as? String)
        }
        XCTAssertEqual(answers.count, 50)
        XCTAssertEqual(answers.map(\.status), Array(repeating: 200, count: 50), "every one of the fifty logins answered 200")
        let tokens = answers.compactMap(\.token)
        XCTAssertEqual(tokens.count, 50, "every one of the fifty answers carried a token")
        XCTAssertEqual(Set(tokens).count, 1, "and all fifty got the same token")
        if stack.onCluster {
            XCTAssertEqual(
                (try JSONSerialization.jsonObject(with: Data(try stack.durinctl(["token", "list", "--json"]).checked().utf8))
                    as? [Any])?.count, 1)
            let events = try stack.durinctl(["events", "--last", "1000"]).checked()
            XCTAssertEqual(events.components(separatedBy: "token_created").count - 1, 1, "one token was ever created")
        } else {
            XCTAssertEqual(try stack.redisCLI("EVAL", "return #redis.call('KEYS', ARGV[1])", "0", "durin:t:*"), "1")
            XCTAssertEqual(try stack.redisCLI("GET", "durin:seq:token"), "1", "one token was ever created")
        }
    }

    func testRedisDownAnswers503AndRecoversByItself() throws {
        try XCTSkipIf(stack.onCluster, "stops the stack's own redis-server, which a cluster run does not use")
        let token = try stack.login("alice", "alice-pw", client: "web")
        try stack.devstack("redis-stop")
        var r = try http.call("POST", "/api/auth/refresh/", token: token)
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.text, #"{"detail":"Token store unavailable."}"#)
        XCTAssertEqual(r.header("Retry-After"), "1")
        r = try http.call("POST", "/api/auth/login/", json: #"{"username":"alice","password":"alice-pw","client":"web"}"#)
        XCTAssertEqual(r.status, 503)
        r = try http.call("GET", "/api/ping/", token: token)
        XCTAssertEqual(r.status, 503, "a protected location reports the outage too")
        XCTAssertEqual(r.detail, "Token store unavailable.")
        r = try http.call("GET", "/api/auth/ready/")
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.object["redis"] as? String, "unavailable")

        try stack.devstack("redis-start")  // a fresh, empty Redis: the scripts must be reloaded
        try stack.addClient("web")
        try stack.addUser("alice", password: "alice-pw")
        r = try http.call("POST", "/api/auth/login/", json: #"{"username":"alice","password":"alice-pw","client":"web"}"#)
        XCTAssertEqual(r.status, 200, "the first request after Redis is back succeeds")
        let fresh = try XCTUnwrap(r.object["token"] as? String)
        // Every worker recovers, not only the one that served that request.
        for _ in 0..<24 { XCTAssertEqual(try http.call("GET", "/api/ping/", token: fresh).status, 200) }
    }

    func testRedisRestartWithDataKeepsTokensWorking() throws {
        try XCTSkipIf(stack.onCluster, "stops the stack's own redis-server, which a cluster run does not use")
        let token = try stack.login("alice", "alice-pw", client: "web")
        XCTAssertEqual(try stack.redisCLI("SAVE"), "OK")
        try stack.devstack("redis-stop")
        try stack.devstack("redis-start")
        for _ in 0..<16 { XCTAssertEqual(try http.call("GET", "/api/ping/", token: token).status, 200) }
    }

    func testLoginFloodLeavesVerifyAnswering() throws {
        // Hashes as expensive as in production (the default count) and more logins than threads.
        stack.stop()
        stack = try Stack(settings: ["DURIN_PASSWORD_ITERATIONS": "1000000", "DURIN_THREADS": "8"])
        try stack.addClient("web")
        try stack.addUser("alice", password: "alice-pw")
        let token = try stack.login("alice", "alice-pw", client: "web")
        let port = stack.port
        let stop = Locked<Bool>(false)
        // 24 threads of their own (a dispatch queue would run about one per core).
        let flooders = (0..<24).map { _ in
            Thread {
                while stop.get() != true {
                    _ = try? RawHTTP(port: port).call(
                        "POST", "/api/auth/login/", json: #"{"username":"alice","password":"wrong","client":"web"}"#,
                        timeout: 60)
                }
            }
        }
        flooders.forEach { $0.start() }
        defer {
            stop.set(true)
            // Until every flooder has had its last answer (each checks `stop` between logins).
            XCTAssertTrue(Processes.eventually(timeout: 120) { flooders.allSatisfy(\.isFinished) }, "the flood did not end")
        }
        // Under way once logins wait for (or are in) the hasher threads.
        XCTAssertTrue(
            Processes.eventually(timeout: 60) { ((try? self.stack.metric("durin_login_queue_depth")) ?? 0) > 0 },
            "the flood never reached the hashers")
        var worst = 0.0
        for _ in 0..<40 {
            let start = Date()
            let r = try http.call("GET", "/api/ping/", token: token)
            worst = max(worst, Date().timeIntervalSince(start))
            XCTAssertEqual(r.status, 200)
        }
        let depth = try XCTUnwrap(stack.metric("durin_login_queue_depth"))
        XCTAssertGreaterThan(depth, 0, "the flood still queued logins after the last verify")
        // A verify answers in milliseconds beside the flood; one queued behind hashing
        // would wait for several hashes of about 0.4 s each (two cores, 24 logins).
        XCTAssertLessThan(worst, 1.0, "verify never waits behind password hashing")
    }

    func testSIGTERMDuringLoadFinishesInFlightAndExitsWithinTwoSeconds() throws {
        let token = try stack.login("alice", "alice-pw", client: "web")
        // Replace the devstack's responder by one that is this test's child.
        try stack.devstack("durin-stop")
        var env = stack.environment.merging(stack.stackEnv) { $1 }
        env["DURIN_LISTEN"] = "\(stack.state)/durin.sock"
        let pid = try Processes.spawn(["\(Stack.binDir)/durin-fcgi"], environment: env, log: "\(stack.state)/child.log")
        XCTAssertTrue(Processes.eventually { (try? self.http.call("GET", "/api/ping/", token: token))?.status == 200 })

        let port = stack.port
        let stop = Locked<Bool>(false)
        let statuses = Locked<[Int]>([])
        let load = Thread {
            DispatchQueue.concurrentPerform(iterations: 16) { _ in
                while stop.get() != true {
                    let s = (try? RawHTTP(port: port).call("GET", "/api/ping/", token: token))?.status ?? -1
                    statuses.update { $0!.append(s) }
                }
            }
        }
        load.start()
        // Under load once answers are coming back.
        XCTAssertTrue(Processes.eventually(timeout: 30) { (statuses.get() ?? []).filter { $0 == 200 }.count > 10 }, "no load")
        let start = Date()
        kill(pid, SIGTERM)
        let exit = Processes.waitExit(pid, timeout: 10)
        let took = Date().timeIntervalSince(start)
        stop.set(true)
        // Until the load's last requests have been answered and counted.
        XCTAssertTrue(Processes.eventually(timeout: 60) { load.isFinished }, "the load did not end")
        XCTAssertEqual(exit, 0)
        XCTAssertLessThan(took, 2.0)
        let seen = statuses.get() ?? []
        XCTAssertGreaterThan(seen.filter { $0 == 200 }.count, 10)
        // Requests either completed (200) or found no responder (nginx: 503 from the
        // protect snippet); none was cut off half-way (-1: no HTTP answer at all).
        XCTAssertEqual(Set(seen).subtracting([200, 503]), [], "unexpected answers: \(Set(seen))")
    }

    func testListensOnAnInheritedSocketOnFdZero() throws {
        // spawn-fcgi's convention: a listening socket on fd 0, no settings naming it.
        try stack.devstack("durin-stop")
        let sock = "\(stack.state)/durin.sock"
        try? FileManager.default.removeItem(atPath: sock)
        let spawner = """
            import os, socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666); s.listen(64)
            os.dup2(s.fileno(), 0)
            os.execv(sys.argv[2], [sys.argv[2]])
            """
        var env = stack.environment.merging(stack.stackEnv) { $1 }
        env["DURIN_LISTEN"] = nil
        let pid = try Processes.spawn(
            ["python3", "-c", spawner, sock, "\(Stack.binDir)/durin-fcgi"], environment: env,
            log: "\(stack.state)/fd0.log")
        defer {
            kill(pid, SIGKILL)
            _ = Processes.waitExit(pid, timeout: 1)
        }
        XCTAssertTrue(Processes.eventually { (try? self.http.call("GET", "/api/auth/ready/"))?.status == 200 })
        let log = try String(contentsOfFile: "\(stack.state)/fd0.log", encoding: .utf8)
        XCTAssertTrue(log.contains("inherited socket (fd 0)"), log)
        kill(pid, SIGTERM)
        XCTAssertEqual(Processes.waitExit(pid, timeout: 3), 0)
    }

    func testSystemdSocketActivation() throws {
        try stack.devstack("durin-stop")
        let sock = "\(stack.state)/durin.sock"
        try? FileManager.default.removeItem(atPath: sock)
        var argv = ["systemd-socket-activate", "-l", sock]
        for (k, v) in stack.stackEnv { argv += ["-E", "\(k)=\(v)"] }
        argv += ["-E", "DURIN_PASSWORD_ITERATIONS=1000", "\(Stack.binDir)/durin-fcgi"]
        var env = stack.environment
        env["DURIN_LISTEN"] = nil
        let pid = try Processes.spawn(argv, environment: env, log: "\(stack.state)/activated.log")
        defer {
            kill(pid, SIGKILL)
            _ = Processes.waitExit(pid, timeout: 1)
        }
        XCTAssertTrue(Processes.eventually { FileManager.default.fileExists(atPath: sock) })
        chmod(sock, 0o666)
        let r = try http.call("POST", "/api/auth/login/", json: #"{"username":"alice","password":"alice-pw","client":"web"}"#)
        XCTAssertEqual(r.status, 200, (try? String(contentsOfFile: "\(stack.state)/activated.log", encoding: .utf8)) ?? "")
        let log = try String(contentsOfFile: "\(stack.state)/activated.log", encoding: .utf8)
        XCTAssertTrue(log.contains("systemd socket (fd 3)"), log)
        kill(pid, SIGTERM)
        XCTAssertEqual(Processes.waitExit(pid, timeout: 3), 0, "an inherited socket is left open and the process still exits")
    }
}

/// Redis up but refusing for now (a full memory under noeviction, loading its data
/// after a restart): 503 with durin's JSON, never a 500, and reads still work.
final class RedisRefusalTests: SharedStackTestCase {
    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        try stack.addUser("alice", password: "alice-pw")
    }

    func testFullMemoryRefusesLoginsWith503AndKeepsVerifying() throws {
        try XCTSkipIf(stack.onCluster, "fills one server's memory")
        let token = try stack.login("alice", "alice-pw", client: "web")
        _ = try stack.redisCLI("CONFIG", "SET", "maxmemory-policy", "noeviction")
        _ = try stack.redisCLI("CONFIG", "SET", "maxmemory", "1")
        defer { _ = try? stack.redisCLI("CONFIG", "SET", "maxmemory", "0") }
        let login = try http.call("POST", "/api/auth/login/", json: #"{"username":"alice","password":"alice-pw","client":"web"}"#)
        XCTAssertEqual(login.status, 503, login.text)
        XCTAssertEqual(login.detail, "Token store unavailable.")
        XCTAssertEqual(try http.call("POST", "/api/auth/refresh/", token: token).status, 503)
        XCTAssertEqual(try http.call("POST", "/api/auth/logout/", token: token).status, 503)
        XCTAssertEqual(try http.call("GET", "/api/auth/verify/", token: token).status, 200, "reads need no memory")
        XCTAssertEqual(try http.call("GET", "/api/auth/ready/").status, 200)
        // durinctl too: a clear "unavailable", not a Redis error text for a bug.
        let add = try stack.durinctl(["client", "add", "full"])
        XCTAssertEqual(add.status, 1)
        XCTAssertTrue(add.stderr.contains("Redis unavailable: OOM"), add.stderr)
        _ = try stack.redisCLI("CONFIG", "SET", "maxmemory", "0")
        XCTAssertEqual(try http.call("POST", "/api/auth/refresh/", token: token).status, 200)
    }
}
