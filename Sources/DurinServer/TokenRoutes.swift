import DurinCore
import DurinHTTP
import DurinStore

/// refresh/, logout/, logoutall/, verify/ and ready/.
extension API {
    func refresh(_ auth: TokenRecord) throws(APIError) -> HTTPResponse {
        guard let renewed = try store({ () throws(StoreError) in try tokens.refresh(digest: auth.digest) }) else {
            throw .invalidToken  // revoked between the check and the renewal
        }
        return .json(200, ["expiry": expiryJSON(renewed.expiry)])
    }

    func logout(_ auth: TokenRecord) throws(APIError) -> HTTPResponse {
        if try store({ () throws(StoreError) in try tokens.revoke(digest: auth.digest, reason: "logout") }) != nil {
            slot?.tokensRevoked(clients: [auth.client])
        }
        logger.info("logout", metadata: ["user": .string(auth.user), "client": .string(auth.client), "session": "\(auth.id)"])
        return .noContent
    }

    func logoutAll(_ auth: TokenRecord) throws(APIError) -> HTTPResponse {
        let revoked = try store { () throws(StoreError) in try tokens.revokeAll(user: auth.user, reason: "logoutall") }
        slot?.tokensRevoked(clients: revoked.lazy.map(\.client))
        logger.info("logoutall", metadata: ["user": .string(auth.user), "revoked": "\(revoked.count)"])
        return .noContent
    }

    /// For nginx `auth_request`: who the token belongs to. The location's client
    /// rules and throttle were applied with the token check.
    func verify(_ auth: TokenRecord) -> HTTPResponse {
        var headers = [("X-Durin-User", auth.user), ("X-Durin-Client", auth.client)]
        if let expiry = auth.expiry { headers.append(("X-Durin-Expiry", config.expiryFormat.format(expiry))) }
        return .json(200, ["user": .string(auth.user), "client": .string(auth.client), "expiry": expiryJSON(auth.expiry)],
                     headers: headers)
    }

    /// For load balancers and systemd: Redis answers and the scripts are loaded.
    func ready() -> HTTPResponse {
        do {
            _ = try tokens.ready()
            return .json(200, ["redis": "ok"])
        } catch {
            logger.warning("not ready", metadata: ["error": .string(error.description)])
            return .json(503, ["redis": "unavailable", "detail": "Token store unavailable."], headers: [("Retry-After", "1")])
        }
    }
}
