import DurinCore
import DurinHTTP
import XCTest

@testable import DurinServer

/// The browser session's rules, without a browser: which requests must prove where
/// they came from, what proves it, and the cookie's attributes.
final class BrowserSessionRuleTests: XCTestCase {
    func browser(origin: String? = nil, fetchSite: String? = nil, host: String = "app.example.com", scheme: String = "https")
        -> HTTPRequest.BrowserContext
    {
        var b = HTTPRequest.BrowserContext()
        b.origin = origin
        b.fetchSite = fetchSite
        b.host = host
        b.scheme = scheme
        return b
    }

    func testOnlyWhatCouldChangeSomethingNeedsProof() {
        for method in ["GET", "HEAD", "OPTIONS", "get"] {
            XCTAssertFalse(BrowserSession.needsOriginProof(method: method, upgrade: false), method)
        }
        for method in ["POST", "PUT", "PATCH", "DELETE", "PROPFIND", "post"] {
            XCTAssertTrue(BrowserSession.needsOriginProof(method: method, upgrade: false), method)
        }
        XCTAssertTrue(BrowserSession.needsOriginProof(method: "GET", upgrade: true), "a WebSocket")
    }

    func testTheOriginDecidesWhenSentElseSecFetchSite() {
        let allowed = [WebOrigin("https://www.example.com")!]
        let passes: [HTTPRequest.BrowserContext] = [
            browser(origin: "https://app.example.com"),
            browser(origin: "https://APP.example.com:443"),
            browser(origin: "https://www.example.com", fetchSite: "same-site"),
            browser(fetchSite: "same-origin"),
            browser(origin: "http://127.0.0.1:8080", host: "127.0.0.1:8080", scheme: "http"),
        ]
        for b in passes { XCTAssertTrue(BrowserSession.provesAllowedOrigin(b, allowed: allowed), "\(b)") }
        let fails: [HTTPRequest.BrowserContext] = [
            browser(origin: "https://evil.example"),
            browser(origin: "https://evil.example", fetchSite: "same-origin"),  // the Origin decides
            browser(origin: "null"),
            browser(origin: "http://app.example.com"),  // another scheme is another origin
            browser(origin: "https://app.example.com:8443"),
            browser(origin: "https://app.example.com.evil.example"),
            browser(fetchSite: "same-site"),
            browser(fetchSite: "cross-site"),
            browser(fetchSite: "none"),
            browser(),
        ]
        for b in fails { XCTAssertFalse(BrowserSession.provesAllowedOrigin(b, allowed: allowed), "\(b)") }
        // A Host that is no origin (nginx passes what the client sent) proves nothing.
        XCTAssertFalse(BrowserSession.provesAllowedOrigin(browser(origin: "https://x", host: "x/y"), allowed: []))
    }

    func testTheCookieIsSecureButOnPlainHTTPToALoopbackName() {
        let tls = BrowserSession.setCookie("t0k", maxAge: 3600, browser())
        XCTAssertEqual(tls, "durin_session=t0k; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=3600")
        let local = BrowserSession.setCookie("t0k", maxAge: nil, browser(host: "127.0.0.1:8080", scheme: "http"))
        XCTAssertEqual(local, "durin_session=t0k; HttpOnly; SameSite=Lax; Path=/")
        // Plain http under a real name: Secure all the same (the browser then keeps
        // nothing, rather than a session that travels in clear).
        XCTAssertTrue(BrowserSession.setCookie("t", maxAge: 1, browser(scheme: "http")).contains("; Secure"))
        XCTAssertEqual(
            BrowserSession.clearCookie(browser()), "durin_session=; HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=0")
        XCTAssertTrue(BrowserSession.setCookie("t", maxAge: -5, browser()).hasSuffix("Max-Age=0"))
    }

    func testTheSessionCookieIsReadOnceAndKeptFromTheUpstream() throws {
        var b = browser()
        b.cookie = "a=1; durin_session=tok; b=2"
        XCTAssertEqual(try BrowserSession.token(b), "tok")
        XCTAssertEqual(BrowserSession.upstreamCookies(b), "a=1; b=2")
        b.cookie = "durin_session=tok"
        XCTAssertEqual(BrowserSession.upstreamCookies(b), "")
        b.cookie = "xdurin_session=tok; durin_session_old=1"
        XCTAssertNil(try BrowserSession.token(b))
        XCTAssertEqual(BrowserSession.upstreamCookies(b), "xdurin_session=tok; durin_session_old=1")
        b.cookie = "durin_session=; a=1"
        XCTAssertNil(try BrowserSession.token(b))
        b.cookie = "durin_session=one;durin_session=two"
        XCTAssertThrowsError(try BrowserSession.token(b)) { XCTAssertEqual($0 as? APIError, .conflictingBrowserSessions) }
    }
}
