import DurinStore
import DurinTestSupport
import Foundation
import XCTest

/// durin as a Redis ACL user: the shipped example ACL (redis/durin.acl) is enough for
/// every route, and a user with a missing right or a wrong password is refused at
/// start with a message naming the problem, never the password.
final class RedisACLTests: SharedStackTestCase {
    static let password = "acl-pw-\(UUID().uuidString.prefix(12))"

    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        try stack.addClient("cli")
        try stack.addUser("alice", password: "alice-pw")
    }

    /// The rules of the shipped ACL's `user durin` line, with a password of our own.
    static func shippedRules() throws -> [String] {
        let acl = try String(contentsOfFile: "\(Stack.root)/redis/durin.acl", encoding: .utf8)
        let line = try XCTUnwrap(acl.split(separator: "\n").first { $0.hasPrefix("user durin ") })
        return line.split(separator: " ").dropFirst(2).map { $0 == "#DURIN-PASSWORD-SHA256" ? ">\(password)" : String($0) }
    }

    func setUser(_ name: String, _ rules: [String]) throws {
        _ = try Processes.run(["redis-cli", "-s", "\(stack.state)/redis.sock", "ACL", "DELUSER", name], environment: stack.environment)
        let out = try Processes.run(
            ["redis-cli", "-s", "\(stack.state)/redis.sock", "ACL", "SETUSER", name] + rules,
            environment: stack.environment
        ).checked()
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "OK")
    }

    func url(user: String, password: String) -> String { "unix://\(user):\(password)@\(stack.state)/redis.sock" }

    /// Starts durin-fcgi on a socket of its own; returns its exit status if it exits
    /// within `wait` seconds (nil: still running, then stopped) and its log.
    func startResponder(redisURL: String, wait: Double) throws -> (status: Int32?, log: String) {
        var env = stack.environment.merging(stack.stackEnv) { $1 }
        env["DURIN_REDIS_URL"] = redisURL
        env["DURIN_LISTEN"] = "\(stack.state)/acl-\(UUID().uuidString.prefix(6)).sock"
        let log = "\(stack.state)/acl-\(UUID().uuidString.prefix(6)).log"
        let pid = try Processes.spawn(["\(Stack.binDir)/durin-fcgi"], environment: env, log: log)
        var status = Processes.waitExit(pid, timeout: wait)
        if status == nil {
            kill(pid, SIGTERM)
            status = nil
            _ = Processes.waitExit(pid, timeout: 5)
        }
        return (status, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    func testShippedACLServesEveryRouteThroughNginx() throws {
        try setUser("durin", try Self.shippedRules())
        // The stack's responder, restarted as the ACL user.
        var env = stack.environment
        env["DURIN_REDIS_URL"] = url(user: "durin", password: Self.password)
        try stack.devstack("durin-stop")
        defer {
            _ = try? stack.devstack("durin-stop")
            _ = try? stack.devstack("durin-start")
        }
        try Processes.run(["bash", "\(Stack.root)/scripts/devstack.sh", "durin-start"], environment: env).checked()
        let log = try String(contentsOfFile: "\(stack.state)/durin.log", encoding: .utf8)
        XCTAssertFalse(log.contains(Self.password), "the Redis password is never logged")

        let token = try stack.login("alice", "alice-pw", client: "web")
        XCTAssertEqual(try http.call("GET", "/api/auth/verify/", token: token).status, 200)
        XCTAssertEqual(try http.call("GET", "/api/ping/cached/", token: token).status, 200)
        XCTAssertEqual(try http.call("GET", "/api/throttled/", token: token).status, 200)
        XCTAssertEqual(try http.call("POST", "/api/auth/refresh/", token: token).status, 200)
        XCTAssertEqual(try http.call("GET", "/api/auth/sessions/", token: token).status, 200)
        XCTAssertEqual(try http.call("POST", "/api/auth/logout/", token: token).status, 204)
        XCTAssertEqual(try http.call("GET", "/api/ping/cached/", token: token).status, 401)
        let other = try stack.login("alice", "alice-pw", client: "cli")
        XCTAssertEqual(try http.call("POST", "/api/auth/logoutall/", token: other).status, 204)
        let failed = try http.call("POST", "/api/auth/login/", json: #"{"username":"alice","password":"wrong","client":"web"}"#)
        XCTAssertEqual(failed.status, 400)
        XCTAssertEqual(try http.call("GET", "/api/auth/ready/").status, 200)

        // The account routes: a password change, a second factor's enrolment, a rotating
        // refresh, and an application's users/ (its removal with the responder's own
        // rights, which have no ZREM).
        try stack.addUser("acl.pat", password: "acl-pat-first-pw")
        let pat = try stack.login("acl.pat", "acl-pat-first-pw", client: "web")
        let changed = try http.call(
            "POST", "/api/auth/password/", token: pat, json: #"{"old_password":"acl-pat-first-pw","new_password":"a-new-passphrase"}"#)
        XCTAssertEqual(changed.status, 200, changed.text)
        XCTAssertEqual(
            try http.call("POST", "/api/auth/totp/", token: pat, json: #"{"password":"a-new-passphrase"}"#).status, 200)
        try stack.durinctl(["client", "set", "cli", "--rotate-on-refresh"]).checked()
        let rotating = try stack.login("acl.pat", "a-new-passphrase", client: "cli")
        XCTAssertNotNil(try http.call("POST", "/api/auth/refresh/", token: rotating).object["token"] as? String)
        let key = try stack.durinctl(["issuer", "add", "acl-app", "--may", "users"]).checked().trimmingCharacters(
            in: .whitespacesAndNewlines)
        let issuer = [("Authorization", "Issuer \(key)")]
        var r = try http.call("POST", "/api/auth/users/", json: #"{"username":"acl.new","password":"a-good-passphrase"}"#, extra: issuer)
        XCTAssertEqual(r.status, 201, r.text)
        r = try http.call(
            "PATCH", "/api/auth/users/acl.new/", json: #"{"password":"another-passphrase","email":"n@example.com"}"#, extra: issuer)
        XCTAssertEqual(r.status, 200, r.text)
        r = try http.call("DELETE", "/api/auth/users/acl.new/", extra: issuer)
        XCTAssertEqual(r.status, 204, r.text)
        XCTAssertEqual(try http.call("GET", "/api/auth/users/acl.new/", extra: issuer).status, 404)

        // durinctl works as the same user.
        let ctl = ["DURIN_REDIS_URL": url(user: "durin", password: Self.password)]
        XCTAssertEqual(try stack.durinctl(["client", "list"], env: ctl).status, 0)
        XCTAssertEqual(try stack.durinctl(["token", "list"], env: ctl).status, 0)
        XCTAssertEqual(try stack.durinctl(["events", "--last", "5"], env: ctl).status, 0)
    }

    /// The example ACL grants exactly the commands the start-up check tries, and the
    /// optional ones: a command added to durin without a grant (or a grant left
    /// behind) shows here.
    func testShippedACLGrantsExactlyTheCommandsDurinUses() throws {
        let granted = Set(try Self.shippedRules().filter { $0.hasPrefix("+") }.map { String($0.dropFirst()) })
        XCTAssertEqual(granted, Set(RedisRights.commands + RedisRights.optionalCommands))
        XCTAssertTrue(Set(RedisRights.optionalCommands).isDisjoint(with: RedisRights.commands))
    }

    /// A right durin added after a release (the console's `info`) is optional: an ACL
    /// from before it still starts the responder, and the console says what it lacks.
    func testAnACLWithoutTheOptionalRightsStillStarts() throws {
        try setUser("older", try Self.shippedRules().filter { !RedisRights.optionalCommands.map { "+" + $0 }.contains($0) })
        let (status, log) = try startResponder(redisURL: url(user: "older", password: Self.password), wait: 3)
        XCTAssertNil(status, "still running after 3 s: \(log)")
        XCTAssertTrue(log.contains("durin-fcgi listening"), log)
    }

    func testMissingRightStopsTheResponderAtStartNamingIt() throws {
        try setUser("narrow", try Self.shippedRules().filter { $0 != "+xadd" && $0 != "+client|tracking" })
        let (status, log) = try startResponder(redisURL: url(user: "narrow", password: Self.password), wait: 10)
        XCTAssertEqual(status, 78, log)
        XCTAssertTrue(log.contains("'xadd'"), log)
        XCTAssertTrue(log.contains("'client|tracking'"), log)
        XCTAssertFalse(log.contains(Self.password), log)
    }

    func testKeysOutsideTheGrantedPrefixAreNamed() throws {
        try setUser("elsewhere", try Self.shippedRules().map { $0 == "~durin:*" ? "~other:*" : $0 })
        let (status, log) = try startResponder(redisURL: url(user: "elsewhere", password: Self.password), wait: 10)
        XCTAssertEqual(status, 78, log)
        XCTAssertTrue(log.contains("permissions to access"), log)
        XCTAssertTrue(log.contains("durin's keys: durin:*"), log)
    }

    func testWrongPasswordStopsTheResponderWithoutEchoingIt() throws {
        try setUser("durin", try Self.shippedRules())
        let wrong = "wrong-\(UUID().uuidString.prefix(10))"
        let (status, log) = try startResponder(redisURL: url(user: "durin", password: wrong), wait: 10)
        XCTAssertEqual(status, 78, log)
        XCTAssertTrue(log.contains("refused the login"), log)
        XCTAssertFalse(log.contains(wrong), log)
    }

    func testRedisDownAtStartIsNotAConfigurationError() throws {
        let (status, log) = try startResponder(redisURL: "unix://\(stack.state)/no-redis-here.sock", wait: 2)
        XCTAssertNil(status, "keeps running and answers 503 until Redis comes: \(log)")
        XCTAssertTrue(log.contains("not reachable yet"), log)
    }
}
