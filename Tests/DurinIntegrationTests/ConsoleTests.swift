import Foundation
import XCTest

/// The operator console through nginx's example location (/durin/console/): who may
/// sign in, what the session cookie is, which requests may change anything, and that
/// its actions take effect on the real tokens. The pages in a real browser:
/// Tests/browser.
final class ConsoleTests: SharedStackTestCase {
    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        try stack.addUser("olive", password: "olive-pw", extra: ["--staff"])
        try stack.addUser("norm", password: "norm-pw")
    }

    let base = "/durin/console"
    /// What a browser on the console's page sends with a state change.
    let sameOrigin = [("Origin", "http://127.0.0.1"), ("Sec-Fetch-Site", "same-origin")]

    struct Session {
        let cookie: String
        let csrf: String
    }

    func signIn(_ user: String = "olive", _ password: String = "olive-pw") throws -> Session {
        let r = try http.call(
            "POST", "\(base)/api/session", json: #"{"username":"\#(user)","password":"\#(password)"}"#,
            extra: sameOrigin)
        XCTAssertEqual(r.status, 200, r.text)
        let setCookie = try XCTUnwrap(r.header("Set-Cookie"), "\(r.headers)")
        let value = try XCTUnwrap(setCookie.split(separator: ";").first.map(String.init))
        return Session(cookie: value, csrf: try XCTUnwrap(r.object["csrf"] as? String))
    }

    func get(_ path: String, _ session: Session?) throws -> HTTPResult {
        try http.call("GET", "\(base)/api/\(path)", extra: session.map { [("Cookie", $0.cookie)] } ?? [])
    }

    func post(
        _ path: String, _ json: String, _ session: Session, csrf: Bool = true,
        origin: [(String, String)]? = nil
    ) throws -> HTTPResult {
        var extra = [("Cookie", session.cookie)] + (origin ?? sameOrigin)
        if csrf { extra.append(("X-CSRF-Token", session.csrf)) }
        return try http.call("POST", "\(base)/api/\(path)", json: json, extra: extra)
    }

    func testThePageIsServedWithAStrictPolicy() throws {
        let page = try http.call("GET", "\(base)/")
        XCTAssertEqual(page.status, 200)
        XCTAssertEqual(page.header("Content-Type"), "text/html; charset=utf-8")
        let csp = try XCTUnwrap(page.header("Content-Security-Policy"))
        for part in ["default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"] { XCTAssertTrue(csp.contains(part), csp) }
        XCTAssertFalse(csp.contains("unsafe-inline"), csp)
        XCTAssertEqual(page.header("X-Frame-Options"), "DENY")
        XCTAssertFalse(page.text.contains("<script>"), "no inline script")
        XCTAssertFalse(page.text.contains("style="), "no inline style")
        XCTAssertFalse(page.text.contains("http"), "nothing from another origin")
        for asset in ["console.js", "console.css"] {
            let r = try http.call("GET", "\(base)/\(asset)")
            XCTAssertEqual(r.status, 200, asset)
            XCTAssertNotNil(r.header("Content-Security-Policy"))
            XCTAssertFalse(r.text.contains("innerHTML"), "the script builds elements with textContent")
        }
        // The console answers only where nginx mounts it, and nothing else answers there.
        XCTAssertEqual(try http.call("GET", "/api/auth/api/me").status, 404)
        XCTAssertEqual(try http.call("GET", "\(base)/verify/").status, 404)
        XCTAssertEqual(try http.call("GET", "\(base)/api/me").status, 401)
    }

    func testOnlyStaffSignInAndTheCookieIsScopedAndHidden() throws {
        var r = try http.call("POST", "\(base)/api/session", json: #"{"username":"norm","password":"norm-pw"}"#, extra: sameOrigin)
        XCTAssertEqual(r.status, 403)
        XCTAssertEqual(r.detail, "Only staff users may use the console.")
        XCTAssertNil(r.header("Set-Cookie"))
        r = try http.call("POST", "\(base)/api/session", json: #"{"username":"olive","password":"wrong"}"#, extra: sameOrigin)
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(r.text, #"{"non_field_errors":["Unable to log in with provided credentials."]}"#)
        r = try http.call(
            "POST", "\(base)/api/session", json: #"{"username":"olive","password":"olive-pw"}"#,
            extra: [("Origin", "http://evil.example")])
        XCTAssertEqual(r.status, 403, "a sign-in from another origin")
        XCTAssertEqual(r.detail, "Cross-origin request refused.")

        r = try http.call("POST", "\(base)/api/session", json: #"{"username":"olive","password":"olive-pw"}"#, extra: sameOrigin)
        XCTAssertEqual(r.status, 200)
        let cookie = try XCTUnwrap(r.header("Set-Cookie"))
        XCTAssertTrue(cookie.hasPrefix("durin_console="), cookie)
        for attribute in ["Path=/durin/console/", "HttpOnly", "SameSite=Strict"] { XCTAssertTrue(cookie.contains(attribute), cookie) }
        XCTAssertFalse(
            r.text.contains(String(cookie.split(separator: ";")[0].dropFirst("durin_console=".count))),
            "the token is in the cookie only, never in the body")
        let session = Session(cookie: String(cookie.split(separator: ";")[0]), csrf: try XCTUnwrap(r.object["csrf"] as? String))
        r = try get("me", session)
        XCTAssertEqual(r.object["user"] as? String, "olive")
        XCTAssertEqual(r.object["client"] as? String, "console")
        // The console's own session is a session like any other: listed, and revocable.
        let listed = try stack.durinctl(["token", "list", "--user", "olive", "--client", "console"]).checked()
        XCTAssertTrue(listed.contains("console"), listed)
        // Signing out revokes it.
        XCTAssertEqual(try post("session/end", "{}", session).status, 204)
        XCTAssertEqual(try get("me", session).status, 401)
        // Staff taken away: the session ends at once, and for good (CredentialBoundaryTests).
        let again = try signIn()
        try stack.durinctl(["user", "set", "olive", "--no-staff"]).checked()
        XCTAssertEqual(try get("me", again).status, 401)
        try stack.durinctl(["user", "set", "olive", "--staff"]).checked()
        XCTAssertEqual(try get("me", again).status, 401)
    }

    func testEveryChangeNeedsTheSameOriginAndTheCSRFToken() throws {
        try stack.addUser("cora", password: "cora-pw")
        let token = try stack.login("cora", "cora-pw", client: "web")
        let session = try signIn()
        var r = try post("users/cora/revoke", "{}", session, csrf: false)
        XCTAssertEqual(r.status, 403)
        XCTAssertEqual(r.detail, "CSRF Failed: CSRF token missing or incorrect.")
        r = try post("users/cora/revoke", "{}", Session(cookie: session.cookie, csrf: "forged"))
        XCTAssertEqual(r.status, 403)
        r = try post("users/cora/revoke", "{}", session, origin: [("Origin", "http://evil.example")])
        XCTAssertEqual(r.status, 403)
        XCTAssertEqual(r.detail, "Cross-origin request refused.")
        r = try post("users/cora/revoke", "{}", session, origin: [("Sec-Fetch-Site", "cross-site")])
        XCTAssertEqual(r.status, 403)
        r = try http.call("GET", "\(base)/api/users/cora/revoke", extra: [("Cookie", session.cookie)])
        XCTAssertEqual(r.status, 404, "a GET changes nothing")
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: token).status, 200, "nothing was revoked so far")

        r = try post("users/cora/revoke", "{}", session)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.object["revoked"] as? Int, 1)
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: token).status, 401, "revoked in the console, refused at once")
        let events = try get("events?user=olive&type=console", session)
        let last = try XCTUnwrap((events.json as? [[String: Any]])?.first, events.text)
        XCTAssertEqual(last["reason"] as? String, "revoke_all cora", "the event names the staff user and the action")
    }

    func testUsersClientsAndIssuers() throws {
        for name in ["alma", "alba", "bert"] { try stack.addUser(name, password: "\(name)-pw") }
        try stack.durinctl(["user", "remove", "alba"]).checked()
        let session = try signIn()
        var r = try get("users?prefix=al", session)
        XCTAssertEqual(
            (r.json as? [[String: Any]])?.compactMap { $0["username"] as? String }, ["alma"],
            "a prefix search; a removed user's name is not listed")
        let token = try stack.login("alma", "alma-pw", client: "web")
        r = try get("users/alma", session)
        let sessions = try XCTUnwrap(r.object["sessions"] as? [[String: Any]])
        XCTAssertEqual(sessions.count, 1)
        XCTAssertNotNil(sessions[0]["last_used"] as? String)
        XCTAssertEqual(sessions[0]["address"] as? String, "127.0.0.1")
        let id = try XCTUnwrap(sessions[0]["id"] as? Int)
        r = try post("users/alma/revoke", #"{"id":\#(id)}"#, session)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: token).status, 401)
        r = try post("users/alma/active", #"{"active":false}"#, session)
        XCTAssertEqual(r.object["is_active"] as? Bool, false)
        XCTAssertEqual(
            try http.call("POST", "/api/auth/login/", json: #"{"username":"alma","password":"alma-pw","client":"web"}"#).status, 400)

        r = try post("clients", #"{"name":"kiosk","token_ttl":"2h","idle_timeout":"10m"}"#, session)
        XCTAssertEqual(r.status, 201, r.text)
        r = try post("clients", #"{"name":"bad name","token_ttl":"2h"}"#, session)
        XCTAssertEqual(r.status, 400)
        XCTAssertNotNil((r.object["name"] as? [String])?.first)
        r = try post("clients/kiosk", #"{"idle_timeout":"banana"}"#, session)
        XCTAssertEqual(r.status, 400, r.text)
        r = try post("clients/kiosk", #"{"idle_timeout":"5m","throttle_rate":"10/m"}"#, session)
        XCTAssertEqual(r.status, 200, r.text)
        let shown = try stack.durinctl(["client", "show", "kiosk", "--json"]).checked()
        XCTAssertTrue(shown.contains("5m") && shown.contains("10/m"), shown)
        let kioskToken = try stack.login("bert", "bert-pw", client: "kiosk")
        r = try post("clients/kiosk/remove", "{}", session)
        XCTAssertEqual(r.object["revoked"] as? Int, 1)
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: kioskToken).status, 401)

        r = try post("issuers", #"{"name":"portal","clients":"web"}"#, session)
        XCTAssertEqual(r.status, 201)
        let key = try XCTUnwrap(r.object["key"] as? String)
        XCTAssertFalse(try get("issuers", session).text.contains(key), "the key is shown once, never listed")
        XCTAssertEqual(try post("issuers/portal/remove", "{}", session).status, 204)
        XCTAssertEqual(try get("issuers", session).text, "[]")

        // Rights: the operator names them; staff goes with users.
        XCTAssertEqual(try post("issuers", #"{"name":"hr","may":"staff"}"#, session).status, 400)
        r = try post("issuers", #"{"name":"hr","may":"users"}"#, session)
        XCTAssertEqual(r.status, 201, r.text)
        let hr = try XCTUnwrap(r.object["key"] as? String)
        let listed = try XCTUnwrap(try get("issuers", session).json as? [[String: Any]])
        XCTAssertEqual(listed.first?["may"] as? [String], ["users"])
        r = try http.call(
            "POST", "/api/auth/introspect/", form: "token=\(String(repeating: "0", count: 64))", extra: [("Authorization", "Issuer \(hr)")])
        XCTAssertEqual(r.status, 403, "a users key does not introspect")
        XCTAssertEqual(try post("issuers/hr/remove", "{}", session).status, 204)
    }

    /// Staff set a user's password, or require a new one at the next login: the
    /// login then answers a code the application acts on, and succeeds with
    /// `new_password`, which the policy checks like any other.
    func testStaffSetPasswordsAndRequireNewOnes() throws {
        try stack.addUser("rita", password: "rita-first-pw")
        let session = try signIn()
        let token = try stack.login("rita", "rita-first-pw", client: "web")
        var r = try post("users/rita/password", #"{"password":"rita"}"#, session)
        XCTAssertEqual(r.status, 400, "the policy applies: \(r.text)")
        r = try post("users/rita/password", #"{"password":"rita-second-pw","require_change":true}"#, session)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.object["revoked"] as? Int, 1)
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: token).status, 401, "her sessions ended")
        XCTAssertEqual(try get("users/rita", session).object["must_change_password"] as? Bool, true)

        func login(_ extra: String) throws -> HTTPResult {
            try http.call(
                "POST", "/api/auth/login/", json: #"{"username":"rita","password":"rita-second-pw","client":"web"\#(extra)}"#)
        }
        r = try login("")
        XCTAssertEqual(r.status, 401, r.text)
        XCTAssertEqual(r.object["code"] as? String, "password_change_required")
        XCTAssertNil(r.object["token"])
        r = try http.call("POST", "/api/auth/login/", json: #"{"username":"rita","password":"wrong-pw","client":"web"}"#)
        XCTAssertEqual(r.status, 400, "a wrong password says nothing of the change")
        r = try login(#","new_password":"123""#)
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual((r.object["new_password"] as? [String])?.last, "This password is entirely numeric.")
        r = try login(#","new_password":"rita-chosen-pw"}"#.dropLast().description)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertNotNil(r.object["token"] as? String)
        XCTAssertEqual(try stack.login("rita", "rita-chosen-pw", client: "web").count, 64)
        XCTAssertEqual(try get("users/rita", session).object["must_change_password"] as? Bool, false)

        // The flag alone.
        r = try post("users/rita/password", #"{"require_change":true}"#, session)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(try login("").status, 400, "her password is rita-chosen-pw now")
        r = try http.call("POST", "/api/auth/login/", json: #"{"username":"rita","password":"rita-chosen-pw","client":"web"}"#)
        XCTAssertEqual(r.object["code"] as? String, "password_change_required")
        let events = try stack.durinctl(["events", "--last", "50", "--json"]).checked()
        XCTAssertTrue(events.contains("set_password rita") && events.contains("require_password_change rita"), events)
    }

    func testRedisDownIsAClearAnswerAndTheConsoleRecovers() throws {
        try XCTSkipIf(stack.onCluster, "stops the stack's own redis-server, which a cluster run does not use")
        let session = try signIn()
        XCTAssertEqual(try get("overview", session).status, 200)
        try stack.devstack("redis-stop")
        var r = try get("overview", session)
        XCTAssertEqual(r.status, 503)
        XCTAssertEqual(r.detail, "Token store unavailable.")
        XCTAssertNotNil(r.header("Content-Security-Policy"))
        try stack.devstack("redis-start")  // an empty Redis: what the class prepared is made again
        try Self.prepare(stack)
        r = try http.call("POST", "\(base)/api/session", json: #"{"username":"olive","password":"olive-pw"}"#, extra: sameOrigin)
        XCTAssertEqual(r.status, 200, "signs in again once Redis is back: \(r.text)")
    }
}
