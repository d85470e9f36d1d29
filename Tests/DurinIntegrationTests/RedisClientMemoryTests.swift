import DurinTestSupport
import Foundation
import Glibc
import XCTest

/// No Redis client can make Redis refuse durin's writes (issue 23, 2). Redis keeps
/// the replies a client has not read, and that memory counts against maxmemory:
/// the read-only durin-inspect user pipelined HGETALLs, never read the answers, and
/// from then on login, refresh and logout answered 503 (noeviction), a logged-out
/// token kept passing, and `durinctl token revoke` failed. The test runs the attack
/// twice on one server: without caps (the threat is real here: writes fail), then
/// with the caps durin-redis.conf ships (writes keep working, the reader is cut off).
final class RedisClientMemoryTests: SharedStackTestCase {
    static let password = "mem-pw-\(UUID().uuidString.prefix(12))"

    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        // A user with a large profile: each HGETALL answers ~6 kB.
        let fields = (0..<24).flatMap { ["--field", "f\($0)=" + String(repeating: "x", count: 250)] }
        try stack.addUser("wide", password: "wide-pw", extra: fields)
        try stack.addUser("alice", password: "alice-pw")
    }

    var socket: String { "\(stack.state)/redis.sock" }

    /// The stack's own connection (the default user, every right).
    func admin(_ args: String...) throws -> String {
        try Processes.run(["redis-cli", "-s", socket] + args, environment: stack.environment).checked()
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func info(_ field: String) throws -> Int64 {
        let text = try admin("INFO", "memory")
        let line = try XCTUnwrap(text.split(whereSeparator: \.isNewline).first { $0.hasPrefix("\(field):") }, text)
        return try XCTUnwrap(Int64(line.dropFirst(field.count + 1)), String(line))
    }

    /// The shipped ACL's line for `user`, with our password.
    func shippedRules(_ user: String) throws -> [String] {
        let acl = try String(contentsOfFile: "\(Stack.root)/redis/durin.acl", encoding: .utf8)
        let line = try XCTUnwrap(acl.split(separator: "\n").first { $0.hasPrefix("user \(user) ") })
        return line.split(separator: " ").dropFirst(2).map {
            $0.hasPrefix("#") && $0.hasSuffix("-SHA256") ? ">\(Self.password)" : String($0)
        }
    }

    /// The caps as durin-redis.conf writes them: `[name, value]` for CONFIG SET.
    func shippedCaps() throws -> [[String]] {
        let conf = try String(contentsOfFile: "\(Stack.root)/redis/durin-redis.conf", encoding: .utf8)
        let lines = conf.split(separator: "\n").filter {
            $0.hasPrefix("client-output-buffer-limit normal ") || $0.hasPrefix("maxmemory-clients ")
        }
        XCTAssertEqual(lines.count, 2, "durin-redis.conf sets both caps")
        return lines.map { line in
            let words = line.split(separator: " ", maxSplits: 1).map(String.init)
            return [words[0], words[1]]
        }
    }

    func testAClientThatNeverReadsCannotStopDurinsWrites() throws {
        for user in ["durin", "durin-inspect"] {
            _ = try admin("ACL", "DELUSER", user)
            XCTAssertEqual(
                try Processes.run(
                    ["redis-cli", "-s", socket, "ACL", "SETUSER", user] + (try shippedRules(user)),
                    environment: stack.environment
                ).checked().trimmingCharacters(in: .whitespacesAndNewlines), "OK")
        }
        // durin-fcgi and durinctl as the shipped `durin` user.
        var env = stack.environment
        env["DURIN_REDIS_URL"] = "unix://durin:\(Self.password)@\(socket)"
        try stack.devstack("durin-stop")
        defer {
            _ = try? stack.devstack("durin-stop")
            _ = try? stack.devstack("durin-start")
        }
        try Processes.run(["bash", "\(Stack.root)/scripts/devstack.sh", "durin-start"], environment: env).checked()
        let ctl = ["DURIN_REDIS_URL": env["DURIN_REDIS_URL"]!]
        let clients = try admin("CLIENT", "LIST").split(separator: "\n").filter { $0.contains("user=durin ") }
        XCTAssertFalse(clients.isEmpty)
        for client in clients {
            let flags = try XCTUnwrap(client.split(separator: " ").first { $0.hasPrefix("flags=") })
            XCTAssertTrue(flags.contains("e"), "durin's connections are kept out of client eviction: \(client)")
        }

        // Headroom: 64 MB above what Redis holds now; the reader asks for ~200 MB.
        let headroom: Int64 = 64 << 20
        XCTAssertEqual(try admin("CONFIG", "SET", "maxmemory", String(try info("used_memory") + headroom)), "OK")
        XCTAssertEqual(try admin("CONFIG", "SET", "maxmemory-policy", "noeviction"), "OK")

        // The calls whose cost one call chooses are not the inspection user's.
        let reader = try UnreadingClient(path: socket, user: "durin-inspect", password: Self.password)
        XCTAssertTrue(try reader.ask(["SRANDMEMBER", "durin:users", "-3000000"]).hasPrefix("-NOPERM"))
        XCTAssertTrue(try reader.ask(["HRANDFIELD", "durin:user:alice", "-3000000"]).hasPrefix("-NOPERM"))
        reader.close()

        // 1. Without caps (Redis's defaults): the threat, measured here.
        XCTAssertEqual(try admin("CONFIG", "SET", "client-output-buffer-limit", "normal 0 0 0"), "OK")
        XCTAssertEqual(try admin("CONFIG", "SET", "maxmemory-clients", "0"), "OK")
        var token = try stack.login("alice", "alice-pw", client: "web")
        do {
            let attacker = try UnreadingClient(path: socket, user: "durin-inspect", password: Self.password)
            defer { attacker.close() }
            attacker.pipeline(["HGETALL", "durin:user:wide"], count: 32_000)
            let deadline = Date().addingTimeInterval(20)
            while try info("mem_clients_normal") < headroom + (8 << 20), Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
            let held = try info("mem_clients_normal")
            print("unread replies held without caps: \(held >> 20) MB (headroom \(headroom >> 20) MB)")
            XCTAssertGreaterThan(held, headroom, "the reader holds more than the headroom")
            let login = try http.call("POST", "/api/auth/login/", json: #"{"username":"alice","password":"alice-pw","client":"web"}"#)
            XCTAssertEqual(login.status, 503, "without caps, a login fails")
            XCTAssertEqual(try http.call("POST", "/api/auth/logout/", token: token).status, 503, "without caps, writes fail")
            XCTAssertEqual(try http.call("GET", "/api/ping/", token: token).status, 200, "and the token the user logged out stays valid")
        }
        // The reader gone, Redis recovers by itself.
        try waitForNoReader()
        XCTAssertEqual(try http.call("POST", "/api/auth/logout/", token: token).status, 204)

        // 2. With durin-redis.conf's caps: the same reader is cut off, and every write works.
        for cap in try shippedCaps() { XCTAssertEqual(try admin("CONFIG", "SET", cap[0], cap[1]), "OK", "\(cap)") }
        token = try stack.login("alice", "alice-pw", client: "web")
        let attacker = try UnreadingClient(path: socket, user: "durin-inspect", password: Self.password)
        defer { attacker.close() }
        attacker.pipeline(["HGETALL", "durin:user:wide"], count: 32_000)
        try waitForNoReader()
        XCTAssertLessThan(try info("mem_clients_normal"), headroom / 4)
        XCTAssertEqual(try http.call("POST", "/api/auth/refresh/", token: token).status, 200)
        XCTAssertEqual(try http.call("POST", "/api/auth/logout/", token: token).status, 204)
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: token).status, 401)
        let renewed = try http.call("POST", "/api/auth/login/", json: #"{"username":"alice","password":"alice-pw","client":"web"}"#)
        XCTAssertEqual(renewed.status, 200)
        let revoke = try stack.durinctl(["token", "revoke", "--user", "alice"], env: ctl)
        XCTAssertEqual(revoke.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "revoked 1 token", revoke.stderr)
    }

    /// Until no durin-inspect connection is left (closed by the test, or by Redis).
    func waitForNoReader() throws {
        let deadline = Date().addingTimeInterval(20)
        while try admin("CLIENT", "LIST").contains("user=durin-inspect "), Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        XCTAssertFalse(try admin("CLIENT", "LIST").contains("user=durin-inspect "), "the reader is gone")
    }
}

/// A Redis connection that sends and never reads what comes back.
final class UnreadingClient {
    private var fd: Int32

    init(path: String, user: String, password: String) throws {
        fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = byte }
        }
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard ok == 0 else { throw RawHTTP.Failure(description: "connect \(path)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let reply = try ask(["AUTH", user, password])
        guard reply.hasPrefix("+OK") else { throw RawHTTP.Failure(description: "AUTH: \(reply)") }
    }

    static func encode(_ command: [String]) -> [UInt8] {
        var out = Array("*\(command.count)\r\n".utf8)
        for arg in command { out += Array("$\(arg.utf8.count)\r\n\(arg)\r\n".utf8) }
        return out
    }

    /// One command and the first line of its reply.
    func ask(_ command: [String]) throws -> String {
        send(Self.encode(command))
        var buffer = [UInt8](repeating: 0, count: 4096)
        var n = recv(fd, &buffer, buffer.count, 0)
        while n < 0 && errno == EINTR { n = recv(fd, &buffer, buffer.count, 0) }
        guard n > 0 else { throw RawHTTP.Failure(description: "no reply to \(command[0])") }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }

    /// Sends `count` copies of `command`, reading nothing; stops early when Redis closes the connection.
    func pipeline(_ command: [String], count: Int) {
        let one = Self.encode(command)
        var batch: [UInt8] = []
        for _ in 0..<1000 { batch += one }
        for _ in 0..<(count / 1000) where send(batch) {}
    }

    @discardableResult
    private func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
