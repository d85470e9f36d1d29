import DurinTestSupport
import Foundation
import XCTest

/// The shipped systemd units are valid and hardened.
final class SystemdUnitTests: XCTestCase {
    func testUnitsVerify() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("durin-units-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let service = try String(contentsOfFile: "\(Stack.root)/systemd/durin.service", encoding: .utf8)
            .replacingOccurrences(of: "/usr/bin/durin-fcgi", with: "\(Stack.binDir)/durin-fcgi")
        try service.write(toFile: "\(dir)/durin.service", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: "\(Stack.root)/systemd/durin.socket", toPath: "\(dir)/durin.socket")
        let env = ProcessInfo.processInfo.environment
        let verify = try Processes.run(["systemd-analyze", "verify", "\(dir)/durin.socket", "\(dir)/durin.service"], environment: env)
        XCTAssertEqual(verify.status, 0, verify.stderr)
        XCTAssertEqual(verify.stderr.trimmingCharacters(in: .whitespacesAndNewlines), "", "no warnings")
        let security = try Processes.run(
            ["systemd-analyze", "security", "--offline=yes", "--threshold=30", "\(dir)/durin.service"], environment: env)
        XCTAssertEqual(security.status, 0, security.stdout)
        XCTAssertTrue(security.stdout.contains("Overall exposure level for durin.service: 1."), security.stdout)
    }

    /// The sample's placeholder secret is refused; the env file that `make install` and
    /// the package write from it carries a fresh secret, is private and is then accepted.
    func testInstalledEnvironmentIsValidAndSampleIsNot() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("durin-env-\(UUID().uuidString.prefix(6))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sample = "\(Stack.root)/systemd/durin.env"
        let target = "\(dir)/etc/durin/durin.env"
        let env = ProcessInfo.processInfo.environment
        let write = try Processes.run(["\(Stack.root)/scripts/write-env.sh", sample, target], environment: env)
        XCTAssertEqual(write.status, 0, write.stderr)
        let attributes = try FileManager.default.attributesOfItem(atPath: target)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o640)

        func settings(_ path: String) throws -> [String: String] {
            var env: [String: String] = [:]
            for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            where !line.hasPrefix("#") && line.contains("=") {
                let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
                env[kv[0]] = kv[1]
            }
            return env
        }
        var installed = try settings(target)
        let secret = try XCTUnwrap(installed["DURIN_SECRET_KEY"])
        XCTAssertEqual(secret.count, 64)
        XCTAssertTrue(secret.allSatisfy(\.isHexDigit), secret.count.description)
        XCTAssertEqual(installed["DURIN_REDIS_URL"], "unix:///run/redis/redis-server.sock")

        // A second install keeps the file, and so the secret of live tokens.
        XCTAssertEqual(try Processes.run(["\(Stack.root)/scripts/write-env.sh", sample, target], environment: env).status, 0)
        XCTAssertEqual(try settings(target)["DURIN_SECRET_KEY"], secret)

        installed["DURIN_LISTEN"] = "/nonexistent-dir/durin.sock"  // fails after the settings are accepted
        let out = try Processes.run(["\(Stack.binDir)/durin-fcgi"], environment: installed)
        XCTAssertEqual(out.status, 71, "settings accepted; only the socket fails: \(out.stderr)")

        // The sample's placeholders are refused, each by name.
        var raw = try settings(sample)
        raw["DURIN_LISTEN"] = "/nonexistent-dir/durin.sock"
        var refused = try Processes.run(["\(Stack.binDir)/durin-fcgi"], environment: raw)
        XCTAssertEqual(refused.status, 78, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("DURIN_PROXY_KEY"), refused.stderr)
        raw["DURIN_PROXY_KEY"] = installed["DURIN_PROXY_KEY"]
        refused = try Processes.run(["\(Stack.binDir)/durin-fcgi"], environment: raw)
        XCTAssertEqual(refused.status, 78, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("DURIN_SECRET_KEY"), refused.stderr)
        XCTAssertFalse(refused.stderr.contains(installed["DURIN_PROXY_KEY"] ?? "-"), "the key is never printed")
    }
}
