import DurinTestSupport
import Foundation
import XCTest

/// Accounts people run themselves, through nginx: a user changes their own
/// password (password/), every new password passes the policy, and an application
/// manages its users with an issuer key given `users` (users/), never reaching
/// staff without `staff`.
final class AccountTests: SharedStackTestCase {
    static let denylist: String = {
        let path = NSTemporaryDirectory() + "durin-denylist-\(getpid).txt"
        try? "Summer2026!\nhunter22\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }()

    override class var settings: [String: String] {
        ["DURIN_PASSWORD_MIN_LENGTH": "10", "DURIN_PASSWORD_DENYLIST": denylist, "DURIN_USER_FIELDS": "username,email"]
    }

    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        try stack.addClient("mobile")
        try stack.addUser("penny", password: "penny-old-pw", extra: ["--field", "email=penny.lane@example.com"])
        try stack.addUser("ottokarl", password: "otto-pw-2026")
        try stack.addUser("boss", password: "boss-pw-2026", extra: ["--staff"])
    }

    func change(_ token: String, _ body: String) throws -> HTTPResult {
        try http.call("POST", "/api/auth/password/", token: token, json: body)
    }

    func messages(_ r: HTTPResult, _ field: String) -> [String] { r.object[field] as? [String] ?? [] }

    func testAUserChangesTheirPasswordAndTheOtherSessionsEnd() throws {
        let web = try stack.login("penny", "penny-old-pw", client: "web")
        let mobile = try stack.login("penny", "penny-old-pw", client: "mobile")

        var r = try http.call("POST", "/api/auth/password/", json: #"{"old_password":"x","new_password":"y"}"#)
        XCTAssertEqual(r.status, 401, "a token is needed")
        r = try change(web, "{}")
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(messages(r, "old_password"), ["This field is required."])
        XCTAssertEqual(messages(r, "new_password"), ["This field is required."])

        r = try change(web, #"{"old_password":"wrong","new_password":"a-fine-new-password"}"#)
        XCTAssertEqual(r.status, 400, r.text)
        XCTAssertEqual(messages(r, "old_password"), ["Your old password was entered incorrectly. Please enter it again."])

        r = try change(web, #"{"old_password":"penny-old-pw","new_password":"a-fine-new-password"}"#)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.object["revoked"] as? Int, 1)
        XCTAssertEqual(try http.call("GET", "/api/auth/verify/", token: web).status, 200, "the changing session stays")
        XCTAssertEqual(try http.call("GET", "/api/auth/verify/", token: mobile).status, 401, "the other session is gone")
        XCTAssertEqual(try loginStatus("penny", "penny-old-pw"), 400, "the old password fails")
        XCTAssertEqual(try loginStatus("penny", "a-fine-new-password"), 200, "the new one works")

        // revoke_others false keeps them; the event names the change, never the password.
        let other = try stack.login("penny", "a-fine-new-password", client: "mobile")
        r = try change(web, #"{"old_password":"a-fine-new-password","new_password":"another-new-password","revoke_others":false}"#)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(try http.call("GET", "/api/auth/verify/", token: other).status, 200)
        let events = try stack.durinctl(["events", "--last", "50", "--json"]).checked()
        XCTAssertTrue(events.contains(#""type":"password_changed""#), events)
        XCTAssertFalse(events.contains("another-new-password"))
    }

    func loginStatus(_ user: String, _ password: String, client: String = "web", extra: String = "") throws -> Int {
        try http.call(
            "POST", "/api/auth/login/", json: #"{"username":"\#(user)","password":"\#(password)","client":"\#(client)"\#(extra)}"#
        ).status
    }

    func testEveryValidatorNamesItsRule() throws {
        let token = try stack.login("ottokarl", "otto-pw-2026", client: "web")
        func problems(_ new: String) throws -> [String] {
            let r = try change(token, #"{"old_password":"otto-pw-2026","new_password":"\#(new)"}"#)
            XCTAssertEqual(r.status, 400, r.text)
            return messages(r, "new_password")
        }
        XCTAssertEqual(try problems("short-pw"), ["This password is too short. It must contain at least 10 characters."])
        XCTAssertEqual(try problems("12345678901234"), ["This password is entirely numeric."])
        XCTAssertEqual(try problems("SUMMER2026! "), ["This password is too common."], "the deny-list ignores case and spaces")
        XCTAssertEqual(try problems("ottokarl-x1"), ["The password is too similar to the username."])
        XCTAssertEqual(
            try problems("123"),
            [
                "This password is too short. It must contain at least 10 characters.", "This password is entirely numeric.",
            ])
        let penny = try stack.login("penny", try currentPenny(), client: "web")
        let r = try change(penny, #"{"old_password":"\#(try currentPenny())","new_password":"pennylane.example"}"#)
        XCTAssertEqual(messages(r, "new_password"), ["The password is too similar to the email address."])
        XCTAssertEqual(try loginStatus("ottokarl", "otto-pw-2026"), 200, "no refused change changed anything")
    }

    /// penny's password, whichever test ran first.
    func currentPenny() throws -> String {
        for candidate in ["penny-old-pw", "a-fine-new-password", "another-new-password"] where try loginStatus("penny", candidate) == 200 {
            return candidate
        }
        throw XCTSkip("penny's password is unknown")
    }

    func testWrongOldPasswordsCountAsFailedLogins() throws {
        try stack.addUser("guess", password: "guess-pw-2026")
        let token = try stack.login("guess", "guess-pw-2026", client: "web")
        var statuses: [Int] = []
        for i in 0..<12 {
            statuses.append(try change(token, #"{"old_password":"guess-\#(i)","new_password":"whatever-new-pw"}"#).status)
        }
        XCTAssertEqual(statuses.prefix(10).filter { $0 == 400 }.count, 10, "\(statuses)")
        XCTAssertEqual(statuses.last, 429, "past DURIN_LOGIN_FAILURE_RATE (10/m) a guess waits: \(statuses)")
        XCTAssertEqual(try loginStatus("guess", "guess-pw-2026"), 429, "and so does a login of that name from there")
    }

    // MARK: users/

    func issuer(_ name: String, may: String) throws -> String {
        try stack.durinctl(["issuer", "add", name, "--may", may]).checked().trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func users(_ method: String, _ path: String = "", key: String, json: String? = nil) throws -> HTTPResult {
        try http.call(method, "/api/auth/users/\(path)", json: json, extra: [("Authorization", "Issuer \(key)")])
    }

    func testAnIssuerWithUsersManagesUsersAndNoMore() throws {
        let app = try issuer("signup", may: "users")
        let gateway = try issuer("gateway", may: "introspect")

        var r = try users("POST", key: gateway, json: #"{"username":"newbie","password":"a-good-password"}"#)
        XCTAssertEqual(r.status, 403, "a key without users: \(r.text)")
        XCTAssertEqual(r.detail, "You do not have permission to perform this action.")
        r = try http.call("POST", "/api/auth/users/", json: #"{"username":"newbie"}"#)
        XCTAssertEqual(r.status, 401, "no key")
        r = try users("POST", key: app, json: #"{"username":"newbie","password":"newbie"}"#)
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(messages(r, "password").first, "The password is too similar to the username.")

        r = try users("POST", key: app, json: #"{"username":"newbie","password":"a-good-password","email":"n@example.com"}"#)
        XCTAssertEqual(r.status, 201, r.text)
        XCTAssertEqual(r.object["email"] as? String, "n@example.com")
        XCTAssertEqual(r.object["is_staff"] as? Bool, false)
        XCTAssertNil(r.object["password"])
        XCTAssertEqual(try loginStatus("newbie", "a-good-password"), 200)
        r = try users("POST", key: app, json: #"{"username":"newbie","password":"a-good-password"}"#)
        XCTAssertEqual(messages(r, "username"), ["A user with that username already exists."])

        // Changes: profile, password, active; each an event naming the issuer.
        r = try users("PATCH", "newbie/", key: app, json: #"{"email":null,"first_name":"New","password":"a-better-password"}"#)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertNil(r.object["email"])
        XCTAssertEqual(r.object["first_name"] as? String, "New")
        XCTAssertEqual(try loginStatus("newbie", "a-good-password"), 400)
        let token = try stack.login("newbie", "a-better-password", client: "web")
        r = try users("PATCH", "newbie/", key: app, json: #"{"is_active":false}"#)
        XCTAssertEqual(r.object["is_active"] as? Bool, false)
        XCTAssertEqual(try http.call("GET", "/api/auth/verify/", token: token).detail, "User inactive or deleted.")
        r = try users("GET", "newbie/", key: app)
        XCTAssertEqual(r.object["is_active"] as? Bool, false)
        XCTAssertEqual(r.object["has_usable_password"] as? Bool, true)

        // Fields a users key must never reach.
        for body in [#"{"is_staff":true}"#, #"{"otp":"1"}"#, #"{"pw_change":"1"}"#, #"{"username":"other"}"#] {
            r = try users("PATCH", "newbie/", key: app, json: body)
            XCTAssertTrue([400, 403].contains(r.status), "\(body): \(r.text)")
        }
        r = try users("POST", key: app, json: #"{"username":"sneaky","password":"a-good-password","is_staff":true}"#)
        XCTAssertEqual(r.status, 403, "staff needs the staff right")
        XCTAssertEqual(try users("GET", "sneaky/", key: app).status, 404)

        // A staff user is out of a users key's reach: its password above all.
        for (method, body) in [("PATCH", #"{"password":"taken-over-pw-2026"}"#), ("DELETE", nil), ("GET", nil)] {
            r = try users(method, "boss/", key: app, json: body)
            XCTAssertEqual(r.status, 403, "\(method) boss: \(r.text)")
        }
        XCTAssertEqual(try loginStatus("boss", "boss-pw-2026"), 200)

        XCTAssertEqual(try users("DELETE", "newbie/", key: app).status, 204)
        XCTAssertEqual(try users("GET", "newbie/", key: app).status, 404)
        XCTAssertEqual(try http.call("GET", "/api/auth/verify/", token: token).status, 401)

        let events = try stack.durinctl(["events", "--last", "200", "--json"]).checked()
        for kind in ["user_created", "user_changed", "password_set", "user_removed"] {
            XCTAssertTrue(events.contains(#""type":"\#(kind)""#), kind)
        }
        XCTAssertTrue(events.contains(#""issuer":"signup""#))
        XCTAssertFalse(events.contains("a-better-password"))
    }

    func testAnIssuerWithStaffManagesStaffAndADjangoHashLogsIn() throws {
        let admin = try issuer("hr", may: "users,staff")
        // Django's own hash of "django-pw-2026" at 1000 iterations (hashlib, as Django computes it).
        let hash = try Processes.run(
            [
                "/usr/bin/python3", "-c",
                "import hashlib,base64;print('pbkdf2_sha256$1000$salt123$'+base64.b64encode(hashlib.pbkdf2_hmac('sha256',b'django-pw-2026',b'salt123',1000)).decode())",
            ], environment: [:]
        ).checked().trimmingCharacters(in: .whitespacesAndNewlines)
        var r = try users("POST", key: admin, json: #"{"username":"djangouser","password_hash":"\#(hash)","is_staff":true}"#)
        XCTAssertEqual(r.status, 201, r.text)
        XCTAssertEqual(r.object["is_staff"] as? Bool, true)
        XCTAssertEqual(try loginStatus("djangouser", "django-pw-2026"), 200)
        r = try users("POST", key: admin, json: #"{"username":"badhash","password_hash":"md5$x$y"}"#)
        XCTAssertEqual(r.status, 400)
        r = try users("PATCH", "djangouser/", key: admin, json: #"{"is_staff":false}"#)
        XCTAssertEqual(r.object["is_staff"] as? Bool, false)

        // Keys made before rights keep exactly what they could do: no users/.
        let old = try issuer("legacy", may: "issue,introspect,revoke")
        XCTAssertEqual(try users("GET", "djangouser/", key: old).status, 403)
        if stack.environment["DURIN_KEY_PREFIX"] == nil {
            try stack.redisCLI("HDEL", try legacyKeyName("legacy"), "may")
            XCTAssertEqual(try users("GET", "djangouser/", key: old).status, 403, "a key without the field")
            let introspected = try http.call(
                "POST", "/api/auth/introspect/", form: "token=\(String(repeating: "0", count: 64))",
                extra: [("Authorization", "Issuer \(old)")])
            XCTAssertEqual(introspected.status, 200, "and still introspects")
        }
        let list = try stack.durinctl(["issuer", "list"]).checked()
        XCTAssertTrue(list.contains("legacy\tclients=any\tmay=issue,introspect,revoke"), list)
    }

    func legacyKeyName(_ name: String) throws -> String {
        let digest = try stack.redisCLI("HGET", "durin:issuers", name).trimmingCharacters(in: .whitespacesAndNewlines)
        return "durin:issuer:\(digest)"
    }
}
