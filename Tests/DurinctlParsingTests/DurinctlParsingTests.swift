import ArgumentParser
import DurinCore
import Foundation
import XCTest

@testable import durinctl

/// durinctl's command line, parsed in process: typed values for TTLs, rates and
/// names (a bad one is a usage error naming its option), and the settings read from
/// the service's env file with the environment winning.
final class DurinctlParsingTests: XCTestCase {
    func testClientOptionsAreTyped() throws {
        let add = try XCTUnwrap(
            try Durinctl.parseAsRoot(["client", "add", "web", "--ttl", "7d", "--throttle", "10/m"]) as? ClientCommand.Add)
        XCTAssertEqual(add.name.value, "web")
        XCTAssertEqual(add.ttl, .seconds(604_800))
        XCTAssertEqual(add.throttle, .rate(ThrottleRate(requests: 10, periodSeconds: 60)))
        let forever = try XCTUnwrap(try Durinctl.parseAsRoot(["client", "add", "kiosk", "--ttl", "never"]) as? ClientCommand.Add)
        XCTAssertEqual(forever.ttl, .never)
        XCTAssertNil(forever.throttle)
        let set = try XCTUnwrap(try Durinctl.parseAsRoot(["client", "set", "web", "--throttle", "none"]) as? ClientCommand.Set)
        XCTAssertEqual(set.throttle, ThrottleSetting.none, "none clears the client's own rate")
        XCTAssertNil(set.ttl)
    }

    func testBadValuesAreUsageErrorsNamingTheOption() {
        func message(_ args: [String]) -> String {
            do {
                var command = try Durinctl.parseAsRoot(args)
                try command.validate()
                return ""
            } catch {
                return Durinctl.message(for: error)
            }
        }
        XCTAssertTrue(
            message(["client", "add", "web", "--ttl", "soon"]).contains("--ttl"), message(["client", "add", "web", "--ttl", "soon"]))
        XCTAssertTrue(message(["client", "add", "web", "--throttle", "10 per minute"]).contains("--throttle"))
        XCTAssertTrue(message(["client", "add", "we b"]).contains("name"), message(["client", "add", "we b"]))
        XCTAssertTrue(message(["client", "set", "web"]).contains("nothing to change"), message(["client", "set", "web"]))
        // Secrets never as arguments: the hash comes on standard input.
        XCTAssertFalse(message(["user", "add", "x", "--password-hash", "pbkdf2_sha256$1$s$h"]).isEmpty)
        XCTAssertEqual(message(["user", "add", "x", "--password-hash"]), "")
    }

    func testSettingsComeFromTheServicesEnvFileAndTheEnvironmentWins() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("durin-env-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try """
        # the service's settings
        DURIN_REDIS_URL=unix:///run/redis/redis-server.sock
        DURIN_KEY_PREFIX="file:"

        """.write(toFile: path, atomically: true, encoding: .utf8)
        let explicit = try Settings.parse(["--env-file", path])
        let env = try explicit.environment(["DURIN_KEY_PREFIX": "own:", "HOME": "/root"], fileExists: { _ in false })
        XCTAssertEqual(env["DURIN_REDIS_URL"], "unix:///run/redis/redis-server.sock", "from the file")
        XCTAssertEqual(env["DURIN_KEY_PREFIX"], "own:", "the environment wins")
        XCTAssertEqual(env["HOME"], "/root")
        // Without --env-file: the service's file when it exists, else the environment alone.
        let none = try Settings.parse([])
        XCTAssertEqual(try none.environment(["A": "1"], fileExists: { _ in false }), ["A": "1"])
        XCTAssertEqual(Settings.serviceEnvFile, "/etc/durin/durin.env")
        XCTAssertThrowsError(try Settings.parse(["--env-file", "/nonexistent/durin.env"]).environment([:]))
    }

    /// `check` reads nginx's times as nginx does: a bare number is seconds.
    func testNginxTimesAreReadInSeconds() {
        XCTAssertEqual(CheckCommand.nginxSeconds("90"), 90)
        XCTAssertEqual(CheckCommand.nginxSeconds("75s"), 75)
        XCTAssertEqual(CheckCommand.nginxSeconds("10m"), 600)
        XCTAssertEqual(CheckCommand.nginxSeconds("1h"), 3600)
        XCTAssertEqual(CheckCommand.nginxSeconds("2d"), 172_800)
        XCTAssertEqual(CheckCommand.nginxSeconds("500ms"), 0)
        XCTAssertNil(CheckCommand.nginxSeconds(""))
        XCTAssertNil(CheckCommand.nginxSeconds("1m30s"))
        XCTAssertNil(CheckCommand.nginxSeconds("soon"))
    }
}
