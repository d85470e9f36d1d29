import DurinTestSupport
import Foundation
import XCTest

/// `durinctl import django` against the real thing: a throwaway Django project with
/// django-rest-durin 1.1 (Tests/django/, installed from PyPI into a venv in a temp
/// directory), users and clients made there, tokens issued by durin's own LoginView,
/// `manage.py dumpdata auth.user durin` imported here, and then the same tokens and
/// passwords used through nginx.
///
/// Needs python3 with venv and PyPI: without them the test fails, it does not skip.
final class DjangoImportTests: XCTestCase {
    /// Versions that work together with django-rest-durin 1.1.0 (Debian 12's Python 3.11).
    static let requirements = ["django-rest-durin==1.1.0", "djangorestframework==3.15.2", "Django==4.2.30", "humanize==4.17.0"]

    var django: DjangoProject!
    var stack: Stack!

    override func tearDown() {
        stack?.stop()
        django?.remove()
        super.tearDown()
    }

    func ctl(_ args: String..., stdin: String? = nil) throws -> Processes.Output { try stack.durinctl(args, stdin: stdin) }

    func summary(_ out: Processes.Output, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        try XCTUnwrap(
            try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any],
            "not JSON: \(out.stdout) \(out.stderr)", file: file, line: line)
    }

    func tally(_ s: [String: Any], _ kind: String) -> [String: Int] {
        ((s[kind] as? [String: Any]) ?? [:]).compactMapValues { $0 as? Int }
    }

    func keyCount() throws -> String { try stack.redisCLI("DBSIZE") }

    func testMovingFromDjangoRestDurinLogsNobodyOut() throws {
        // In the test, not in setUp: a missing PyPI is this test's failure (XCTest on
        // Linux reports a throwing setUp as a skip as well).
        django = try DjangoProject(requirements: Self.requirements)
        stack = try Stack(settings: ["DURIN_USER_FIELDS": "username,email,first_name,last_name"])
        // Django: alice (web, mobile: durin's LoginView), bob (web; an older 100000-iteration
        // hash), carol (inactive; a token), dave (a bcrypt hash), "eve smith" (a name this
        // service refuses; a token), frank (an expired token), the client "smart tv" (a name
        // this service refuses; alice's token for it).
        let made = try django.run(["make_data.py", "initial"])
        let logins = try XCTUnwrap(made["logins"] as? [[String: String]])
        func login(_ user: String, _ client: String) throws -> [String: String] {
            try XCTUnwrap(logins.first { $0["user"] == user && $0["client"] == client })
        }
        let djangoTokens = try XCTUnwrap(made["tokens"] as? [String: String])
        let djangoSessions = try XCTUnwrap(made["sessions"] as? [[String: Any]])
        let dump = try django.dumpdata("dump1.json")

        // --dry-run: the full report, and nothing written.
        let keysBefore = try keyCount()
        let dry = try ctl("import", "django", dump, "--dry-run", "--json")
        XCTAssertEqual(dry.status, 1, "records were refused: \(dry.stderr)")
        XCTAssertEqual(try keyCount(), keysBefore, "a dry run writes nothing")
        var preview = try summary(dry)
        XCTAssertEqual(preview["dry_run"] as? Bool, true)

        // The import.
        let first = try ctl("import", "django", dump, "--json")
        XCTAssertEqual(first.status, 1, "records were refused, so the exit status is 1")
        let report = try summary(first)
        preview["dry_run"] = false
        XCTAssertEqual(NSDictionary(dictionary: report), NSDictionary(dictionary: preview), "the dry run said exactly this")
        XCTAssertEqual(tally(report, "clients"), ["created": 2, "updated": 0, "unchanged": 0, "skipped": 0, "refused": 1])
        XCTAssertEqual(tally(report, "users"), ["created": 5, "updated": 0, "unchanged": 0, "skipped": 0, "refused": 1])
        XCTAssertEqual(tally(report, "tokens")["created"], 4, "alice web and mobile, bob web, carol web")
        XCTAssertEqual(tally(report, "tokens")["skipped"], 1)
        XCTAssertEqual(tally(report, "tokens")["expired"], 1, "frank's")
        XCTAssertEqual(tally(report, "tokens")["refused"], 2, "alice's smart tv token, eve's token")
        let unusable = (report["users"] as? [String: Any])?["unusable_password"] as? [[String: String]]
        XCTAssertEqual(unusable ?? [], [["username": "dave", "hasher": "bcrypt_sha256"]])
        for expected in [
            #"refused durin.client pk=3 ("smart tv"): invalid client name"#,
            #"refused auth.user pk=5 ("eve smith"): invalid username"#,
            #"refused durin.authtoken pk=4 (alice/"smart tv"): its client (durin.client pk=3) was refused"#,
            #"refused durin.authtoken pk=6 ("eve smith"/web): its user (auth.user pk=5) was refused"#,
            "note: user dave: its bcrypt_sha256 hash cannot be checked here",
        ] {
            XCTAssertTrue(first.stderr.contains(expected), "stderr lacks \(expected):\n\(first.stderr)")
        }

        // The same tokens answer verify/ through nginx: same user, client, and expiry to the
        // millisecond durin stored (its login answer has microseconds; dumpdata keeps ms).
        for (user, client) in [("alice", "web"), ("alice", "mobile"), ("bob", "web")] {
            let l = try login(user, client)
            let r = try stack.http.call("GET", "/api/auth/verify/", token: l["token"])
            XCTAssertEqual(r.status, 200, "\(user)/\(client): \(r.text)")
            XCTAssertEqual(r.object["user"] as? String, user)
            XCTAssertEqual(r.object["client"] as? String, client)
            XCTAssertEqual(r.object["expiry"] as? String, Self.cutToMillis(l["expiry"]!), "\(user)/\(client)")
            XCTAssertEqual(try stack.http.call("GET", "/api/ping/", token: l["token"]).text, #"{"user":"\#(user)","client":"\#(client)"}"#)
        }
        XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: login("alice", "smart tv")["token"]).detail, "Invalid token.")
        XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: djangoTokens["eve smith/web"]).detail, "Invalid token.")
        XCTAssertEqual(
            try stack.http.call("GET", "/api/auth/verify/", token: djangoTokens["carol/web"]).detail,
            "User inactive or deleted.", "carol is inactive in Django")

        // The same passwords log in, and login hands back the imported token (one per pair).
        var r = try stack.http.call("POST", "/api/auth/login/", json: #"{"username":"alice","password":"alice-pw","client":"web"}"#)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.object["token"] as? String, try login("alice", "web")["token"])
        XCTAssertEqual(r.object["expiry"] as? String, Self.cutToMillis(try login("alice", "web")["expiry"]!))
        XCTAssertEqual(
            r.object["user"] as? [String: String],
            ["username": "alice", "email": "alice@example.com", "first_name": "Alice", "last_name": "Liddell"])
        XCTAssertEqual(
            try stack.login("bob", "bob-pw", client: "web"), try login("bob", "web")["token"],
            "bob's 100000-iteration hash checks as it is")
        let refused = #"{"non_field_errors":["Unable to log in with provided credentials."]}"#
        for (user, password) in [("carol", "carol-pw"), ("dave", "dave-pw"), ("alice", "wrong")] {
            r = try stack.http.call("POST", "/api/auth/login/", json: #"{"username":"\#(user)","password":"\#(password)","client":"web"}"#)
            XCTAssertEqual(r.status, 400, user)
            XCTAssertEqual(r.text, refused, user)
        }
        let mobile = try summary(try ctl("client", "show", "mobile", "--json"))
        XCTAssertEqual(mobile["token_ttl"] as? String, "183845s", "2 days, 3:04:05")
        XCTAssertEqual(mobile["throttle_rate"] as? String, "100/m")

        // sessions/ lists them with durin's fields and durin's ids.
        r = try stack.http.call("GET", "/api/auth/sessions/", token: login("alice", "web")["token"])
        let sessions = try XCTUnwrap(r.json as? [[String: Any]], r.text)
        let expected = djangoSessions.filter { $0["client"] as? String != "smart tv" }
        XCTAssertEqual(sessions.map { $0["id"] as? Int }, expected.map { $0["id"] as? Int })
        for (here, there) in zip(sessions, expected) {
            XCTAssertEqual(Set(here.keys), Set(there.keys), "durin's fields")
            XCTAssertEqual(here["client"] as? String, there["client"] as? String)
            XCTAssertEqual(here["created"] as? String, Self.cutToMillis(there["created"] as! String))
            XCTAssertEqual(here["expiry"] as? String, Self.cutToMillis(there["expiry"] as! String))
            XCTAssertEqual(here["is_current"] as? Bool, there["is_current"] as? Bool)
            XCTAssertEqual(here["has_expired"] as? Bool, false)
        }
        let sequence = Int(try stack.redisCLI("GET", "durin:seq:token")) ?? 0
        XCTAssertGreaterThanOrEqual(sequence, 7, "new session ids come after every imported one")

        // A second import changes nothing (bob's hash upgraded at login here stays).
        let keys = try keyCount()
        let events = try stack.redisCLI("XLEN", "durin:events")
        let bobHash = try stack.redisCLI("GET", stack.keys.password("bob"))
        XCTAssertTrue(bobHash.hasPrefix("pbkdf2_sha256$1000$"), "upgraded at login: \(bobHash)")
        let second = try summary(try ctl("import", "django", dump, "--json"))
        XCTAssertEqual(tally(second, "clients"), ["created": 0, "updated": 0, "unchanged": 2, "skipped": 0, "refused": 1])
        XCTAssertEqual(tally(second, "users"), ["created": 0, "updated": 0, "unchanged": 5, "skipped": 0, "refused": 1])
        XCTAssertEqual(tally(second, "tokens")["created"], 0)
        XCTAssertEqual(tally(second, "tokens")["updated"], 0)
        XCTAssertEqual(tally(second, "tokens")["unchanged"], 4)
        XCTAssertEqual(try keyCount(), keys)
        XCTAssertEqual(try stack.redisCLI("XLEN", "durin:events"), events)
        XCTAssertEqual(try stack.redisCLI("GET", stack.keys.password("bob")), bobHash)

        // Exit status 0 when every record fits; the dump read from stdin.
        let clean = try django.manage(["dumpdata", "auth.user", "--pks", "1,2"])
        let quiet = try ctl("import", "django", "-", stdin: clean)
        XCTAssertEqual(quiet.status, 0, quiet.stderr)
        XCTAssertEqual(quiet.stdout.split(separator: "\n").first, "clients: 0 created, 0 updated, 0 unchanged, 0 skipped, 0 refused")
        XCTAssertTrue(quiet.stdout.contains("users: 0 created, 0 updated, 2 unchanged, 0 skipped, 0 refused"), quiet.stdout)

        // The switch: meanwhile in Django alice logged out of mobile and bob logged in on
        // mobile. The second dump brings bob's token; --previous revokes alice's here.
        let later = try django.run(["make_data.py", "later"])
        let bobMobile = try XCTUnwrap((later["logins"] as? [[String: String]])?.first)
        let dump2 = try django.dumpdata("dump2.json")
        let third = try summary(try ctl("import", "django", dump2, "--previous", dump, "--json"))
        XCTAssertEqual(tally(third, "tokens")["created"], 1)
        XCTAssertEqual(tally(third, "tokens")["revoked"], 1)
        XCTAssertEqual(
            try stack.http.call("GET", "/api/auth/verify/", token: bobMobile["token"]).object["expiry"] as? String,
            Self.cutToMillis(bobMobile["expiry"]!))
        XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: later["logged_out"] as? String).detail, "Invalid token.")

        // logoutall/ here revokes the imported tokens, and no import brings them back.
        let aliceWeb = try login("alice", "web")["token"]
        XCTAssertEqual(try stack.http.call("POST", "/api/auth/logoutall/", token: aliceWeb).status, 204)
        XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: aliceWeb).detail, "Invalid token.")
        let fourth = try summary(try ctl("import", "django", dump2, "--json"))
        XCTAssertEqual(tally(fourth, "tokens")["gone_here"], 1, "alice's web token: revoked here")
        XCTAssertEqual(tally(fourth, "tokens")["created"], 0)
        XCTAssertEqual(try stack.http.call("GET", "/api/auth/verify/", token: aliceWeb).detail, "Invalid token.")
    }

    /// durin's ISO expiry (microseconds) as this service answers for what dumpdata kept:
    /// cut to milliseconds, and no fraction when that is zero (Python's isoformat).
    /// After the switch, docs/examples/durin_sync.py keeps durin in step: Django's
    /// signals call users/ with an issuer key given `users`.
    func testTheShippedSignalHandlerKeepsDurinInStep() throws {
        django = try DjangoProject(requirements: Self.requirements)
        stack = try Stack(settings: [:])
        try stack.addClient("web")
        let key = try ctl("issuer", "add", "django", "--may", "users").checked().trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try django.run(["sync_users.py", "http://127.0.0.1:\(stack.port)/api/auth/users/", key])
        func login(_ user: String, _ password: String) throws -> Int {
            try stack.http.call(
                "POST", "/api/auth/login/", json: #"{"username":"\#(user)","password":"\#(password)","client":"web"}"#
            ).status
        }
        XCTAssertEqual(try login("sync.ann", "ann-second-pw"), 200, "the password changed in Django works here")
        XCTAssertEqual(try login("sync.ann", "ann-first-pw"), 400, "the old one does not")
        XCTAssertEqual(try login("sync.bob", "bob-pw"), 400, "closed in Django, closed here")
        let shown = try ctl("user", "show", "sync.ann", "--json").checked()
        XCTAssertTrue(shown.contains(#""first_name":"Ann""#) && shown.contains(#""email":"ann@example.com""#), shown)
        XCTAssertEqual(try ctl("user", "show", "sync.cid").status, 1, "deleted in Django, deleted here")
        let events = try ctl("events", "--last", "50", "--json").checked()
        XCTAssertTrue(events.contains(#""type":"user_created""#) && events.contains(#""issuer":"django""#), events)
    }

    static func cutToMillis(_ iso: String) -> String {
        guard let dot = iso.firstIndex(of: "."), iso.hasSuffix("Z") else { return iso }
        let millis = iso[iso.index(after: dot)...].prefix(3)
        return millis == "000" ? String(iso[..<dot]) + "Z" : String(iso[..<dot]) + "." + String(millis) + "000Z"
    }
}

/// Tests/django/ copied to a temporary directory, with a venv holding django-rest-durin.
final class DjangoProject {
    let dir: String
    var python: String { "\(dir)/venv/bin/python" }
    let environment: [String: String]

    init(requirements: [String]) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("durin-django-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("DURIN_") && !$0.key.hasPrefix("PYTHON") }
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        env["PIP_NO_INPUT"] = "1"
        environment = env
        do {
            let source = "\(Stack.root)/Tests/django"
            for file in try FileManager.default.contentsOfDirectory(atPath: source) where file.hasSuffix(".py") {
                try FileManager.default.copyItem(atPath: "\(source)/\(file)", toPath: "\(dir)/\(file)")
            }
            // The signal handler docs/migration.md ships, run as a site would run it.
            try FileManager.default.copyItem(atPath: "\(Stack.root)/docs/examples/durin_sync.py", toPath: "\(dir)/durin_sync.py")
            try step(["/usr/bin/python3", "-m", "venv", "\(dir)/venv"], "creating a venv (apt-get install python3-venv)")
            try step(
                [python, "-m", "pip", "install", "--quiet"] + requirements,
                "installing \(requirements.joined(separator: " ")) from PyPI")
        } catch {
            remove()
            throw error
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: dir) }

    /// Runs a script of the project (in its directory) that prints one JSON object.
    func run(_ args: [String]) throws -> [String: Any] {
        let out = try step([python] + args, args.joined(separator: " "))
        guard let object = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any] else {
            throw RawHTTP.Failure(description: "\(args.joined(separator: " ")) printed no JSON object: \(out)")
        }
        return object
    }

    func manage(_ args: [String]) throws -> String { try step([python, "manage.py"] + args, "manage.py " + args.joined(separator: " ")) }

    /// `manage.py dumpdata auth.user durin` into a file; returns its path.
    func dumpdata(_ name: String) throws -> String {
        let path = "\(dir)/\(name)"
        try manage(["dumpdata", "auth.user", "durin", "--output", path])
        return path
    }

    @discardableResult
    private func step(_ argv: [String], _ what: String) throws -> String {
        let out = try Processes.run(["sh", "-c", "cd \"$0\" && exec \"$@\"", dir] + argv, environment: environment)
        guard out.status == 0 else { throw RawHTTP.Failure(description: "\(what) failed (exit \(out.status)): \(out.stderr)\(out.stdout)") }
        return out.stdout
    }
}
