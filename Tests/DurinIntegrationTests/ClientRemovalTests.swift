import DurinStore
import DurinTestSupport
import Foundation
import XCTest

/// `durinctl client remove` on a server with 200,000 users: its tokens go in bounded
/// batches, so token checks through nginx go on undisturbed meanwhile. (One script
/// used to walk every user, holding Redis for the whole walk.)
final class ClientRemovalTests: XCTestCase {
    func testRemovingAClientOfManyUsersDoesNotHoldChecks() throws {
        let stack = try Stack()
        defer { stack.stop() }
        try XCTSkipIf(stack.onCluster, "one server's batches (a cluster sweeps user by user)")
        try stack.addClient("web")
        try stack.addClient("mobile")
        for user in ["ana", "ben"] { try stack.addUser(user, password: "\(user)-pw") }
        let doomed = try ["ana", "ben"].map { try stack.login($0, "\($0)-pw", client: "web") }
        let kept = try stack.login("ana", "ana-pw", client: "mobile")

        // 200,000 more users, each indexed with a token of the client (gone already:
        // the walk still reads every one), written with redis-cli --pipe.
        var commands = ""
        func resp(_ args: String...) { commands += "*\(args.count)\r\n" + args.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined() }
        for i in 0..<200_000 {
            resp("HSET", "durin:user:bulk\(i)", "username", "bulk\(i)", "is_active", "1", "t:web", "gone\(i)")
            resp("SADD", "durin:users", "bulk\(i)")
        }
        let pipe = try Processes.run(
            ["redis-cli", "-s", "\(stack.state)/redis.sock", "--pipe"], environment: stack.environment, stdin: commands)
        XCTAssertEqual(pipe.status, 0, pipe.stdout + pipe.stderr)
        XCTAssertEqual(try stack.redisCLI("SCARD", "durin:users"), "200002")

        let port = stack.port
        let latencies = Locked<[Double]>([])
        let stop = Locked<Bool>(false)
        let loads = (0..<8).map { _ in
            Thread {
                while stop.get() != true {
                    let started = Date()
                    let status = (try? RawHTTP(port: port).call("GET", "/api/auth/verify/", token: kept, timeout: 30))?.status ?? 0
                    latencies.update { $0?.append(status == 200 ? Date().timeIntervalSince(started) : 99) }
                }
            }
        }
        loads.forEach { $0.start() }
        XCTAssertTrue(Processes.eventually { (latencies.get()?.count ?? 0) > 200 }, "no load")
        let before = latencies.get()?.count ?? 0
        let removal = try stack.durinctl(["client", "remove", "web"])
        let during = Array((latencies.get() ?? []).dropFirst(before))
        stop.set(true)
        while !loads.allSatisfy(\.isFinished) { usleep(10_000) }

        XCTAssertEqual(removal.status, 0, removal.stderr)
        XCTAssertTrue(removal.stdout.contains("removed client web and 2 tokens"), removal.stdout)
        let sorted = during.sorted()
        let p99 = sorted.isEmpty ? 99 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
        print(
            "client removal over 200,000 users: \(during.count) checks meanwhile, p99 \(String(format: "%.1f", p99 * 1000)) ms, "
                + "slowest \(String(format: "%.1f", (sorted.last ?? 0) * 1000)) ms")
        XCTAssertGreaterThan(during.count, 50, "too few checks during the removal to judge")
        XCTAssertLessThan(p99, 0.05, "checks waited behind the removal")
        for token in doomed { XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: token).status, 401) }
        XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: kept).status, 200, "another client's token stays")
        XCTAssertEqual(try stack.redisCLI("HGET", "durin:user:bulk123", "t:web"), "", "every user's index entry went")
    }
}
