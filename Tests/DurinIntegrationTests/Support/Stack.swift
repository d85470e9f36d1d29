import DurinStore
import DurinTestSupport
import Foundation
import Glibc
import XCTest

/// A real stack for one test class: redis-server, durin-fcgi and nginx running the
/// shipped example site, started through scripts/devstack.sh in a temporary
/// directory on a loopback port the stack holds for its whole life, and stopped
/// afterwards.
final class Stack: @unchecked Sendable {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
    /// The build folder holding durin-fcgi and durinctl: the test bundle's own.
    static let binDir: String = {
        if let dir = ProcessInfo.processInfo.environment["DURIN_BIN_DIR"] { return dir }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("durin-fcgi").path) && dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.path
    }()

    /// With DURIN_TEST_STORE=cluster (`make test-cluster`), every stack whose test does
    /// not bring its own DURIN_REDIS_URL keeps its data in one Redis Cluster (three
    /// masters, three replicas) started for the whole run, under a key prefix of its
    /// own. Its local redis-server then only idles. No test fails it over, so its
    /// node timeout is long: `make test` runs other suites beside it, and on a busy
    /// machine a node that answered the bus late would be failed over for nothing.
    static let sharedCluster: RedisCluster? = {
        guard ProcessInfo.processInfo.environment["DURIN_TEST_STORE"] == "cluster" else { return nil }
        do {
            let cluster = try RedisCluster(nodeTimeoutMillis: 15_000)
            atexit { Stack.sharedCluster?.stop() }
            return cluster
        } catch {
            fatalError("DURIN_TEST_STORE=cluster: \(error)")
        }
    }()

    let state: String
    let port: UInt16
    /// A socket bound to 127.0.0.1:`port` (SO_REUSEADDR + SO_REUSEPORT, never
    /// listening, so it receives no connection) from before nginx starts until
    /// stop(): no other bind(0) can be given the port meanwhile, and nginx, told
    /// `reuseport` (DURIN_HTTP_REUSEPORT), binds beside it.
    private var portHolder: Int32
    let environment: [String: String]
    var http: RawHTTP { RawHTTP(port: port) }

    /// - Parameter settings: extra DURIN_* settings for the responder and durinctl.
    init(settings: [String: String] = [:]) throws {
        state = FileManager.default.temporaryDirectory.appendingPathComponent("durin-test-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        (portHolder, port) = try Processes.reservePort()
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DURIN_") }
        env["DURIN_STATE_DIR"] = state
        env["DURIN_HTTP_PORT"] = String(port)
        env["DURIN_HTTP_REUSEPORT"] = "1"
        env["DURIN_BIN_DIR"] = Stack.binDir
        // The stack's Redis wants a password (devstack.sh): redis-cli finds it here.
        let redisPassword = String(UInt64.random(in: .min ... .max), radix: 16) + String(UInt64.random(in: .min ... .max), radix: 16)
        try (redisPassword + "\n").write(toFile: "\(state)/redis-password", atomically: true, encoding: .utf8)
        env["REDISCLI_AUTH"] = redisPassword
        env["DURIN_PASSWORD_ITERATIONS"] = "1000"  // real PBKDF2, cheap enough for a test suite
        env["DURIN_THREADS"] = "8"
        // The suite logs in from 127.0.0.1 far more often than any one client would;
        // LoginDefenceTests turns the per-address limit on where it is the subject.
        env["DURIN_LOGIN_RATE_PER_ADDRESS"] = "off"
        if settings["DURIN_REDIS_URL"] == nil, let cluster = Stack.sharedCluster {
            env["DURIN_REDIS_URL"] = cluster.url
            env["DURIN_KEY_PREFIX"] = "t\(UUID().uuidString.prefix(8).lowercased()):"
        }
        for (k, v) in settings { env[k] = v }
        environment = env
        do {
            try devstack("start")
        } catch {
            // Stop whatever did start and release the port; the state directory
            // stays for the logs the error points to.
            _ = try? devstack("stop")
            releasePort()
            throw error
        }
    }

    func stop() {
        _ = try? devstack("stop")
        releasePort()
        try? FileManager.default.removeItem(atPath: state)
    }

    private func releasePort() {
        if portHolder >= 0 { close(portHolder) }
        portHolder = -1
    }

    @discardableResult
    func devstack(_ args: String...) throws -> String {
        try Processes.run(["bash", "\(Stack.root)/scripts/devstack.sh"] + args, environment: environment).checked()
    }

    /// Runs durinctl against this stack's Redis.
    @discardableResult
    func durinctl(_ args: [String], stdin: String? = nil, env extra: [String: String] = [:]) throws -> Processes.Output {
        try Processes.run(
            ["\(Stack.binDir)/durinctl"] + args, environment: environment.merging(stackEnv.merging(extra) { $1 }) { $1 },
            stdin: stdin)
    }

    /// Reloads nginx after a test edited its configuration, and waits until the old
    /// workers are gone (until then, a connection may still reach the old config).
    func reloadNginx() throws {
        let before = Self.nginxWorkers(master: pid("nginx/nginx.pid"))
        try Processes.run(["nginx", "-p", "\(state)/nginx", "-c", "\(state)/nginx/nginx.conf", "-s", "reload"], environment: environment)
            .checked()
        let reloaded = Processes.eventually(timeout: 20) {
            let now = Self.nginxWorkers(master: self.pid("nginx/nginx.pid"))
            return !now.isEmpty && now.allSatisfy { !before.contains($0) }
        }
        if !reloaded {
            throw RawHTTP.Failure(
                description:
                    "nginx did not reload: \((try? String(contentsOfFile: "\(state)/nginx/logs/error.log", encoding: .utf8)) ?? "")")
        }
    }

    /// The pids of an nginx master's children.
    private static func nginxWorkers(master: Int32?) -> Set<String> {
        guard let master,
            let out = try? Processes.run(["ps", "-o", "pid=", "--ppid", String(master)], environment: ProcessInfo.processInfo.environment)
        else { return [] }
        return Set(out.stdout.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }

    /// A redis-cli command on this stack's store. Keys are written as on one server
    /// with the default prefix (`durin:user:alice`); on the shared cluster they are
    /// translated to its layout (`t1234abcd:{Xy}user:alice`) and redis-cli follows
    /// the redirections.
    func redisCLI(_ args: String...) throws -> String {
        var argv = ["redis-cli", "-s", "\(state)/redis.sock"] + args
        var env = environment
        if let cluster = Stack.sharedCluster, environment["DURIN_REDIS_URL"] == cluster.url {
            argv = ["redis-cli", "-c", "-h", "127.0.0.1", "-p", String(cluster.nodes[0].port)] + args.map(clusterKey)
            env["REDISCLI_AUTH"] = nil  // the test cluster has no password
        }
        return try Processes.run(argv, environment: env).checked().trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The key names this stack's responder uses (its prefix, tags on the cluster):
    /// keys built here go to redisCLI as they are.
    var keys: KeySpace { KeySpace(prefix: environment["DURIN_KEY_PREFIX"] ?? "durin:", cluster: onCluster) }

    /// Whether this stack keeps its data in the shared cluster (DURIN_TEST_STORE=cluster).
    var onCluster: Bool { Stack.sharedCluster.map { environment["DURIN_REDIS_URL"] == $0.url } ?? false }

    private func clusterKey(_ key: String) -> String {
        guard key.hasPrefix("durin:"), let prefix = environment["DURIN_KEY_PREFIX"] else { return key }
        let keys = KeySpace(prefix: prefix, cluster: true)
        let rest = String(key.dropFirst("durin:".count))
        let parts = rest.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2 else {
            switch rest {
            case "clients": return keys.clients
            case "users": return keys.users
            case "issuers": return keys.issuers
            default: return prefix + rest
            }
        }
        let name = parts[1]
        switch parts[0] {
        case "user": return keys.user(name)
        case "t": return keys.token(name)
        case "client": return keys.client(name)
        case "issuer": return keys.issuer(name)
        case "throttle":
            let user = String(name.split(separator: ":").first ?? "")
            return keys.prefix(of: .user(user)) + rest
        default: return prefix + rest
        }
    }

    /// One unlabelled sample of the responder's metrics (the example site's loopback
    /// location); nil when the exposition has no such line.
    func metric(_ name: String) throws -> Double? {
        let r = try http.call("GET", "/internal/durin/metrics")
        guard r.status == 200 else { throw RawHTTP.Failure(description: "metrics: \(r.status) \(r.text)") }
        return r.text.split(whereSeparator: \.isNewline).lazy.compactMap { line -> Double? in
            let parts = line.split(separator: " ")
            return parts.count == 2 && parts[0] == name ? Double(parts[1]) : nil
        }.first
    }

    /// The stack's own redis-server, with its password.
    var localRedisURL: String { "unix://:\(environment["REDISCLI_AUTH"] ?? "")@\(state)/redis.sock" }

    /// A counter's value for polling: -1 when it cannot be read (yet).
    func counter(_ name: String) -> Double { ((try? metric(name)) ?? nil) ?? -1 }

    /// The DURIN_* variables devstack gives the responder, for durinctl.
    var stackEnv: [String: String] {
        var env = [
            "DURIN_REDIS_URL": environment["DURIN_REDIS_URL"] ?? localRedisURL,
            "DURIN_SECRET_KEY": environment["DURIN_SECRET_KEY"]
                ?? (try? String(contentsOfFile: "\(state)/secret", encoding: .utf8)) ?? "",
        ]
        if let prefix = environment["DURIN_KEY_PREFIX"] { env["DURIN_KEY_PREFIX"] = prefix }
        env["DURIN_PROXY_KEY"] =
            environment["DURIN_PROXY_KEY"]
            ?? (try? String(contentsOfFile: "\(state)/proxy-key", encoding: .utf8)) ?? ""
        return env
    }

    func pid(_ name: String) -> Int32? {
        (try? String(contentsOfFile: "\(state)/\(name)", encoding: .utf8)).flatMap {
            Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    // MARK: Fixtures

    func addClient(_ name: String, ttl: String? = nil) throws {
        var args = ["client", "add", name]
        if let ttl { args += ["--ttl", ttl] }
        try durinctl(args).checked()
    }

    func addUser(_ name: String, password: String, extra: [String] = []) throws {
        try durinctl(["user", "add", name, "--password-stdin"] + extra, stdin: password + "\n").checked()
    }

    /// Logs in and returns the token.
    func login(_ user: String, _ password: String, client: String) throws -> String {
        let r = try http.call("POST", "/api/auth/login/", json: #"{"username":"\#(user)","password":"\#(password)","client":"\#(client)"}"#)
        guard r.status == 200, let token = r.object["token"] as? String else {
            throw RawHTTP.Failure(description: "login failed: \(r.status) \(r.text)")
        }
        return token
    }
}

/// A test class sharing one stack between its tests: started before the first,
/// stopped after the last. Subclasses name their settings and fixtures.
class SharedStackTestCase: XCTestCase {
    nonisolated(unsafe) private static var stacks: [ObjectIdentifier: Stack] = [:]
    /// Why a class's stack could not start: each of its tests fails with it, and the
    /// rest of the run goes on.
    nonisolated(unsafe) private static var setupErrors: [ObjectIdentifier: any Error] = [:]

    /// DURIN_* settings for this class's stack.
    class var settings: [String: String] { [:] }
    /// Clients and users every test of the class starts with.
    class func prepare(_ stack: Stack) throws {}

    var stack: Stack { Self.stacks[ObjectIdentifier(Self.self)]! }
    var http: RawHTTP { stack.http }

    override class func setUp() {
        super.setUp()
        do {
            let stack = try Stack(settings: settings)
            stacks[ObjectIdentifier(self)] = stack
            try prepare(stack)
        } catch {
            setupErrors[ObjectIdentifier(self)] = error
        }
    }

    override func setUpWithError() throws {
        try super.setUpWithError()
        if let error = Self.setupErrors[ObjectIdentifier(Self.self)] { throw error }
    }

    override class func tearDown() {
        stacks.removeValue(forKey: ObjectIdentifier(self))?.stop()
        setupErrors[ObjectIdentifier(self)] = nil
        super.tearDown()
    }
}

/// A value shared between threads in tests.
final class Locked<T>: @unchecked Sendable {
    private var value: T?
    private let lock = NSLock()
    init(_ v: T? = nil) { value = v }
    func set(_ v: T) {
        lock.lock()
        value = v
        lock.unlock()
    }
    func get() -> T? {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
    func update(_ f: (inout T?) -> Void) {
        lock.lock()
        f(&value)
        lock.unlock()
    }
}
