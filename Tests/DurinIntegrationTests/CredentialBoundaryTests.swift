import Foundation
import XCTest

/// What each credential grants, and nothing more (docs/security.md, "What each
/// credential grants"), through real nginx, durin-fcgi and Redis: a console
/// session comes only from the console's sign-in and is valid only there; an
/// issuer key, however broad, never reaches the console; the console answers only
/// under its own name; a console session ends with what ended it.
final class CredentialBoundaryTests: SharedStackTestCase {
    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        try stack.addUser("olive", password: "olive-pw", extra: ["--staff"])
        try stack.addUser("ivy", password: "ivy-pw")
    }

    let console = "/durin/console"
    let sameOrigin = [("Origin", "http://127.0.0.1"), ("Sec-Fetch-Site", "same-origin")]

    func signIn(_ user: String = "olive", _ password: String = "olive-pw") throws -> (cookie: String, token: String, csrf: String) {
        let r = try http.call(
            "POST", "\(console)/api/session", json: #"{"username":"\#(user)","password":"\#(password)"}"#,
            extra: sameOrigin)
        XCTAssertEqual(r.status, 200, r.text)
        let cookie = try XCTUnwrap(r.header("Set-Cookie")?.split(separator: ";").first.map(String.init), r.text)
        return (cookie, String(cookie.dropFirst("durin_console=".count)), try XCTUnwrap(r.object["csrf"] as? String))
    }

    func me(_ cookie: String) throws -> Int {
        try http.call("GET", "\(console)/api/me", extra: [("Cookie", cookie)]).status
    }

    func consoleTokens(_ user: String) throws -> Int {
        try stack.durinctl(["token", "list", "--user", user, "--client", "console"]).checked()
            .split(separator: "\n").filter { $0.contains("console") }.count
    }

    /// The attack of issue 23 (1): an issuer key with no client list ("any") called
    /// issue/ for the console's client and got the staff user's live console session.
    func testAnIssuerKeyNeverBecomesAConsoleSession() throws {
        let any = try stack.durinctl(["issuer", "add", "sso"]).checked().trimmingCharacters(in: .whitespacesAndNewlines)
        let session = try signIn()
        XCTAssertEqual(try me(session.cookie), 200)

        // issue/ for the console's client: no such client, for any issuer.
        var r = try http.call(
            "POST", "/internal/durin/issue/", json: #"{"username":"olive","client":"console"}"#,
            extra: [("Authorization", "Issuer \(any)")])
        XCTAssertEqual(r.status, 400, r.text)
        XCTAssertEqual(r.detail, "No client with that name.")
        XCTAssertFalse(r.text.contains(session.token))
        // login/ with a password does not make one either.
        r = try http.call("POST", "/api/auth/login/", json: #"{"username":"olive","password":"olive-pw","client":"console"}"#)
        XCTAssertEqual(r.status, 400, r.text)
        XCTAssertEqual(r.detail, "No client with that name.")
        // Nor root's durinctl, nor a key naming the console's client.
        let issued = try stack.durinctl(["token", "issue", "olive", "console"])
        XCTAssertNotEqual(issued.status, 0)
        XCTAssertTrue(issued.stderr.contains("console's sign-in"), issued.stderr)
        let named = try stack.durinctl(["issuer", "add", "sneaky", "--clients", "web,console"])
        XCTAssertNotEqual(named.status, 0)
        XCTAssertTrue(named.stderr.contains("operator console"), named.stderr)
        XCTAssertEqual(try consoleTokens("olive"), 1, "the sign-in's session alone")

        // The console session is no token anywhere else: not for an upstream, not
        // for the API's own routes, not to an issuer's introspection or revocation.
        XCTAssertEqual(try http.call("GET", "/api/ping/", token: session.token).status, 401)
        XCTAssertEqual(try http.call("GET", "/api/ping/cached/", token: session.token).status, 401)
        for (method, path) in [("GET", "verify/"), ("POST", "refresh/"), ("GET", "sessions/"), ("POST", "logout/"), ("POST", "logoutall/")]
        {
            r = try http.call(method, "/api/auth/\(path)", token: session.token)
            XCTAssertEqual(r.status, 401, "\(path): \(r.text)")
            XCTAssertEqual(r.detail, "Invalid token.", path)
        }
        r = try http.call("POST", "/api/auth/introspect/", form: "token=\(session.token)", extra: [("Authorization", "Issuer \(any)")])
        XCTAssertEqual(r.text, #"{"active":false}"#)
        r = try http.call("POST", "/api/auth/revoke/", form: "token=\(session.token)", extra: [("Authorization", "Issuer \(any)")])
        XCTAssertEqual(r.status, 200)
        r = try http.call("POST", "/api/auth/revoke/", form: "username=olive", extra: [("Authorization", "Issuer \(any)")])
        XCTAssertEqual(r.text, #"{"revoked":0}"#)
        XCTAssertEqual(try me(session.cookie), 200, "neither revocation reached the console session")

        // An API token is no console session either.
        let web = try stack.login("olive", "olive-pw", client: "web")
        XCTAssertEqual(try me("durin_console=\(web)"), 401)
    }

    /// Issue 23 (5): signing in again returned the same token, a reactivated user's
    /// old cookie worked again, and with two cookies the first one won.
    func testAConsoleSessionEndsWithWhatEndedIt() throws {
        try stack.addUser("otto", password: "otto-pw", extra: ["--staff"])
        let first = try signIn("otto", "otto-pw")
        let second = try signIn("otto", "otto-pw")
        XCTAssertNotEqual(first.token, second.token, "each sign-in mints a new session")
        XCTAssertEqual(try me(first.cookie), 401, "and ends the one before")
        XCTAssertEqual(try me(second.cookie), 200)

        // Two console cookies (one planted by a sibling site): refused, whichever is first.
        for pair in ["\(second.cookie); \(first.cookie)", "\(first.cookie); \(second.cookie)"] {
            let r = try http.call("GET", "\(console)/api/me", extra: [("Cookie", pair)])
            XCTAssertEqual(r.status, 400, r.text)
            XCTAssertEqual(r.detail, "More than one console session cookie was sent: clear this site's cookies and sign in again.")
        }

        try stack.durinctl(["user", "deactivate", "otto"]).checked()
        try stack.durinctl(["user", "activate", "otto"]).checked()
        XCTAssertEqual(try me(second.cookie), 401, "deactivation ended it for good")

        let third = try signIn("otto", "otto-pw")
        try stack.durinctl(["user", "set", "otto", "--no-staff"]).checked()
        try stack.durinctl(["user", "set", "otto", "--staff"]).checked()
        XCTAssertEqual(try me(third.cookie), 401, "losing staff ended it for good")

        let fourth = try signIn("otto", "otto-pw")
        try stack.durinctl(["user", "remove", "otto"]).checked()
        try stack.addUser("otto", password: "otto-pw", extra: ["--staff"])
        XCTAssertEqual(try me(fourth.cookie), 401, "a removed user's session does not come back with the name")
        let events = try stack.durinctl(["events", "--last", "200", "--json"]).checked()
        XCTAssertTrue(events.contains(#""reason":"user_deactivated""#) && events.contains(#""reason":"staff_removed""#), events)
    }

    /// Issue 23 (4): the same-origin check compared Origin with the Host, and any name
    /// reached the console. The example site answers only its own names (444 for
    /// any other), and durin answers the console only under a loopback name or
    /// DURIN_CONSOLE_ORIGIN.
    func testTheConsoleAnswersOnlyUnderItsOwnName() throws {
        let rebound = RawHTTP(port: stack.port, host: "rebind.example")
        for path in ["\(console)/", "/internal/durin/issue/", "/api/auth/login/"] {
            XCTAssertThrowsError(
                try rebound.call("POST", path, json: #"{"username":"olive","password":"olive-pw"}"#),
                "\(path): nginx closes another name without an answer"
            ) { error in
                XCTAssertTrue("\(error)".contains("0 bytes"), "\(error)")
            }
        }
        // A name nginx serves, but an Origin that is another: refused before sign-in.
        let local = RawHTTP(port: stack.port, host: "localhost")
        var r = try local.call(
            "POST", "\(console)/api/session", json: #"{"username":"olive","password":"olive-pw"}"#,
            extra: [("Origin", "http://127.0.0.1")])
        XCTAssertEqual(r.status, 403, r.text)
        XCTAssertEqual(r.detail, "Cross-origin request refused.")
        r = try http.call(
            "POST", "\(console)/api/session", json: #"{"username":"olive","password":"olive-pw"}"#,
            extra: [("Origin", "null")])
        XCTAssertEqual(r.status, 403, "an opaque origin")
    }
}

/// DURIN_CONSOLE_ORIGIN: the console answers under that origin alone, whatever
/// other names nginx serves (here `localhost`, which the example site serves).
final class ConsoleOriginTests: SharedStackTestCase {
    override class var settings: [String: String] { ["DURIN_CONSOLE_ORIGIN": "http://127.0.0.1"] }
    override class func prepare(_ stack: Stack) throws {
        try stack.addUser("olive", password: "olive-pw", extra: ["--staff"])
    }

    func testOnlyTheConfiguredOriginReachesTheConsole() throws {
        let other = RawHTTP(port: stack.port, host: "localhost")
        for (method, path) in [
            ("GET", "/durin/console/"), ("GET", "/durin/console/console.js"), ("POST", "/durin/console/api/session"),
            ("GET", "/durin/console/api/me"),
        ] {
            let r = try other.call(
                method, path, json: method == "POST" ? #"{"username":"olive","password":"olive-pw"}"# : nil,
                extra: [("Origin", "http://localhost"), ("Sec-Fetch-Site", "same-origin")])
            XCTAssertEqual(r.status, 421, "\(path): \(r.text)")
            XCTAssertEqual(r.detail, "The console answers only at its own address.")
            XCTAssertNil(r.header("Set-Cookie"))
        }
        let r = try http.call(
            "POST", "/durin/console/api/session", json: #"{"username":"olive","password":"olive-pw"}"#,
            extra: [("Origin", "http://127.0.0.1"), ("Sec-Fetch-Site", "same-origin")])
        XCTAssertEqual(r.status, 200, r.text)
    }
}
