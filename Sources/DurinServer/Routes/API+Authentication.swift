package import DurinCore
package import DurinHTTP
package import DurinStore

/// durin's TokenAuthentication: the token check every token route starts with.
extension API {
    /// The request's token, checked: no credentials is "not provided", not an error
    /// of the header. With `locationRules` (verify/), the location's client rules and
    /// throttle apply in the same round trip, and its cache when it asks for one.
    func authenticate(_ context: RequestContext, locationRules: Bool) throws -> TokenRecord {
        let request = context.request
        guard case .token(let token) = try AuthorizationHeader.parse(request.authorization, schemes: config.authSchemes) else {
            throw APIError.notAuthenticated
        }
        let digest = Token.digest(of: token)
        let d = request.directives
        guard locationRules else { return try authenticate(digest: digest, rules: .none) }
        if d.cache && !d.throttle { return try authenticateCached(context, digest: digest, rules: rules(d)) }
        return try authenticate(digest: digest, rules: rules(d))
    }

    func rules(_ d: HTTPRequest.Directives) -> AccessRules {
        AccessRules(allowClients: d.allowClients, denyClients: d.denyClients, throttle: d.throttle, defaultRate: config.throttleRate)
    }

    /// The token check (plus a location's client rules and throttle, in the same
    /// round trip), with durin's errors.
    package func authenticate(digest: String, rules: AccessRules) throws -> TokenRecord {
        switch try tokens.authenticate(digest: digest, rules: rules) {
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
            return try authenticate(digest: digest, rules: rules)
        case .bypassed:
            return try authenticate(digest: digest, rules: rules)
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
