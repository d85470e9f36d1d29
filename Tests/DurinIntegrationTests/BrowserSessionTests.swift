import Foundation
import XCTest

/// Browser sessions through nginx and the example site: a cookie client's login
/// sets the durin_session cookie (HttpOnly, SameSite=Lax) and no script sees the
/// token; locations with `$durin_cookie on` take the cookie; a request that could
/// change something must come from the site's own pages; the upstream never sees
/// the session's cookie.
final class BrowserSessionTests: SharedStackTestCase {
    override class func prepare(_ stack: Stack) throws {
        try stack.durinctl(["client", "add", "browser", "--cookie"]).checked()
        try stack.addClient("web")
        try stack.addUser("alice", password: "alice-pw")
        try stack.addUser("bob", password: "bob-pw")
    }

    /// Requests as a browser sends them: the Host with the port, so the page's
    /// origin is http://127.0.0.1:<port>.
    var browser: RawHTTP { RawHTTP(port: stack.port, host: "127.0.0.1:\(stack.port)") }
    var ownOrigin: String { "http://127.0.0.1:\(stack.port)" }

    /// Signs in as the sign-in page does and returns the cookie's value.
    func signIn(_ user: String, _ password: String) throws -> String {
        let r = try browser.call(
            "POST", "/api/auth/login/", json: #"{"username":"\#(user)","password":"\#(password)","client":"browser"}"#,
            extra: [("Origin", ownOrigin)])
        XCTAssertEqual(r.status, 200, r.text)
        let cookie = try XCTUnwrap(r.header("Set-Cookie"), "no cookie: \(r.headers)")
        return String(cookie.prefix { $0 != ";" }.dropFirst("durin_session=".count))
    }

    func testACookieClientsLoginSetsTheCookieAndShowsNoToken() throws {
        let r = try browser.call(
            "POST", "/api/auth/login/", json: #"{"username":"alice","password":"alice-pw","client":"browser"}"#,
            extra: [("Origin", ownOrigin)])
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertNil(r.object["token"], "the token reached the page's scripts: \(r.text)")
        XCTAssertNotNil(r.object["expiry"] as? String)
        let cookie = try XCTUnwrap(r.header("Set-Cookie"))
        XCTAssertTrue(cookie.hasPrefix("durin_session="), cookie)
        for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
            XCTAssertTrue(cookie.contains(attribute), "\(attribute) missing: \(cookie)")
        }
        // Plain http to a loopback name (make run): a Secure cookie would be dropped.
        XCTAssertFalse(cookie.contains("Secure"), cookie)

        // A client that is not marked for browsers gets durin's answer, token included.
        let web = try browser.call(
            "POST", "/api/auth/login/", json: #"{"username":"alice","password":"alice-pw","client":"web"}"#,
            extra: [("Origin", ownOrigin)])
        XCTAssertNotNil(web.object["token"] as? String, web.text)
        XCTAssertNil(web.header("Set-Cookie"))
    }

    /// A login posted by another site's page would sign the browser in as the
    /// attacker: refused, and no cookie is set. So is one that proves nothing.
    func testACookieLoginFromAnotherOriginIsRefused() throws {
        let body = #"{"username":"alice","password":"alice-pw","client":"browser"}"#
        for extra in [[("Origin", "https://evil.example")], [("Origin", "null")], [("Sec-Fetch-Site", "cross-site")], []] {
            let r = try browser.call("POST", "/api/auth/login/", json: body, extra: extra)
            XCTAssertEqual(r.status, 403, "\(extra): \(r.text)")
            XCTAssertEqual(r.detail, "Cross-origin request refused.")
            XCTAssertNil(r.header("Set-Cookie"))
        }
        let same = try browser.call("POST", "/api/auth/login/", json: body, extra: [("Sec-Fetch-Site", "same-origin")])
        XCTAssertEqual(same.status, 200, same.text)
    }

    func testTheCookieOpensACookieLocationAndNothingElse() throws {
        let session = try signIn("alice", "alice-pw")
        let cookie = ("Cookie", "theme=dark; durin_session=\(session); lang=en")
        let page = try browser.call("GET", "/app/page", extra: [cookie])
        XCTAssertEqual(page.status, 200, page.text)
        XCTAssertEqual(page.object["user"] as? String, "alice")
        XCTAssertEqual(page.object["client"] as? String, "browser")
        // The upstream gets the other cookies, never the session's.
        XCTAssertEqual(page.object["cookie"] as? String, "theme=dark; lang=en")
        // The session id always; whether the user is staff only where the check reads
        // the user's record (DURIN_UPSTREAM_FIELDS or a staff-only location).
        XCTAssertFalse((page.object["session"] as? String ?? "").isEmpty, page.text)
        XCTAssertEqual(page.object["staff"] as? String, "")

        // A location that did not opt in takes no cookie.
        let ping = try browser.call("GET", "/api/ping/", extra: [cookie])
        XCTAssertEqual(ping.status, 401, ping.text)
        XCTAssertEqual(ping.detail, "Authentication credentials were not provided.")

        // The API's routes take it where the location allows it.
        let sessions = try browser.call("GET", "/api/auth/sessions/", extra: [cookie])
        XCTAssertEqual(sessions.status, 200, sessions.text)

        // An unknown cookie is no session: a POST gets durin's 401.
        let forged = try browser.call(
            "POST", "/app/page", extra: [("Cookie", "durin_session=not-a-token"), ("Origin", ownOrigin)])
        XCTAssertEqual(forged.status, 401)
        XCTAssertEqual(forged.detail, "Invalid token.")
    }

    /// durin-signin.conf: a browser that navigates to a page without a session goes
    /// to the sign-in page with the way back; an API call or a POST gets the 401.
    func testABrowserWithoutASessionIsSentToTheSignInPage() throws {
        for (path, cookie) in [("/app/page", nil), ("/app/page?x=1&y=%2F", "durin_session=not-a-token")] {
            let r = try browser.call("GET", path, extra: cookie.map { [("Cookie", $0)] } ?? [])
            XCTAssertEqual(r.status, 302, "\(path): \(r.text)")
            let expected = "/api/auth/signin/?next=" + path.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            // nginx makes the address absolute with the request's own Host.
            XCTAssertEqual(r.header("Location"), ownOrigin + expected)
        }
        let bad = try browser.call("GET", "/app/page", token: "not-a-token")
        XCTAssertEqual(bad.status, 401, bad.text)
        XCTAssertEqual(bad.detail, "Invalid token.")
        let post = try browser.call("POST", "/app/page", extra: [("Origin", ownOrigin)])
        XCTAssertEqual(post.status, 401, post.text)
        XCTAssertEqual(post.detail, "Authentication credentials were not provided.")
    }

    /// The sign-in page: durin's CSP, no inline script, its own files, and a way
    /// back that is only ever a path of this site.
    func testTheSignInPageSendsBackOnlyToThisSite() throws {
        for (next, back) in [
            ("%2Fapp%2Fpage%3Fx%3D1", "/app/page?x=1"),
            ("https%3A%2F%2Fevil.example%2F", "/"),
            ("%2F%2Fevil.example", "/"),
            ("%2F%5Cevil.example", "/"),
            ("%2Fapp%0D%0ALocation%3A%20x", "/"),
            ("%2Fa%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/a&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"),
        ] {
            let page = try browser.call("GET", "/api/auth/signin/?next=\(next)")
            XCTAssertEqual(page.status, 200)
            XCTAssertTrue(page.text.contains(#"data-next="\#(back)""#), "\(next): \(page.text)")
            XCTAssertFalse(page.text.contains("<script>"), "an inline script")
        }
        let page = try browser.call("GET", "/api/auth/signin/")
        XCTAssertEqual(page.header("Content-Type"), "text/html; charset=utf-8")
        XCTAssertTrue(page.header("Content-Security-Policy")?.contains("script-src 'self'") ?? false)
        XCTAssertEqual(page.header("X-Frame-Options"), "DENY")
        XCTAssertTrue(page.text.contains(#"data-client="browser""#), page.text)
        XCTAssertEqual(try browser.call("GET", "/api/auth/signin/signin.js").header("Content-Type"), "text/javascript; charset=utf-8")
        XCTAssertEqual(try browser.call("GET", "/api/auth/signin/signin.css").status, 200)
        XCTAssertEqual(try browser.call("GET", "/api/auth/signin/theme.css").status, 404, "no DURIN_SIGNIN_CSS")
        XCTAssertEqual(try browser.call("GET", "/api/auth/signin/other.js").status, 404)
    }

    /// The header wins over the cookie; two session cookies (one planted for a
    /// parent domain) are refused rather than guessed between.
    func testTheHeaderWinsAndTwoSessionCookiesAreRefused() throws {
        let alice = try signIn("alice", "alice-pw")
        let bob = try stack.login("bob", "bob-pw", client: "web")
        let both = try browser.call("GET", "/app/page", token: bob, extra: [("Cookie", "durin_session=\(alice)")])
        XCTAssertEqual(both.object["user"] as? String, "bob", both.text)

        let two = try browser.call("GET", "/app/page", extra: [("Cookie", "durin_session=\(alice); durin_session=\(alice)")])
        XCTAssertEqual(two.status, 400, two.text)
        XCTAssertEqual(two.detail, "More than one durin_session cookie was sent: clear this site's cookies and sign in again.")
    }

    /// A page of another site can make the browser send the cookie with a top-level
    /// form POST or a WebSocket: anything that could change something must show it
    /// came from the site's own pages, and a refused request never reaches the
    /// upstream.
    func testUnsafeRequestsAndWebSocketsMustComeFromTheSitesOwnPages() throws {
        let session = try signIn("alice", "alice-pw")
        let cookie = ("Cookie", "durin_session=\(session)")
        let refused: [(String, [(String, String)])] = [
            ("POST", [("Origin", "https://evil.example")]),
            ("POST", [("Origin", "null")]),
            ("POST", [("Sec-Fetch-Site", "same-site")]),
            ("POST", []),
            ("DELETE", [("Origin", "http://127.0.0.1:1")]),
            ("GET", [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Origin", "https://evil.example")]),
        ]
        for (method, extra) in refused {
            let r = try browser.call(method, "/app/page", extra: [cookie] + extra)
            XCTAssertEqual(r.status, 403, "\(method) \(extra): \(r.text)")
            XCTAssertEqual(r.detail, "Cross-origin request refused.")
            XCTAssertNil(r.object["user"], "the upstream saw it")
        }
        let allowed: [(String, [(String, String)])] = [
            ("POST", [("Origin", ownOrigin)]),
            ("POST", [("Sec-Fetch-Site", "same-origin")]),
            ("GET", [("Origin", "https://evil.example")]),  // a navigation: reads nothing it may not
            ("GET", [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Origin", ownOrigin)]),
        ]
        for (method, extra) in allowed {
            let r = try browser.call(method, "/app/page", extra: [cookie] + extra)
            XCTAssertEqual(r.object["user"] as? String, "alice", "\(method) \(extra): \(r.status) \(r.text)")
        }
        // The Authorization header needs no proof: no browser sends it by itself.
        let bob = try stack.login("bob", "bob-pw", client: "web")
        let api = try browser.call("POST", "/app/page", token: bob, extra: [("Origin", "https://evil.example")])
        XCTAssertEqual(api.object["user"] as? String, "bob", api.text)
    }

    /// refresh/ renews the cookie's lifetime; logout/ ends the session and clears
    /// the cookie; both need the site's own origin.
    func testRefreshAndLogoutByCookie() throws {
        let session = try signIn("alice", "alice-pw")
        let cookie = ("Cookie", "durin_session=\(session)")
        let foreign = try browser.call("POST", "/api/auth/logout/", extra: [cookie, ("Origin", "https://evil.example")])
        XCTAssertEqual(foreign.status, 403, foreign.text)
        XCTAssertEqual(try browser.call("GET", "/app/page", extra: [cookie]).status, 200, "a refused logout logged out")

        let refreshed = try browser.call("POST", "/api/auth/refresh/", extra: [cookie, ("Origin", ownOrigin)])
        XCTAssertEqual(refreshed.status, 200, refreshed.text)
        XCTAssertEqual(refreshed.object.keys.sorted(), ["expiry"])
        let renewed = try XCTUnwrap(refreshed.header("Set-Cookie"))
        XCTAssertTrue(renewed.hasPrefix("durin_session=\(session);"), renewed)
        XCTAssertTrue(renewed.contains("Max-Age="), renewed)

        let out = try browser.call("POST", "/api/auth/logout/", extra: [cookie, ("Origin", ownOrigin)])
        XCTAssertEqual(out.status, 204, out.text)
        let cleared = try XCTUnwrap(out.header("Set-Cookie"))
        XCTAssertTrue(cleared.hasPrefix("durin_session=;") && cleared.contains("Max-Age=0"), cleared)
        // The page now sends the browser to sign in again.
        XCTAssertEqual(try browser.call("GET", "/app/page", extra: [cookie]).status, 302)
    }

    /// `client set --no-cookie` turns a client's logins back into durin's.
    func testAClientCanBeTurnedBackToTokens() throws {
        try stack.durinctl(["client", "add", "kiosk", "--cookie"]).checked()
        let show = try stack.durinctl(["client", "show", "kiosk", "--json"])
        XCTAssertTrue(show.stdout.contains(#""cookie": true"#) || show.stdout.contains(#""cookie":true"#), show.stdout)
        try stack.durinctl(["client", "set", "kiosk", "--no-cookie"]).checked()
        let r = try browser.call(
            "POST", "/api/auth/login/", json: #"{"username":"bob","password":"bob-pw","client":"kiosk"}"#,
            extra: [("Origin", ownOrigin)])
        XCTAssertNotNil(r.object["token"] as? String, r.text)
        XCTAssertNil(r.header("Set-Cookie"))
    }
}
