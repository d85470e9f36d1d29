import Foundation
import XCTest

/// `durinctl check` against a real stack: what passes, and each problem it must name.
final class DurinctlCheckTests: SharedStackTestCase {
    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
    }

    var nginxOptions: [String] { ["--nginx-dir", "\(stack.state)/nginx/durin", "--nginx-root", "\(stack.state)/nginx"] }

    func testAWorkingStackPasses() throws {
        let out = try stack.durinctl(["check"] + nginxOptions)
        XCTAssertEqual(out.status, 0, out.stdout + out.stderr)
        XCTAssertTrue(out.stdout.contains("ready for production"), out.stdout)
        XCTAssertTrue(out.stdout.contains("API clients: web"), out.stdout)
        XCTAssertTrue(out.stdout.contains("DURIN_REDIS_URL has no credentials"), "a warning, not a failure: \(out.stdout)")
        XCTAssertFalse(out.stdout.contains("FAIL"), out.stdout)
    }

    func testEachProblemIsNamedAndFailsTheCheck() throws {
        try XCTSkipIf(stack.onCluster, "sets one server's eviction policy and reads it back")
        // No clients under this prefix, an API-access client that does not exist.
        var out = try stack.durinctl(["check"] + nginxOptions, env: ["DURIN_KEY_PREFIX": "elsewhere:", "DURIN_API_ACCESS_CLIENT_NAME": "api"])
        XCTAssertEqual(out.status, 1, out.stdout)
        XCTAssertTrue(out.stdout.contains("FAIL  no API clients"), out.stdout)
        XCTAssertTrue(out.stdout.contains("DURIN_API_ACCESS_CLIENT_NAME names api"), out.stdout)

        // Eviction would log users out.
        _ = try stack.redisCLI("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        defer { _ = try? stack.redisCLI("CONFIG", "SET", "maxmemory-policy", "noeviction") }
        out = try stack.durinctl(["check"] + nginxOptions)
        XCTAssertEqual(out.status, 1, out.stdout)
        XCTAssertTrue(out.stdout.contains("maxmemory-policy is allkeys-lru"), out.stdout)
        _ = try stack.redisCLI("CONFIG", "SET", "maxmemory-policy", "noeviction")

        // Snippets not installed, no enabled site.
        out = try stack.durinctl(["check", "--nginx-dir", "\(stack.state)/none", "--nginx-root", "\(stack.state)/none"])
        XCTAssertEqual(out.status, 1, out.stdout)
        XCTAssertTrue(out.stdout.contains("durin-protect.conf is missing"), out.stdout)
        XCTAssertTrue(out.stdout.contains("no enabled configuration defines `upstream durin`"), out.stdout)

        // Redis unreachable.
        out = try stack.durinctl(["check", "--no-nginx"], env: ["DURIN_REDIS_URL": "unix://\(stack.state)/nothing.sock"])
        XCTAssertEqual(out.status, 1, out.stdout)
        XCTAssertTrue(out.stdout.contains("is unreachable"), out.stdout)

        // A weak secret: named, never shown.
        out = try stack.durinctl(["check", "--no-nginx"], env: ["DURIN_SECRET_KEY": "change-me-to-the-output-of-openssl-rand-hex-32"])
        XCTAssertEqual(out.status, 1, out.stdout)
        XCTAssertTrue(out.stdout.contains("DURIN_SECRET_KEY"), out.stdout)
        XCTAssertFalse(out.stdout.contains("change-me-to-the-output"), out.stdout)
    }
}
