import DurinCore
import DurinHTTP
import DurinStore

/// introspect/ (RFC 7662) and revoke/ (RFC 7009): what other gateways (Kong,
/// mod_auth_openidc, Oathkeeper) and single sign-on applications ask about a token.
/// Every call is an issuer's, with its key (IssuerCredentials), counted against
/// the issuer's limit (DURIN_INTROSPECTION_RATE), and sees only the tokens of the
/// clients the issuer may issue for.
extension API {
    /// A live token's owner, client and times; anything else (expired, revoked,
    /// unknown, malformed, another client's, an inactive user's) is `{"active":
    /// false}` and nothing more, so the answer says nothing about why. A check
    /// here counts as the token's use, as a check through nginx does.
    func introspect(_ context: RequestContext) throws -> HTTPResponse {
        let form = try Self.fields(context.request)
        let issuer = try callingIssuer(context, form, right: .introspect)
        let token = try Self.tokenParameter(form)
        let result = try tokens.authenticate(digest: Token.digest(of: token), rules: AccessRules(allowClients: issuer.clients))
        guard case .valid(let record) = result else { return Self.oauthJSON(["active": false]) }
        var members: [(String, JSONValue)] = [
            ("active", true),
            ("username", .string(record.user)),
            ("client_id", .string(record.client)),
            ("token_type", .string(config.authSchemes.first ?? "Token")),
            ("iat", .number(String(record.created / 1000))),
        ]
        if let expiry = record.expiry { members.append(("exp", .number(String(expiry / 1000)))) }
        members.append(("sub", .string(record.user)))
        return Self.oauthJSON(.object(members))
    }

    /// Revokes a token of the issuer's clients, answering 200 whether it existed or
    /// not (RFC 7009 §2.2). The back-channel form, `username=` without a token,
    /// revokes every token the user holds for the issuer's clients and answers
    /// how many.
    func revokeForIssuer(_ context: RequestContext) throws -> HTTPResponse {
        let form = try Self.fields(context.request)
        let issuer = try callingIssuer(context, form, right: .revoke)
        if form["token"] == nil, let value = form["username"] {
            guard case .string(let username) = value, Names.isValidUsername(username) else {
                throw APIError.oauthInvalidRequest("The username parameter must be a username.")
            }
            let revoked = try tokens.revokeAll(user: username, reason: "revoke", issuer: issuer.name, clients: issuer.clients)
            context.slot?.tokensRevoked(clients: revoked.lazy.map(\.client))
            context.logger.info(
                "revoke (back-channel)",
                metadata: [
                    "issuer": .string(issuer.name), "user": .string(username),
                    "revoked": "\(revoked.count)",
                ])
            return Self.oauthJSON(["revoked": .number(String(revoked.count))])
        }
        let token = try Self.tokenParameter(form)
        let revoked = try tokens.revoke(digest: Token.digest(of: token), reason: "revoke", issuer: issuer.name, clients: issuer.clients)
        if let revoked {
            context.slot?.tokensRevoked(clients: [revoked.client])
            context.logger.info(
                "revoke",
                metadata: [
                    "issuer": .string(issuer.name), "user": .string(revoked.user),
                    "client": .string(revoked.client), "session": "\(revoked.id)",
                ])
        }
        return Self.oauthJSON([:])
    }

    /// The issuer whose key the request presents, once its call is counted: 401
    /// `invalid_client` without a key or with a wrong one (a name that is not the
    /// key's is wrong too), 429 over DURIN_INTROSPECTION_RATE, 403 for a key without
    /// the route's `right`.
    func callingIssuer(_ context: RequestContext, _ form: RequestData, right: IssuerRight) throws -> IssuerRecord {
        let request = context.request
        let key: String
        var claimedName: String?
        switch IssuerCredentials.parse(authorization: request.authorization, form: form) {
        case .key(let k): key = k
        case .named(let name, let k): (claimedName, key) = (name, k)
        case .none: throw APIError.invalidClient
        }
        guard let issuer = try tokens.issuer(key: key),
            claimedName == nil || claimedName == issuer.name
        else {
            context.logger.notice("\(request.path) refused: unknown issuer key")
            throw APIError.invalidClient
        }
        if let rate = config.introspectionRate,
            let wait = try tokens.issuerCallCheck(issuer: issuer.name, rate: rate)
        {
            throw APIError.throttled(waitSeconds: wait)
        }
        try require(right, of: issuer, context)
        return issuer
    }

    /// 403 for an issuer key that was not given `right`: a key grants what it
    /// names and nothing more.
    func require(_ right: IssuerRight, of issuer: IssuerRecord, _ context: RequestContext) throws(APIError) {
        guard issuer.may(right) else {
            context.logger.notice(
                "\(context.request.path) refused: the issuer key lacks the right",
                metadata: ["issuer": .string(issuer.name), "right": .string(right.rawValue)])
            throw .permissionDenied
        }
    }

    /// The `token` parameter: a non-empty string (its hint, `token_type_hint`, is
    /// optional and needs no reading: durin has one kind of token).
    static func tokenParameter(_ form: RequestData) throws(APIError) -> String {
        guard case .string(let token)? = form["token"], !token.isEmpty else {
            throw .oauthInvalidRequest("The token parameter is required.")
        }
        return token
    }

    /// RFC 6749 §5.1's caching rule for answers about credentials.
    static func oauthJSON(_ value: JSONValue) -> HTTPResponse {
        .json(200, value, headers: [("Cache-Control", "no-store")])
    }
}
