import DurinCore
import DurinHTTP
import DurinStore

/// refresh/, logout/, logoutall/, verify/ and ready/.
extension API {
    func refresh(_ context: RequestContext, _ auth: TokenRecord) throws -> HTTPResponse {
        guard let renewed = try tokens.refresh(digest: auth.digest, now: context.now) else {
            throw APIError.invalidToken  // revoked between the check and the renewal
        }
        return .json(200, ["expiry": expiryJSON(renewed.expiry)], headers: renewedSessionCookie(context, expiry: renewed.expiry))
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
    func verify(_ context: RequestContext, _ auth: TokenRecord) -> HTTPResponse {
        var headers = [("X-Durin-User", auth.user), ("X-Durin-Client", auth.client)]
        if let expiry = auth.expiry { headers.append(("X-Durin-Expiry", config.expiryFormat.format(expiry))) }
        let d = context.request.directives
        if d.cookie && !d.forwardToken, let browser = context.request.browser {
            let others = BrowserSession.upstreamCookies(browser)
            if !others.isEmpty { headers.append(("X-Durin-Cookie", others)) }
        }
        return .json(
            200, ["user": .string(auth.user), "client": .string(auth.client), "expiry": expiryJSON(auth.expiry)],
            headers: headers)
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
