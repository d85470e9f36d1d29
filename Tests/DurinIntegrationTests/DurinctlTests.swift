import DurinTestSupport
import Foundation
import XCTest

/// The admin CLI against a real Redis, checked through the HTTP API it manages.
final class DurinctlTests: SharedStackTestCase {
    func ctl(_ args: String..., stdin: String? = nil) throws -> Processes.Output { try stack.durinctl(args, stdin: stdin) }

    func json(_ out: Processes.Output) -> Any? { try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) }

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
        XCTAssertEqual(
            try stack.http.call(
                "POST", "/api/auth/login/",
                json: #"{"username":"kim","password":"kim-pw","client":"kiosk"}"#
            ).detail,
            "No client with that name.")
    }

    func testImportedDjangoHashLogsInUnchanged() throws {
        try ctl("client", "add", "imp").checked()
        // Made by Python: base64(hashlib.pbkdf2_hmac('sha256', b'demo-password', b'abcdefghijklmnopqrstuv', 1000)).
        let hash = "pbkdf2_sha256$1000$abcdefghijklmnopqrstuv$3d/tCZEz3TP05tjI6EZVrkYssRFIC4Y2xlciP/VNuP0="
        try ctl("user", "add", "imported", "--password-hash", "--field", "email=i@example.com", stdin: hash + "\n").checked()
        XCTAssertEqual(try stack.redisCLI("GET", stack.keys.password("imported")), hash, "stored unchanged")
        XCTAssertNoThrow(try stack.login("imported", "demo-password", client: "imp"))
        XCTAssertNotEqual(try ctl("user", "add", "x", "--password-hash", stdin: "md5$a$b\n").status, 0)
        XCTAssertNotEqual(try ctl("user", "add", "y", "--password-hash", hash).status, 0, "never a hash argument")
        // A hash whose check would cost 100 logins is refused, with the reason.
        let costly = try ctl("user", "add", "z", "--password-hash", stdin: "pbkdf2_sha256$100000000$salt$AAAA\n")
        XCTAssertNotEqual(costly.status, 0)
        XCTAssertTrue(costly.stderr.contains("DURIN_PASSWORD_ITERATIONS_MAX"), costly.stderr)
        let shown = try ctl("user", "show", "imported", "--json")
        XCTAssertFalse(shown.stdout.contains("pbkdf2"), "the hash is never shown")
        XCTAssertEqual((json(shown) as? [String: Any])?["email"] as? String, "i@example.com")
    }

    func testPasswordsComeFromStdinWithTheConfiguredCost() throws {
        try ctl("client", "add", "pw").checked()
        try ctl("user", "add", "pia", "--password-stdin", stdin: "first-pw\n").checked()
        XCTAssertTrue(try stack.redisCLI("GET", stack.keys.password("pia")).hasPrefix("pbkdf2_sha256$1000$"))
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
        XCTAssertEqual(
            (try ctl("token", "revoke", "--user", "uma", "--client", "tok")).stdout.trimmingCharacters(in: .whitespacesAndNewlines),
            "revoked 1 token")
        XCTAssertEqual(try stack.http.call("GET", "/api/ping/", token: issued).status, 401)
        XCTAssertEqual((json(try ctl("token", "list", "--user", "uma", "--json")) as? [Any])?.count, 1)
        XCTAssertNotEqual(try ctl("token", "issue", "uma", "nope").status, 0)
        XCTAssertNotEqual(try ctl("token", "issue", "nobody", "tok").status, 0)
        let removed = try ctl("user", "remove", "uma")
        XCTAssertTrue(removed.stdout.contains("1 token"), removed.stdout)
        XCTAssertEqual(try stack.redisCLI("EXISTS", "durin:user:uma"), "0")
        XCTAssertEqual(try stack.redisCLI("EXISTS", "durin:user:uma:tokens"), "0")
        XCTAssertNotEqual(try ctl("user", "remove", "uma").status, 0)
    }

    func testEventsFollowPrintsNewEventsAsTheyHappen() throws {
        try ctl("client", "add", "ev").checked()
        try stack.addUser("fay", password: "fay-pw")
        // The latest event before the follower starts: it prints this one first.
        XCTAssertEqual(
            try stack.http.call("POST", "/api/auth/login/", json: #"{"username":"fay","password":"no","client":"ev"}"#).status, 400)
        let log = "\(stack.state)/follow.log"
        func printed() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        let pid = try Processes.spawn(
            ["\(Stack.binDir)/durinctl", "events", "--follow", "--last", "1"],
            environment: stack.environment.merging(stack.stackEnv) { $1 }, log: log)
        defer {
            kill(pid, SIGTERM)
            _ = Processes.waitExit(pid, timeout: 2)
        }
        // Once the backlog is printed the follower is reading new events only.
        XCTAssertTrue(Processes.eventually(timeout: 30) { printed().contains("login_failed  user=fay") }, printed())
        XCTAssertFalse(printed().contains("login  user=fay"), printed())
        _ = try stack.login("fay", "fay-pw", client: "ev")
        XCTAssertTrue(Processes.eventually(timeout: 30) { printed().contains("login  user=fay client=ev") }, printed())
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
        let out = try Processes.run(["\(Stack.binDir)/durin-fcgi"], environment: env)
        XCTAssertEqual(out.status, 78)
        XCTAssertTrue(out.stderr.contains("DURIN_THREADS"), out.stderr)
    }

    /// Stored strings reach the terminal inert: a profile field with a terminal
    /// escape, a bidirectional override and a newline, an event written by anyone,
    /// a dump's record with a hostile name. The escape characters never appear raw in
    /// durinctl's output (text or JSON), and JSON still gives the value back.
    func testStoredStringsCannotDriveTheTerminal() throws {
        let hostile = "x\u{1B}]0;owned\u{07}\u{1B}[2J\u{9B}31m\u{202E}evil\nis_active: false"
        try ctl("user", "add", "tess", "--field", "email=\(hostile)").checked()
        func raw(_ text: String) -> Bool {
            text.unicodeScalars.contains {
                ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || (0x7F...0x9F).contains($0.value) || $0 == "\u{202E}"
            }
        }
        let shown = try ctl("user", "show", "tess").checked()
        XCTAssertFalse(raw(shown), shown.debugDescription)
        XCTAssertFalse(shown.split(separator: "\n").contains { $0.hasPrefix("is_active: false") }, "a forged line: \(shown)")
        XCTAssertTrue(shown.contains("\\u{1b}]0;owned"), shown)
        let json = try ctl("user", "show", "tess", "--json").checked()
        XCTAssertFalse(raw(json.replacingOccurrences(of: "\n", with: "")), json.debugDescription)
        let decoded = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        XCTAssertEqual(decoded?["email"] as? String, hostile, "JSON escapes, and keeps the value")

        _ = try stack.redisCLI(
            "XADD", "durin:events", "*", "type", "login_failed", "user", hostile, "client", "", "session", "", "time", "0")
        let events = try ctl("events", "--last", "1").checked()
        XCTAssertFalse(raw(events.replacingOccurrences(of: "\n", with: "")), events.debugDescription)

        guard !stack.onCluster else { return }  // the import needs one server
        let dump = #"[{"model": "auth.user", "pk": 9, "fields": {"username": "a\u001b[2Jb", "password": "!", "is_active": true}}]"#
        let imported = try ctl("import", "django", "-", stdin: dump)
        XCTAssertFalse(raw(imported.stderr.replacingOccurrences(of: "\n", with: "")), imported.stderr.debugDescription)
        XCTAssertTrue(imported.stderr.contains("\\u{1b}[2J"), imported.stderr)
    }

    /// durinctl with another sealing secret than durin-fcgi's refuses to seal (a token
    /// issued, an import), says which settings it read, and writes nothing: else the
    /// service could not hand such a token back, and its user would silently get a
    /// new one at the next login. With the service's secret the same token verifies.
    func testDurinctlRefusesToSealUnderAnotherSecretThanTheServices() throws {
        try stack.addClient("vault")
        try stack.addUser("vera", password: "pw-vera-1")
        let other = String(repeating: "0123456789abcdef", count: 4)  // 64 hex, as openssl rand -hex 32 gives
        var out = try stack.durinctl(["token", "issue", "vera", "vault"], env: ["DURIN_SECRET_KEY": other])
        XCTAssertEqual(out.status, 1, out.stdout)
        XCTAssertTrue(out.stderr.contains("not the one durin-fcgi uses"), out.stderr)
        XCTAssertTrue(out.stderr.contains("DURIN_SECRET_KEY set in durinctl's environment"), out.stderr)
        XCTAssertEqual(try stack.redisCLI("HGET", "durin:user:vera", "t:vault"), "", "no token was written")

        // The same from a settings file: the message names it.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("durin-env-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var settings = stack.stackEnv
        settings["DURIN_SECRET_KEY"] = other
        try settings.map { "\($0.key)=\($0.value)\n" }.joined().write(toFile: "\(dir)/other.env", atomically: true, encoding: .utf8)
        let bare = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DURIN_") }
        out = try Processes.run(
            ["\(Stack.binDir)/durinctl", "token", "issue", "vera", "vault", "--env-file", "\(dir)/other.env"],
            environment: bare)
        XCTAssertEqual(out.status, 1, out.stdout)
        XCTAssertTrue(out.stderr.contains("durinctl read \(dir)/other.env"), out.stderr)
        XCTAssertTrue(out.stderr.contains("nothing was written"), out.stderr)

        if !stack.onCluster {  // the import needs one server
            let dump = #"[{"model": "auth.user", "pk": 31, "fields": {"username": "walt", "password": "!", "is_active": true}}]"#
            out = try stack.durinctl(["import", "django", "-"], stdin: dump, env: ["DURIN_SECRET_KEY": other])
            XCTAssertEqual(out.status, 1, out.stdout)
            XCTAssertTrue(out.stderr.contains("not the one durin-fcgi uses"), out.stderr)
            XCTAssertEqual(try stack.redisCLI("EXISTS", "durin:user:walt"), "0", "the refused import wrote no user")
        }

        let token = try ctl("token", "issue", "vera", "vault").checked().trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(try stack.http.call("GET", "/api/ping/", token: token).status, 200)
        XCTAssertEqual(try stack.login("vera", "pw-vera-1", client: "vault"), token, "the service hands the same token back")
    }
}
