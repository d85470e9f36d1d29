import DurinCore
import DurinHTTP
import DurinStore

/// refresh/, logout/, logoutall/, verify/ and ready/.
extension API {
    /// durin's refresh: the same token, a new expiry. A client that rotates on
    /// refresh gets a new token instead (`{"token", "expiry"}`; by cookie, in the
    /// cookie), the old one working for the client's reuse grace.
    func refresh(_ context: RequestContext, _ auth: TokenRecord) throws -> HTTPResponse {
        guard let refreshed = try tokens.refresh(digest: auth.digest, now: context.now) else {
            throw APIError.invalidToken  // revoked between the check and the renewal
        }
        let expiry = refreshed.record.expiry
        guard let token = refreshed.token else {
            return .json(200, ["expiry": expiryJSON(expiry)], headers: renewedSessionCookie(context, expiry: expiry))
        }
        context.logger.info(
            "token rotated", metadata: ["user": .string(auth.user), "client": .string(auth.client), "session": "\(auth.id)"])
        if authenticatedByCookie(context), let browser = context.request.browser {
            let cookie = BrowserSession.setCookie(token.value, maxAge: secondsLeft(expiry, context), browser)
            return .json(200, ["expiry": expiryJSON(expiry)], headers: [("Set-Cookie", cookie)])
        }
        return .json(200, ["token": .string(token.value), "expiry": expiryJSON(expiry)])
    }

    func logout(_ context: RequestContext, _ auth: TokenRecord) throws -> HTTPResponse {
        if try tokens.revoke(digest: auth.digest, reason: "logout") != nil {
            context.slot?.tokensRevoked(clients: [auth.client])
        }
        context.logger.info("logout", metadata: ["user": .string(auth.user), "client": .string(auth.client), "session": "\(auth.id)"])
        return HTTPResponse(status: 204, headers: clearedSessionCookie(context))
    }

    func logoutAll(_ context: RequestContext, _ auth: TokenRecord) throws -> HTTPResponse {
        let revoked = try tokens.revokeAll(user: auth.user, reason: "logoutall")
        context.slot?.tokensRevoked(clients: revoked.lazy.map(\.client))
        context.logger.info("logoutall", metadata: ["user": .string(auth.user), "revoked": "\(revoked.count)"])
        return HTTPResponse(status: 204, headers: clearedSessionCookie(context))
    }

    /// For nginx `auth_request`: who the token belongs to. The location's client
    /// rules and throttle were applied with the token check. At a cookie location the
    /// upstream gets the request's other cookies (X-Durin-Cookie), never the session's.
    /// The user's record is read (one more Redis read) only where something needs
    /// it: a location that requires staff, or DURIN_UPSTREAM_FIELDS.
    func verify(_ context: RequestContext, _ auth: TokenRecord) throws -> HTTPResponse {
        var headers = [("X-Durin-User", auth.user), ("X-Durin-Client", auth.client), ("X-Durin-Session", String(auth.id))]
        if let expiry = auth.expiry { headers.append(("X-Durin-Expiry", config.expiryFormat.format(expiry))) }
        let d = context.request.directives
        let now = context.now
        // An assertion signed for this token and audience before needs no read.
        let signed = settings.signedAssertions
        var assertion = d.assertionAudience.flatMap { signed.cached(digest: auth.digest, audience: $0, now: now) }
        let signs = d.assertionAudience != nil && assertion == nil
        if d.requireStaff || !config.upstreamFields.isEmpty || signs {
            let fields = signs ? Array(Set(config.upstreamFields + config.assertionFields)) : config.upstreamFields
            let details = try tokens.userDetails(of: auth.user, fields: fields)
            if d.requireStaff && !details.isStaff {
                context.logger.notice("refused: the location requires staff", metadata: ["user": .string(auth.user)])
                throw APIError.permissionDenied
            }
            if signs, let audience = d.assertionAudience {
                assertion = try assertions.sign(
                    auth, audience: audience, details: details, config: config, tokens: tokens, now: now, into: signed)
            }
            headers.append(("X-Durin-Staff", details.isStaff ? "true" : "false"))
            for field in config.upstreamFields {
                guard let value = details.fields[field] else { continue }
                // A value nginx could read as the end of a header line (or a second
                // one) is not passed at all.
                guard value.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else {
                    context.logger.warning(
                        "profile field not passed on: it holds a control character",
                        metadata: ["user": .string(auth.user), "field": .string(field)])
                    continue
                }
                headers.append((Self.upstreamHeader(field), value))
            }
        }
        if let assertion { headers.append(("X-Durin-Assertion", assertion)) }
        if d.cookie && !d.forwardToken, let browser = context.request.browser {
            let others = BrowserSession.upstreamCookies(browser)
            if !others.isEmpty { headers.append(("X-Durin-Cookie", others)) }
        }
        return .json(
            200, ["user": .string(auth.user), "client": .string(auth.client), "expiry": expiryJSON(auth.expiry)],
            headers: headers)
    }

    /// `email` → `X-Durin-Email`, `first_name` → `X-Durin-First-Name`.
    static func upstreamHeader(_ field: String) -> String {
        "X-Durin-" + field.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }.joined(separator: "-")
    }

    /// The public keys of the identity assertions (RFC 7517's JWK Set): the signing
    /// key, and retired ones while an assertion they signed may still be alive.
    func jwks(_ context: RequestContext) throws -> HTTPResponse {
        let keys = try assertions.published(tokens, now: context.now, lifetime: config.assertionTTL)
        let set: JSONValue = .object([("keys", .array(keys.map { key in .object(key.publicJWK.map { ($0.0, .string($0.1)) }) }))])
        return .json(200, set, headers: [("Cache-Control", "public, max-age=60")])
    }

    /// For load balancers and systemd: Redis answers and the scripts are loaded.
    func ready(_ context: RequestContext) -> HTTPResponse {
        do {
            _ = try tokens.ready()
            return .json(200, ["redis": "ok"])
        } catch {
            context.logger.warning("not ready", metadata: ["error": .string(error.description)])
            return .json(503, ["redis": "unavailable", "detail": "Token store unavailable."], headers: [("Retry-After", "1")])
        }
    }
}
