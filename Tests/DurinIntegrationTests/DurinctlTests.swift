import Foundation
import XCTest

/// The admin CLI against a real Redis, checked through the HTTP API it manages.
final class DurinctlTests: SharedStackTestCase {
    func ctl(_ args: String..., stdin: String? = nil) throws -> Stack.Output { try stack.durinctl(args, stdin: stdin) }

    func json(_ out: Stack.Output) -> Any? { try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) }

    func testClientLifecycle() throws {
        XCTAssertEqual(try ctl("client", "add", "tv", "--ttl", "12h", "--throttle", "100/m").status, 0)
        var out = try ctl("client", "add", "tv")
        XCTAssertEqual(out.status, 1)
        XCTAssertTrue(out.stderr.contains("already exists"), out.stderr)
        let shown = json(try ctl("client", "show", "tv", "--json")) as? [String: Any]
        XCTAssertEqual(shown?["token_ttl"] as? String, "12h")
        XCTAssertEqual(shown?["throttle_rate"] as? String, "100/m")
        XCTAssertEqual(try stack.redisCLI("HGET", "durin:client:tv", "token_ttl"), "43200")
        XCTAssertEqual(try ctl("client", "set", "tv", "--ttl", "never", "--throttle", "none").status, 0)
        XCTAssertEqual(try stack.redisCLI("HGET", "durin:client:tv", "token_ttl"), "never")
        let listed = json(try ctl("client", "list", "--json")) as? [[String: Any]]
        XCTAssertTrue(listed?.contains { $0["name"] as? String == "tv" } == true)
        out = try ctl("client", "add", "bad name")
        XCTAssertNotEqual(out.status, 0)
        XCTAssertTrue(out.stderr.contains("invalid client name"))
        out = try ctl("client", "add", "x", "--ttl", "soon")
        XCTAssertNotEqual(out.status, 0)
        XCTAssertTrue(out.stderr.contains("--ttl"))
        XCTAssertNotEqual(try ctl("client", "show", "ghost").status, 0)
    }

    func testRemovingAClientRemovesItsTokens() throws {
        try ctl("client", "add", "kiosk").checked()
        try ctl("client", "add", "desk").checked()
        try stack.addUser("kim", password: "kim-pw")
        let kiosk = try stack.login("kim", "kim-pw", client: "kiosk")
        let desk = try stack.login("kim", "kim-pw", client: "desk")
        let out = try ctl("client", "remove", "kiosk")
        XCTAssertEqual(out.status, 0)
        XCTAssertTrue(out.stdout.contains("1 token"), out.stdout)
        XCTAssertEqual(try stack.http.call("GET", "/api/ping/", token: kiosk).status, 401)
        XCTAssertEqual(try stack.http.call("GET", "/api/ping/", token: desk).status, 200)
        XCTAssertEqual(try stack.http.call("POST", "/api/auth/login/",
                                           json: #"{"username":"kim","password":"kim-pw","client":"kiosk"}"#).detail,
                       "No client with that name.")
    }

    func testImportedDjangoHashLogsInUnchanged() throws {
        try ctl("client", "add", "imp").checked()
        // Made by Python: base64(hashlib.pbkdf2_hmac('sha256', b'demo-password', b'abcdefghijklmnopqrstuv', 1000)).
        let hash = "pbkdf2_sha256$1000$abcdefghijklmnopqrstuv$3d/tCZEz3TP05tjI6EZVrkYssRFIC4Y2xlciP/VNuP0="
        try ctl("user", "add", "imported", "--password-hash", hash, "--field", "email=i@example.com").checked()
        XCTAssertEqual(try stack.redisCLI("HGET", "durin:user:imported", "password"), hash, "stored unchanged")
        XCTAssertNoThrow(try stack.login("imported", "demo-password", client: "imp"))
        XCTAssertNotEqual(try ctl("user", "add", "x", "--password-hash", "md5$a$b").status, 0)
        let shown = try ctl("user", "show", "imported", "--json")
        XCTAssertFalse(shown.stdout.contains("pbkdf2"), "the hash is never shown")
        XCTAssertEqual((json(shown) as? [String: Any])?["email"] as? String, "i@example.com")
    }

    func testPasswordsComeFromStdinWithTheConfiguredCost() throws {
        try ctl("client", "add", "pw").checked()
        try ctl("user", "add", "pia", "--password-stdin", stdin: "first-pw\n").checked()
        XCTAssertTrue(try stack.redisCLI("HGET", "durin:user:pia", "password").hasPrefix("pbkdf2_sha256$1000$"))
        XCTAssertNoThrow(try stack.login("pia", "first-pw", client: "pw"))
        try ctl("user", "set-password", "pia", "--password-stdin", stdin: "second-pw\n").checked()
        XCTAssertThrowsError(try stack.login("pia", "first-pw", client: "pw"))
        XCTAssertNoThrow(try stack.login("pia", "second-pw", client: "pw"))
        XCTAssertNotEqual(try ctl("user", "set-password", "pia").status, 0, "never a password argument")
        XCTAssertNotEqual(try ctl("user", "add", "nopw", "--password-stdin", stdin: "").status, 0)
    }

    func testUserRemovalAndTokenCommands() throws {
        try ctl("client", "add", "tok").checked()
        try ctl("client", "add", "tok2").checked()
        try stack.addUser("uma", password: "uma-pw")
        let issued = try ctl("token", "issue", "uma", "tok").checked().trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(issued.count, 64)
        XCTAssertEqual(try stack.http.call("GET", "/api/ping/", token: issued).status, 200)
        XCTAssertEqual(try stack.login("uma", "uma-pw", client: "tok"), issued, "login returns the issued token")
        _ = try stack.login("uma", "uma-pw", client: "tok2")
        let listed = json(try ctl("token", "list", "--user", "uma", "--json")) as? [[String: Any]]
        XCTAssertEqual(listed?.count, 2)
        XCTAssertFalse(try ctl("token", "list", "--user", "uma", "--json").stdout.contains(issued), "never the token itself")
        XCTAssertEqual((try ctl("token", "revoke", "--user", "uma", "--client", "tok")).stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                       "revoked 1 token")
        XCTAssertEqual(try stack.http.call("GET", "/api/ping/", token: issued).status, 401)
        XCTAssertEqual((json(try ctl("token", "list", "--user", "uma", "--json")) as? [Any])?.count, 1)
        XCTAssertNotEqual(try ctl("token", "issue", "uma", "nope").status, 0)
        XCTAssertNotEqual(try ctl("token", "issue", "nobody", "tok").status, 0)
        let removed = try ctl("user", "remove", "uma")
        XCTAssertTrue(removed.stdout.contains("1 token"), removed.stdout)
        XCTAssertEqual(try stack.redisCLI("EXISTS", "durin:user:uma", "durin:user:uma:tokens"), "0")
        XCTAssertNotEqual(try ctl("user", "remove", "uma").status, 0)
    }

    func testEventsFollowPrintsNewEventsAsTheyHappen() throws {
        try ctl("client", "add", "ev").checked()
        try stack.addUser("fay", password: "fay-pw")
        // The latest event before the follower starts: it prints this one first.
        XCTAssertEqual(try stack.http.call("POST", "/api/auth/login/", json: #"{"username":"fay","password":"no","client":"ev"}"#).status, 400)
        let log = "\(stack.state)/follow.log"
        func printed() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        let pid = try Stack.spawn(["\(Stack.binDir)/durinctl", "events", "--follow", "--last", "1"],
                                  environment: stack.environment.merging(stack.stackEnv) { $1 }, log: log)
        defer { kill(pid, SIGTERM); _ = Stack.waitExit(pid, timeout: 2) }
        // Once the backlog is printed the follower is reading new events only.
        XCTAssertTrue(Stack.eventually(timeout: 30) { printed().contains("login_failed  user=fay") }, printed())
        XCTAssertFalse(printed().contains("login  user=fay"), printed())
        _ = try stack.login("fay", "fay-pw", client: "ev")
        XCTAssertTrue(Stack.eventually(timeout: 30) { printed().contains("login  user=fay client=ev") }, printed())
    }

    func testBadConfigurationIsReportedByName() throws {
        let out = try stack.durinctl(["client", "list"], env: ["DURIN_REDIS_URL": "http://nope"])
        XCTAssertNotEqual(out.status, 0)
        XCTAssertTrue(out.stderr.contains("DURIN_REDIS_URL"), out.stderr)
        let down = try stack.durinctl(["client", "list"], env: ["DURIN_REDIS_URL": "unix:///nonexistent.sock"])
        XCTAssertNotEqual(down.status, 0)
        XCTAssertTrue(down.stderr.contains("Redis unavailable"), down.stderr)
    }

    func testResponderRefusesBadSettingsAtStart() throws {
        var env = stack.environment
        env["DURIN_THREADS"] = "lots"
        env["DURIN_LISTEN"] = "\(stack.state)/other.sock"
        let out = try Stack.run(["\(Stack.binDir)/durin-fcgi"], environment: env)
        XCTAssertEqual(out.status, 78)
        XCTAssertTrue(out.stderr.contains("DURIN_THREADS"), out.stderr)
    }
}

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
        let verify = try Stack.run(["systemd-analyze", "verify", "\(dir)/durin.socket", "\(dir)/durin.service"], environment: env)
        XCTAssertEqual(verify.status, 0, verify.stderr)
        XCTAssertEqual(verify.stderr.trimmingCharacters(in: .whitespacesAndNewlines), "", "no warnings")
        let security = try Stack.run(["systemd-analyze", "security", "--offline=yes", "--threshold=30", "\(dir)/durin.service"], environment: env)
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
        let write = try Stack.run(["\(Stack.root)/scripts/write-env.sh", sample, target], environment: env)
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
        XCTAssertEqual(try Stack.run(["\(Stack.root)/scripts/write-env.sh", sample, target], environment: env).status, 0)
        XCTAssertEqual(try settings(target)["DURIN_SECRET_KEY"], secret)

        installed["DURIN_LISTEN"] = "/nonexistent-dir/durin.sock"  // fails after the settings are accepted
        let out = try Stack.run(["\(Stack.binDir)/durin-fcgi"], environment: installed)
        XCTAssertEqual(out.status, 71, "settings accepted; only the socket fails: \(out.stderr)")

        var raw = try settings(sample)
        raw["DURIN_LISTEN"] = "/nonexistent-dir/durin.sock"
        let refused = try Stack.run(["\(Stack.binDir)/durin-fcgi"], environment: raw)
        XCTAssertEqual(refused.status, 78, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("DURIN_SECRET_KEY"), refused.stderr)
    }
}

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
