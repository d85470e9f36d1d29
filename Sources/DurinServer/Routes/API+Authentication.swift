import DurinCore
import DurinHTTP
package import DurinStore

/// durin's TokenAuthentication: the token check every token route starts with.
extension API {
    /// The request's token, checked: no credentials is "not provided", not an error
    /// of the header. With `locationRules` (verify/), the location's client rules and
    /// throttle apply in the same round trip, and its cache when it asks for one.
    /// A token in the Authorization header wins; without one, a location with
    /// `$durin_cookie on` takes the session cookie's.
    func authenticate(_ context: RequestContext, locationRules: Bool) throws -> TokenRecord {
        let request = context.request
        let token: String
        switch try AuthorizationHeader.parse(request.authorization, schemes: config.authSchemes) {
        case .token(let sent): token = sent
        case .none:
            guard let sent = try sessionCookieToken(context) else { throw APIError.notAuthenticated }
            token = sent
        }
        let digest = Token.digest(of: token)
        let d = request.directives
        guard locationRules else {
            return try authenticate(digest: digest, rules: .none, from: request.remoteAddress, agent: request.userAgent)
        }
        if d.cache && !d.throttle { return try authenticateCached(context, digest: digest, rules: rules(d)) }
        return try authenticate(digest: digest, rules: rules(d), from: request.remoteAddress, agent: request.userAgent)
    }

    /// The durin_session cookie's token, where the location takes it. A request that
    /// could change something (an unsafe method, a WebSocket) must show it came from
    /// an allowed origin: else a page of any site could make a signed-in browser act.
    func sessionCookieToken(_ context: RequestContext) throws(APIError) -> String? {
        let request = context.request
        guard request.directives.cookie, let browser = request.browser, let token = try BrowserSession.token(browser) else {
            return nil
        }
        if BrowserSession.needsOriginProof(method: browser.method ?? request.method, upgrade: browser.upgrade),
            !BrowserSession.provesAllowedOrigin(browser, allowed: config.cookieOrigins)
        {
            context.logger.notice(
                "session cookie refused: the request did not come from an allowed origin",
                metadata: ["origin": .string(browser.origin ?? "-"), "sec_fetch_site": .string(browser.fetchSite ?? "-")])
            throw .crossOrigin
        }
        return token
    }

    /// Whether the request was authenticated by its session cookie (its header had
    /// no token): its answer then sets or clears the cookie.
    func authenticatedByCookie(_ context: RequestContext) -> Bool {
        let request = context.request
        guard request.directives.cookie, let browser = request.browser,
            case .none? = try? AuthorizationHeader.parse(request.authorization, schemes: config.authSchemes)
        else { return false }
        return ((try? BrowserSession.token(browser)) ?? nil) != nil
    }

    /// A refresh by cookie gives the cookie the token's new lifetime.
    func renewedSessionCookie(_ context: RequestContext, expiry: EpochMillis?) -> [(String, String)] {
        guard authenticatedByCookie(context), let browser = context.request.browser,
            let token = (try? BrowserSession.token(browser)) ?? nil
        else { return [] }
        return [("Set-Cookie", BrowserSession.setCookie(token, maxAge: secondsLeft(expiry, context), browser))]
    }

    /// A logout by cookie makes the browser forget it.
    func clearedSessionCookie(_ context: RequestContext) -> [(String, String)] {
        guard authenticatedByCookie(context), let browser = context.request.browser else { return [] }
        return [("Set-Cookie", BrowserSession.clearCookie(browser))]
    }

    /// A cookie's Max-Age for a token expiring at `expiry` (nil: never).
    func secondsLeft(_ expiry: EpochMillis?, _ context: RequestContext) -> Int64? {
        expiry.map { ($0 - context.now) / 1000 }
    }

    func rules(_ d: HTTPRequest.Directives) -> AccessRules {
        AccessRules(allowClients: d.allowClients, denyClients: d.denyClients, throttle: d.throttle, defaultRate: config.throttleRate)
    }

    /// The token check (plus a location's client rules and throttle, in the same
    /// round trip), with durin's errors.
    /// `address`, `agent`: the request's, naming where a replaced token was reused
    /// (two strings, not the request: a check copies nothing it does not need).
    package func authenticate(digest: String, rules: AccessRules, from address: String? = nil, agent: String? = nil) throws
        -> TokenRecord
    {
        switch try tokens.authenticate(digest: digest, rules: rules, from: address, agent: agent) {
        case .valid(let record): return record
        case .expired: throw APIError.tokenExpired
        case .userInactive: throw APIError.userInactive
        case .invalid: throw APIError.invalidToken
        case .denied: throw APIError.permissionDenied
        case .throttled(let wait, _, _): throw APIError.throttled(waitSeconds: wait)
        }
    }

    /// The cached path: a hit costs no Redis round trip. A miss reads the token with
    /// tracked plain reads and caches it; anything but a valid token (and any Redis
    /// trouble) takes the full path, which gives durin's exact answer.
    func authenticateCached(_ context: RequestContext, digest: String, rules: AccessRules) throws -> TokenRecord {
        let now = context.now
        switch cachedReader?.record(digest: digest, now: now) ?? .bypassed {
        case .hit(let record):
            slot?.cacheHits.add()
            return tokens.noteUse(try check(record, rules), now: now)
        case .fetched(let record):
            slot?.cacheMisses.add()
            return tokens.noteUse(try check(record, rules), now: now)
        case .miss:
            slot?.cacheMisses.add()
            return try authenticate(digest: digest, rules: rules, from: context.request.remoteAddress, agent: context.request.userAgent)
        case .bypassed:
            return try authenticate(digest: digest, rules: rules, from: context.request.remoteAddress, agent: context.request.userAgent)
        }
    }

    /// A location's client lists, for a token served from the cache (a console
    /// session is no token here, as in the store's own check).
    func check(_ record: TokenRecord, _ rules: AccessRules) throws(APIError) -> TokenRecord {
        guard tokens.admits(client: record.client, rules) else { throw .invalidToken }
        guard rules.permits(client: record.client) else { throw .permissionDenied }
        return record
    }
}
