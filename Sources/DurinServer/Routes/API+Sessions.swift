import DurinCore
import DurinHTTP
import DurinStore

/// sessions/ (durin's TokenSessionsViewSet) and apiaccess/ (APIAccessTokenView).
extension API {
    /// The client whose token `sessions/` neither lists nor deletes.
    var hiddenSessionClient: String? { config.apiAccessExcludeFromSessions ? config.apiAccessClientName : nil }

    func sessions(_ context: RequestContext, _ auth: TokenRecord) throws -> HTTPResponse {
        let now = context.now
        let hidden = hiddenSessionClient
        let live = try tokens.sessions(user: auth.user)
        return .json(
            200,
            .array(
                live.filter { $0.record.client != hidden }.map { entry -> JSONValue in
                    var fields = tokenFields(entry.record, now: now)
                    fields.insert(("id", .number(String(entry.record.id))), at: 0)
                    fields.insert(("is_current", .bool(entry.record.digest == auth.digest)), at: fields.count - 1)
                    if config.sessionDetails { fields += detailFields(entry.record) }
                    return .object(fields)
                }))
    }

    func deleteSession(_ context: RequestContext, _ auth: TokenRecord) throws -> HTTPResponse {
        // DRF's lookup: a non-integer id finds nothing ("Not found.").
        guard let number = context.route?.parameter.flatMap({ Int64($0) }) else { throw APIError.notFound }
        let outcome = try tokens.deleteSession(user: auth.user, id: number, currentDigest: auth.digest, hiddenClient: hiddenSessionClient)
        switch outcome {
        case .deleted(let client):
            context.slot?.tokensRevoked(clients: [client])
            context.logger.info(
                "session deleted", metadata: ["user": .string(auth.user), "client": .string(client), "session": "\(number)"])
            return .noContent
        case .current:
            // durin's text, missing space included.
            throw APIError.validation(
                "Can't delete token if the request is authed with it.Use \(context.request.mountPrefix)/logout/ instead.")
        case .notFound:
            throw APIError.noSuchSession
        }
    }

    func apiAccess(_ context: RequestContext, _ auth: TokenRecord) throws -> HTTPResponse {
        guard let client = config.apiAccessClientName else { throw APIError.notFound }
        switch context.request.method.uppercased() {
        case "POST":
            let outcome = try tokens.login(user: auth.user, client: client, mode: .new, event: "token_issued")
            switch outcome {
            case .failure(.alreadyExists): throw APIError.validation("An API token was already issued to you.")
            case .failure(.noClient):
                context.logger.error("DURIN_API_ACCESS_CLIENT_NAME names no client: add it with durinctl client add \(client)")
                throw APIError.notFound
            case .failure(.userInactive): throw APIError.userInactive
            case .success(let issued):
                context.slot?.tokenIssued(client: client)
                return .json(201, .object(tokenFields(issued.record, now: context.now) + [("token", .string(issued.token.value))]))
            }
        case "DELETE":
            let revoked = try tokens.revokeAll(user: auth.user, client: client, reason: "apiaccess_delete")
            if revoked.isEmpty { throw APIError.notFound }
            context.slot?.tokensRevoked(clients: revoked.lazy.map(\.client))
            return .noContent
        default:
            let found = try tokens.sessions(user: auth.user).first { $0.record.client == client }
            guard let found else { throw APIError.notFound }
            var fields = tokenFields(found.record, now: context.now)
            if config.apiAccessResponseIncludeToken, let sealed = found.sealed,
                let token = try tokens.unseal(sealed, digest: found.record.digest)
            {
                fields.append(("token", .string(token.value)))
            }
            return .json(200, .object(fields))
        }
    }

    /// With DURIN_SESSION_DETAILS: where each session was last logged into from, and
    /// when it was last used (within DURIN_LAST_USED_RESOLUTION).
    private func detailFields(_ record: TokenRecord) -> [(String, JSONValue)] {
        RecordJSON.details(record, time: ExpiryFormat().format)
    }

    /// durin's token serializer fields: client, created, expiry, has_expired, expires_in_str.
    /// Session timestamps use DRF's default format, as durin's serializers do.
    private func tokenFields(_ record: TokenRecord, now: EpochMillis) -> [(String, JSONValue)] {
        let iso = ExpiryFormat()
        return [
            ("client", .string(record.client)),
            ("created", .string(iso.format(record.created))),
            ("expiry", record.expiry.map { .string(iso.format($0)) } ?? .null),
            ("has_expired", .bool(record.expiry.map { $0 <= now } ?? false)),
            ("expires_in_str", record.expiry.map { .string(Humanize.naturalDelta(milliseconds: max(0, $0 - now))) } ?? .null),
        ]
    }
}
