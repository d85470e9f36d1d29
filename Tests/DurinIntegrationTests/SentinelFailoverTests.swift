import DurinTestSupport
import Foundation
import Glibc
import XCTest

/// Redis Sentinel failover under load, with the real redis-sentinel: one master, two
/// replicas, three sentinels (down-after-milliseconds 1000) on loopback, and the
/// responder on `redis-sentinel://`. The master is killed (SIGKILL) while verify
/// requests stream in; the responder must answer only 200 or 503, find the new
/// master by itself, keep every token issued and every revocation made before the
/// kill (DURIN_REDIS_MIN_REPLICAS=1 waited for a replica), and not restart.
final class SentinelFailoverTests: XCTestCase {
    private var pids: [pid_t] = []
    private var dir = ""

    override func tearDown() {
        for pid in pids {
            kill(pid, SIGKILL)
            _ = Processes.waitExit(pid, timeout: 5)
        }
        if !dir.isEmpty { try? FileManager.default.removeItem(atPath: dir) }
    }

    private func cli(_ port: UInt16, _ args: String...) -> String {
        (try? Processes.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", String(port)] + args,
            environment: ProcessInfo.processInfo.environment
        ).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? ""
    }

    private func start(_ argv: [String], log: String) throws -> pid_t {
        let pid = try Processes.spawn(argv, environment: ProcessInfo.processInfo.environment, log: "\(dir)/\(log)")
        pids.append(pid)
        return pid
    }

    /// One master, two replicas and three sentinels on loopback, all caught up.
    private struct Group {
        let master: pid_t
        let masterPort: UInt16
        let sentinelPorts: [UInt16]
        var url: String { "redis-sentinel://" + sentinelPorts.map { "127.0.0.1:\($0)" }.joined(separator: ",") + "/durin" }
    }

    private func startGroup() throws -> Group {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("durin-sentinel-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // Ports held until each server has bound its own (redis sets SO_REUSEADDR).
        let reserved = try (0..<6).map { _ in try Processes.reservePort() }
        defer { reserved.forEach { close($0.fd) } }
        let ports = reserved.map(\.port)
        let (masterPort, replicaPorts, sentinelPorts) = (ports[0], Array(ports[1...2]), Array(ports[3...5]))

        func server(_ port: UInt16, replicaOf: UInt16? = nil) throws -> pid_t {
            var argv = [
                "redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", dir, "--dbfilename", "dump-\(port).rdb",
            ]
            if let replicaOf { argv += ["--replicaof", "127.0.0.1", String(replicaOf)] }
            return try start(argv, log: "redis-\(port).log")
        }
        let master = try server(masterPort)
        for port in replicaPorts { _ = try server(port, replicaOf: masterPort) }
        XCTAssertTrue(
            Processes.eventually(timeout: 30) {
                self.cli(masterPort, "INFO", "replication").contains("connected_slaves:2")
                    && replicaPorts.allSatisfy { self.cli($0, "INFO", "replication").contains("master_link_status:up") }
            }, "the replicas never caught up")
        for port in sentinelPorts {
            let conf = "\(dir)/sentinel-\(port).conf"
            try """
            port \(port)
            bind 127.0.0.1
            dir \(dir)
            sentinel monitor durin 127.0.0.1 \(masterPort) 2
            sentinel down-after-milliseconds durin 1000
            sentinel failover-timeout durin 10000
            sentinel parallel-syncs durin 1

            """.write(toFile: conf, atomically: true, encoding: .utf8)
            _ = try start(["redis-server", conf, "--sentinel"], log: "sentinel-\(port).log")
        }
        XCTAssertTrue(
            Processes.eventually(timeout: 30) {
                sentinelPorts.allSatisfy {
                    self.cli($0, "SENTINEL", "MASTER", "durin").contains("num-other-sentinels\n2")
                        && self.cli($0, "SENTINEL", "MASTER", "durin").contains("num-slaves\n2")
                }
            }, "the sentinels never saw each other and both replicas")

        return Group(master: master, masterPort: masterPort, sentinelPorts: sentinelPorts)
    }

    private func waitForPromotion(_ group: Group) {
        XCTAssertTrue(
            Processes.eventually(timeout: 60) {
                let named = self.cli(group.sentinelPorts[0], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "durin")
                return !named.isEmpty && !named.hasSuffix(String(group.masterPort))
            }, "the sentinels never promoted a replica")
    }

    func testVerifySurvivesTheMastersDeath() throws {
        let group = try startGroup()
        let (master, sentinelPorts) = (group.master, group.sentinelPorts)
        let stack = try Stack(settings: ["DURIN_REDIS_URL": group.url, "DURIN_REDIS_MIN_REPLICAS": "1"])
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addClient("cli")
        try stack.addUser("sam", password: "sam-pw")
        try stack.addUser("tia", password: "tia-pw")
        let kept = try stack.login("sam", "sam-pw", client: "web")
        let revoked = try stack.login("sam", "sam-pw", client: "cli")
        XCTAssertEqual(try stack.http.call("POST", "/api/auth/logout/", token: revoked).status, 204)
        let responder = stack.pid("durin.pid")

        // A steady stream of verify/ calls through nginx, each answer timed.
        let port = stack.port
        let answers = Locked<[(at: Date, status: Int)]>([])
        // Why a call got no HTTP answer at all (status 0), with how long it took.
        let failures = Locked<[String]>([])
        let stop = Locked<Bool>(false)
        let load = Thread {
            while stop.get() != true {
                let sent = Date()
                let status: Int
                do {
                    status = try RawHTTP(port: port).call("GET", "/api/auth/verify/", token: kept, timeout: 5).status
                } catch {
                    status = 0
                    failures.update { $0?.append("\(error) after \(String(format: "%.2f", Date().timeIntervalSince(sent))) s") }
                }
                answers.update { $0?.append((Date(), status)) }
                usleep(10_000)
            }
        }
        load.start()
        XCTAssertTrue(Processes.eventually { (answers.get()?.count ?? 0) > 20 }, "no load")
        let killed = Date()
        kill(master, SIGKILL)
        waitForPromotion(group)
        XCTAssertTrue(
            Processes.eventually(timeout: 30) {
                (answers.get() ?? []).contains { $0.at > Date().addingTimeInterval(-1) && $0.status == 200 }
                    && (answers.get() ?? []).last?.status == 200
            }, "verify/ never answered 200 again")
        stop.set(true)
        while !load.isFinished { usleep(10_000) }

        let after = (answers.get() ?? []).filter { $0.at >= killed }
        let unexpected = Set(after.map(\.status)).subtracting([200, 503])
        XCTAssertEqual(unexpected, [], "only 200 or 503 during the failover: \(failures.get() ?? [])")
        if !unexpected.isEmpty {
            // What nginx and durin said meanwhile (the stack's files go with it).
            for log in ["nginx/logs/error.log", "durin.log"] {
                let text = (try? String(contentsOfFile: "\(stack.state)/\(log)", encoding: .utf8)) ?? ""
                print("--- \(log):\n" + text.split(separator: "\n").suffix(30).joined(separator: "\n"))
            }
        }
        let lastFailure = after.last { $0.status != 200 }?.at ?? killed
        let window = lastFailure.timeIntervalSince(killed)
        print(
            "sentinel failover: verify/ answered 200 again \(String(format: "%.2f", window)) s after the master's SIGKILL"
                + " (\(after.filter { $0.status == 503 }.count) answers 503, \(after.count) in all)")
        XCTAssertLessThan(window, 15, "the goal is 5 s; this bound only catches a responder that never finds the new master")

        XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: kept).status, 200, "a token issued before the kill")
        XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: revoked).status, 401, "a revocation made before the kill")
        XCTAssertNoThrow(try stack.login("tia", "tia-pw", client: "web"), "login on the new master")
        XCTAssertEqual(stack.pid("durin.pid"), responder, "the responder did not restart")
        if let responder { XCTAssertTrue(Processes.isRunning(responder), "and is alive") }
        XCTAssertEqual(try stack.durinctl(["token", "list", "--user", "sam"]).status, 0, "durinctl works through the sentinels")
    }

    /// The verification cache across a switch. The master freezes (SIGSTOP: its
    /// sockets stay open, so nothing tells the invalidation subscriber it is gone), a
    /// replica is promoted, and a token cached before the freeze is revoked on the new
    /// master. The cached route must never serve it again: the cache lapses when its
    /// subscriber stops hearing from Redis, and is emptied when it subscribes anew.
    func testTheCacheIsEmptiedAcrossASwitch() throws {
        let group = try startGroup()
        let stack = try Stack(settings: ["DURIN_REDIS_URL": group.url, "DURIN_TOKEN_CACHE_TIMEOUT": "300"])
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addUser("uma", password: "uma-pw")
        let token = try stack.login("uma", "uma-pw", client: "web")
        for _ in 0..<20 { XCTAssertEqual(try stack.http.call("GET", "/api/ping/cached/", token: token).status, 200) }
        XCTAssertEqual(try stack.metric("durin_cache_entries"), 1, "the token is cached")

        kill(group.master, SIGSTOP)
        waitForPromotion(group)
        XCTAssertTrue(
            Processes.eventually(timeout: 30) {
                (try? stack.durinctl(["token", "revoke", "--user", "uma", "--client", "web"]))?.status == 0
            }, "durinctl revokes on the new master")
        var seen: [Int] = []
        func tally() -> String {
            Dictionary(grouping: seen, by: { $0 }).map { "\($0.value.count)x \($0.key)" }.sorted().joined(separator: ", ")
        }
        XCTAssertTrue(
            Processes.eventually(timeout: 30) {
                let status = (try? stack.http.call("GET", "/api/ping/cached/", token: token))?.status ?? 0
                seen.append(status)
                return status == 401
            }, "the cached route never saw the revocation: \(tally())")
        // Workers whose connection still points at the frozen master answer 503 once
        // (their command times out) and then reconnect through the sentinels.
        var streak = 0
        XCTAssertTrue(
            Processes.eventually(timeout: 30) {
                let status = (try? stack.http.call("GET", "/api/ping/cached/", token: token))?.status ?? 0
                seen.append(status)
                streak = status == 401 ? streak + 1 : 0
                return streak >= 20
            }, "every worker answers 401 in the end: \(tally())")
        XCTAssertFalse(seen.contains(200), "a token revoked on the new master was served from the cache: \(tally())")
        XCTAssertEqual(Set(seen).subtracting([401, 503]), [], "only 401 or 503 after the revocation: \(tally())")
    }

    /// Sentinels that require a password of their own (`requirepass` in their
    /// configuration): `sentinel_password` in the URL logs in to them; without it, the
    /// responder names the refusal and answers 503.
    func testSentinelsWithAPasswordOfTheirOwn() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("durin-sentinel-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let reserved = try (0..<2).map { _ in try Processes.reservePort() }
        defer { reserved.forEach { close($0.fd) } }
        let (masterPort, sentinelPort) = (reserved[0].port, reserved[1].port)
        _ = try start(
            [
                "redis-server", "--port", String(masterPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", dir,
            ], log: "redis.log")
        let conf = "\(dir)/sentinel.conf"
        try """
        port \(sentinelPort)
        bind 127.0.0.1
        dir \(dir)
        requirepass sentinel-pw
        sentinel monitor durin 127.0.0.1 \(masterPort) 1

        """.write(toFile: conf, atomically: true, encoding: .utf8)
        _ = try start(["redis-server", conf, "--sentinel"], log: "sentinel.log")
        XCTAssertTrue(
            Processes.eventually(timeout: 30) {
                self.cli(sentinelPort, "--no-auth-warning", "-a", "sentinel-pw", "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "durin")
                    .hasSuffix(String(masterPort))
            }, "the sentinel never saw the master")

        let base = "redis-sentinel://127.0.0.1:\(sentinelPort)/durin"
        let stack = try Stack(settings: ["DURIN_REDIS_URL": base + "?sentinel_password=sentinel-pw"])
        defer { stack.stop() }
        try stack.addClient("web")
        try stack.addUser("una", password: "una-pw")
        let token = try stack.login("una", "una-pw", client: "web")
        XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: token).status, 200)

        let refused = try stack.durinctl(["user", "list"], env: ["DURIN_REDIS_URL": base])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("NOAUTH"), refused.stderr)
    }
}
