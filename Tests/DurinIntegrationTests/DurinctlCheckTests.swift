import DurinTestSupport
import Foundation
import Glibc
import XCTest

/// `durinctl check` against a real stack: what passes, and each problem it must name.
final class DurinctlCheckTests: SharedStackTestCase {
    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
    }

    var nginxOptions: [String] { ["--nginx-dir", "\(stack.state)/nginx/durin", "--nginx-root", "\(stack.state)/nginx"] }

    func testAWorkingStackPasses() throws {
        let out = try stack.durinctl(["check"] + nginxOptions)
        XCTAssertTrue(out.stdout.contains("API clients: web"), out.stdout)
        XCTAssertFalse(out.stdout.contains("keeps no connections"), "the example site keeps connections: \(out.stdout)")
        let failures = out.stdout.split(separator: "\n").filter { $0.hasPrefix("FAIL") }
        if stack.onCluster {
            // The suite's shared cluster has no passwords: that, and only that, fails.
            XCTAssertEqual(out.status, 1, out.stdout)
            XCTAssertFalse(failures.isEmpty)
            XCTAssertTrue(failures.allSatisfy { $0.contains("runs commands for a connection without credentials") }, out.stdout)
        } else {
            XCTAssertEqual(out.status, 0, out.stdout + out.stderr)
            XCTAssertTrue(out.stdout.contains("ready for production"), out.stdout)
            XCTAssertEqual(failures, [], out.stdout)
        }
        if !stack.onCluster {
            XCTAssertTrue(out.stdout.contains("refuses a connection without credentials"), out.stdout)
            XCTAssertTrue(out.stdout.contains("Redis listens on no TCP address (unix socket only)"), out.stdout)
        }
        XCTAssertTrue(out.stdout.contains("nginx's proxy key (\(stack.state)/nginx/durin/proxy-key.conf) is DURIN_PROXY_KEY"), out.stdout)
    }

    /// A Redis that answers a connection without a password, and a proxy key that is
    /// not nginx's, or that others can read: each fails the check, named.
    func testOpenRedisAndAWrongProxyKeyFailTheCheck() throws {
        try XCTSkipIf(stack.onCluster, "opens one server's default user")
        _ = try stack.redisCLI("CONFIG", "SET", "requirepass", "")
        var reopened = false
        defer {
            if !reopened {
                _ = try? Processes.run(
                    [
                        "redis-cli", "-s", "\(stack.state)/redis.sock", "CONFIG", "SET", "requirepass",
                        stack.environment["REDISCLI_AUTH"] ?? "",
                    ], environment: ProcessInfo.processInfo.environment)
            }
        }
        var out = try stack.durinctl(["check"] + nginxOptions, env: ["DURIN_REDIS_URL": "unix://\(stack.state)/redis.sock"])
        XCTAssertEqual(out.status, 1, out.stdout)
        XCTAssertTrue(
            out.stdout.contains("FAIL  Redis at unix://\(stack.state)/redis.sock?db=0 runs commands for a connection without credentials"),
            out.stdout)
        _ = try Processes.run(
            ["redis-cli", "-s", "\(stack.state)/redis.sock", "CONFIG", "SET", "requirepass", stack.environment["REDISCLI_AUTH"] ?? ""],
            environment: ProcessInfo.processInfo.environment
        ).checked()
        reopened = true

        let wrong = String(repeating: "ab", count: 32)
        out = try stack.durinctl(["check"] + nginxOptions, env: ["DURIN_PROXY_KEY": wrong])
        XCTAssertEqual(out.status, 1, out.stdout)
        XCTAssertTrue(out.stdout.contains("is not DURIN_PROXY_KEY"), out.stdout)
        XCTAssertFalse(out.stdout.contains(wrong), "keys are never printed")
        let include = "\(stack.state)/nginx/durin/proxy-key.conf"
        XCTAssertEqual(chmod(include, 0o644), 0)
        defer { chmod(include, 0o600) }
        out = try stack.durinctl(["check"] + nginxOptions)
        XCTAssertEqual(out.status, 1, out.stdout)
        XCTAssertTrue(out.stdout.contains("is readable by others than root (mode 644"), out.stdout)
    }

    /// A Redis listening on a network address: in a network namespace of the test's
    /// own (a private address on a veth pair inside it, nothing leaves it), a redis-server
    /// bound to every address, and durinctl check beside it.
    func testARedisOnANetworkAddressFailsTheCheck() throws {
        try XCTSkipUnless(
            getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip")
                || FileManager.default.isExecutableFile(atPath: "/sbin/ip"), "needs root and iproute2")
        let env = ProcessInfo.processInfo.environment
        let ns = "durin-check-\(UUID().uuidString.prefix(6).lowercased())"
        guard try Processes.run(["ip", "netns", "add", ns], environment: env).status == 0 else {
            throw XCTSkip("no network namespaces here")
        }
        defer { _ = try? Processes.run(["ip", "netns", "delete", ns], environment: env) }
        for command in [
            ["ip", "link", "set", "lo", "up"], ["ip", "link", "add", "d0", "type", "veth", "peer", "name", "d1"],
            ["ip", "addr", "add", "10.213.0.1/32", "dev", "d0"], ["ip", "link", "set", "d0", "up"],
        ] {
            try Processes.run(["ip", "netns", "exec", ns] + command, environment: env).checked()
        }
        let dir = "\(stack.state)/exposed"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "requirepass exposed-pw\n".write(toFile: "\(dir)/redis.conf", atomically: true, encoding: .utf8)
        let pid = try Processes.spawn(
            [
                "ip", "netns", "exec", ns, "redis-server", "\(dir)/redis.conf", "--port", "6390", "--bind", "0.0.0.0",
                "--unixsocket", "\(dir)/redis.sock", "--dir", dir, "--save", "",
            ],
            environment: env, log: "\(dir)/redis.log")
        defer {
            kill(pid, SIGTERM)
            _ = Processes.waitExit(pid, timeout: 5)
        }
        var checkEnv = env.merging(stack.stackEnv) { $1 }
        checkEnv["DURIN_REDIS_URL"] = "unix://:exposed-pw@\(dir)/redis.sock"
        XCTAssertTrue(Processes.eventually { FileManager.default.fileExists(atPath: "\(dir)/redis.sock") })
        let out = try Processes.run(["ip", "netns", "exec", ns, "\(Stack.binDir)/durinctl", "check", "--no-nginx"], environment: checkEnv)
        XCTAssertEqual(out.status, 1, out.stdout + out.stderr)
        XCTAssertTrue(out.stdout.contains("FAIL  Redis listens on 0.0.0.0:6390: other hosts can reach it"), out.stdout)
    }

    func testEachProblemIsNamedAndFailsTheCheck() throws {
        try XCTSkipIf(stack.onCluster, "sets one server's eviction policy and reads it back")
        // No clients under this prefix, an API-access client that does not exist.
        var out = try stack.durinctl(
            ["check"] + nginxOptions, env: ["DURIN_KEY_PREFIX": "elsewhere:", "DURIN_API_ACCESS_CLIENT_NAME": "api"])
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

        // An upstream without a pool of kept connections: a warning, not a failure.
        let bare = "\(stack.state)/bare-nginx"
        try FileManager.default.createDirectory(atPath: bare, withIntermediateDirectories: true)
        try "upstream durin {\n    server unix:/run/durin/durin.sock;\n    # keepalive 32;\n}\n".write(
            toFile: "\(bare)/nginx.conf", atomically: true, encoding: .utf8)
        out = try stack.durinctl(["check", "--nginx-dir", "\(stack.state)/nginx/durin", "--nginx-root", bare])
        XCTAssertTrue(out.stdout.contains("warn  nginx: `upstream durin` keeps no connections"), out.stdout)

        // A pool that keeps idle connections longer than durin does.
        try "upstream durin {\n    server unix:/run/durin/durin.sock;\n    keepalive 32;\n    keepalive_timeout 10m;\n}\n".write(
            toFile: "\(bare)/nginx.conf", atomically: true, encoding: .utf8)
        out = try stack.durinctl(["check", "--nginx-dir", "\(stack.state)/nginx/durin", "--nginx-root", bare])
        XCTAssertTrue(out.stdout.contains("warn  nginx: `upstream durin` keeps idle connections 600 s"), out.stdout)
        XCTAssertFalse(out.stdout.contains("keeps no connections"), out.stdout)

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

    /// Redis's caps on other clients' unread replies (durin-redis.conf): named when
    /// missing, from CONFIG where the check's user may, else from the config file.
    func testMissingClientMemoryCapsAreNamed() throws {
        try XCTSkipIf(stack.onCluster, "sets one server's configuration and reads it back")
        _ = try stack.redisCLI("CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0")
        _ = try stack.redisCLI("CONFIG", "SET", "maxmemory-clients", "0")
        var out = try stack.durinctl(["check", "--no-nginx"])
        XCTAssertTrue(out.stdout.contains("warn  Redis (CONFIG): normal clients' unread replies are unlimited"), out.stdout)
        XCTAssertTrue(out.stdout.contains("all clients together are unlimited"), out.stdout)
        _ = try stack.redisCLI("CONFIG", "SET", "client-output-buffer-limit", "normal 32mb 8mb 10")
        _ = try stack.redisCLI("CONFIG", "SET", "maxmemory-clients", "5%")
        out = try stack.durinctl(["check", "--no-nginx"])
        XCTAssertTrue(out.stdout.contains("ok    Redis caps other clients' unread replies"), out.stdout)
        XCTAssertTrue(out.stdout.contains("durin's Redis connections are kept out of client eviction"), out.stdout)
        // Without CONFIG (durin's own ACL user): the shipped file, read as redis.conf includes it.
        let conf = "\(stack.state)/redis-main.conf"
        try "port 0\ninclude \(Stack.root)/redis/durin-redis.conf\n".write(toFile: conf, atomically: true, encoding: .utf8)
        XCTAssertEqual(
            RedisClientMemoryFile.caps(
                in: try stack.durinctl(
                    ["check", "--no-nginx", "--redis-conf", conf],
                    env: ["DURIN_REDIS_URL": try aclUserURL()]
                ).stdout), "ok")
        try "port 0\n".write(toFile: conf, atomically: true, encoding: .utf8)
        XCTAssertEqual(
            RedisClientMemoryFile.caps(
                in: try stack.durinctl(
                    ["check", "--no-nginx", "--redis-conf", conf],
                    env: ["DURIN_REDIS_URL": try aclUserURL()]
                ).stdout), "warn")
    }

    /// A user with durin's shipped rights (no CONFIG).
    func aclUserURL() throws -> String {
        let acl = try String(contentsOfFile: "\(Stack.root)/redis/durin.acl", encoding: .utf8)
        let line = try XCTUnwrap(acl.split(separator: "\n").first { $0.hasPrefix("user durin ") })
        let rules = line.split(separator: " ").dropFirst(2).map { $0 == "#DURIN-PASSWORD-SHA256" ? ">check-pw" : String($0) }
        _ = try stack.redisCLI("ACL", "DELUSER", "durin-check")
        _ = try Processes.run(
            ["redis-cli", "-s", "\(stack.state)/redis.sock", "ACL", "SETUSER", "durin-check"] + rules,
            environment: stack.environment
        ).checked()
        return "unix://durin-check:check-pw@\(stack.state)/redis.sock"
    }

    /// Issue 23 (7): another application running as nginx's workers' user can read the
    /// proxy key from their memory where the kernel allows same-user tracing.
    func testProcessesSharingNginxsUserAreNamed() throws {
        try XCTSkipIf(getuid() != 0, "starts a process as www-data")
        let root = "\(stack.state)/nginx-www"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try "user www-data;\nworker_processes 2;\n".write(toFile: "\(root)/nginx.conf", atomically: true, encoding: .utf8)
        // A stand-in for another web application (PHP-FPM's pool, say) as www-data.
        let app = try Processes.spawn(
            ["setpriv", "--reuid=www-data", "--regid=www-data", "--clear-groups", "sleep", "60"],
            environment: stack.environment, log: "\(stack.state)/www-app.log")
        defer {
            kill(app, SIGTERM)
            _ = Processes.waitExit(app, timeout: 3)
        }
        XCTAssertTrue(
            Processes.eventually {
                ((try? String(contentsOfFile: "/proc/\(app)/status", encoding: .utf8)) ?? "").contains("Name:\tsleep")
            })
        let out = try stack.durinctl(["check", "--nginx-dir", "\(stack.state)/nginx/durin", "--nginx-root", root])
        let scope = (try? String(contentsOfFile: "/proc/sys/kernel/yama/ptrace_scope", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if scope == nil || scope == "0" {
            let line = try XCTUnwrap(
                out.stdout.split(separator: "\n").first { $0.contains("run as nginx's worker user www-data") },
                out.stdout)
            XCTAssertTrue(line.hasPrefix("warn"), String(line))
            XCTAssertTrue(line.contains("sleep (pid \(app))"), String(line))
            XCTAssertTrue(line.contains("kernel.yama.ptrace_scope = 1"), String(line))
        } else {
            XCTAssertTrue(out.stdout.contains("no process of www-data can read nginx's memory"), out.stdout)
        }
    }
}

/// The caps line of a check's output: "ok", "warn", or nil.
enum RedisClientMemoryFile {
    static func caps(in output: String) -> String? {
        for line in output.split(separator: "\n") {
            if line.hasPrefix("ok    Redis caps other clients") { return "ok" }
            if line.hasPrefix("warn") && (line.contains("unread replies are unlimited") || line.contains("caps are not visible")) {
                return "warn"
            }
        }
        return nil
    }
}
