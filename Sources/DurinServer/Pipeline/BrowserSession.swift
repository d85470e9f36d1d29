package import DurinCore
package import DurinHTTP

/// A browser's session: the token of a cookie client in the `durin_session`
/// cookie, which scripts cannot read (HttpOnly) and other sites' pages do not send
/// along with their subresource requests or POSTs (SameSite=Lax). What a cookie
/// cannot prevent by itself, a page of another origin making the browser act
/// (a form POST, a WebSocket, a top-level navigation with an unsafe method), is
/// refused here: such a request must show it came from an allowed origin.
package enum BrowserSession {
    package static let cookieName = "durin_session"

    /// Methods a browser sends only when a page asks it to change something; a
    /// WebSocket upgrade (a GET) opens a channel that can, so it counts too.
    package static func needsOriginProof(method: String, upgrade: Bool) -> Bool {
        if upgrade { return true }
        switch method.uppercased() {
        case "GET", "HEAD", "OPTIONS": return false
        default: return true
        }
    }

    /// Whether the browser says the request came from this origin or one of
    /// `allowed` (DURIN_COOKIE_ORIGINS). `Origin` decides when sent (browsers send
    /// it with every POST, PUT, PATCH, DELETE and WebSocket, and `null` from an
    /// opaque page never passes); else `Sec-Fetch-Site` must be `same-origin`.
    /// A request with neither proves nothing: no browser leaves both out of an
    /// unsafe request, so a client that does gets the Authorization header's way.
    package static func provesAllowedOrigin(_ browser: HTTPRequest.BrowserContext, allowed: [WebOrigin]) -> Bool {
        if let origin = browser.origin {
            guard let sent = WebOrigin(origin) else { return false }
            if let here = ownOrigin(browser), sent == here { return true }
            return allowed.contains(sent)
        }
        return browser.fetchSite == "same-origin"
    }

    /// The origin the request reached nginx under (its scheme and Host).
    static func ownOrigin(_ browser: HTTPRequest.BrowserContext) -> WebOrigin? {
        WebOrigin(scheme: browser.scheme, authority: browser.host ?? "")
    }

    /// The session's token from the request's cookies: nil when none was sent.
    /// Two or more is refused: one may have been planted for a parent domain by a
    /// sibling site, and acting on either could act as the wrong user.
    package static func token(_ browser: HTTPRequest.BrowserContext) throws(APIError) -> String? {
        let sent = CookieHeader.values(named: cookieName, in: browser.cookie)
        guard sent.count <= 1 else { throw .conflictingBrowserSessions }
        guard let token = sent.first, !token.isEmpty else { return nil }
        return token
    }

    /// `Set-Cookie` for a session whose token lives `maxAge` seconds more (nil: a
    /// token that never expires, kept until the browser closes). `Secure` always,
    /// except over plain http to a loopback name (`make run`): browsers refuse a
    /// Secure cookie from an http page, and a loopback request never leaves the
    /// machine.
    package static func setCookie(_ token: String, maxAge: Int64?, _ browser: HTTPRequest.BrowserContext) -> String {
        var cookie = "\(cookieName)=\(token); HttpOnly\(secure(browser)); SameSite=Lax; Path=/"
        if let maxAge { cookie += "; Max-Age=\(max(0, maxAge))" }
        return cookie
    }

    /// `Set-Cookie` that makes the browser forget the session.
    package static func clearCookie(_ browser: HTTPRequest.BrowserContext) -> String {
        "\(cookieName)=; HttpOnly\(secure(browser)); SameSite=Lax; Path=/; Max-Age=0"
    }

    private static func secure(_ browser: HTTPRequest.BrowserContext) -> String {
        browser.scheme == "http" && (ownOrigin(browser)?.isLoopback ?? false) ? "" : "; Secure"
    }

    /// The cookies an upstream may see: all but the session's.
    package static func upstreamCookies(_ browser: HTTPRequest.BrowserContext) -> String {
        CookieHeader.removing(named: cookieName, from: browser.cookie)
    }
}
