import Codecs
import DurinCore
import DurinHTTP
import DurinStore
import RedisClient

/// The console's JSON, under `api/` of its location: what each page reads, and the
/// operator's actions, each recorded as an event (`console`) naming who did it.
extension API {
    func consoleAPI(_ request: HTTPRequest, route: String, method: String,
                    session: ConsoleSession) throws(APIError) -> HTTPResponse {
        // Path segments are percent-decoded, but `+` is a plus there (a username may hold one).
        let parts = route.split(separator: "/", omittingEmptySubsequences: true).map {
            String(decoding: PercentEncoding.decode(Array($0.utf8), plusIsSpace: false), as: UTF8.self)
        }
        let query = Self.queryItems(request.console?.query ?? "")
        switch (method, parts.count, parts.first ?? "") {
        case ("GET", 1, "me"), ("HEAD", 1, "me"):
            return .json(200, ["user": .string(session.user.username), "csrf": .string(session.csrf),
                               "client": .string(config.consoleClientName), "expiry": expiryJSON(session.record.expiry)])
        case ("POST", 2, "session") where parts[1] == "end":
            _ = try store { () throws(StoreError) in try tokens.revoke(digest: session.record.digest, reason: "console_sign_out") }
            return HTTPResponse(status: 204, headers: [("Set-Cookie", Self.sessionCookie("", request: request, clear: true))])
        case ("GET", 1, "overview"):
            return .json(200, overview())
        case ("GET", 1, "users"):
            return .json(200, try users(prefix: query["prefix"] ?? "", limit: Int(query["limit"] ?? "") ?? 50))
        case ("GET", 2, "users"):
            return .json(200, try userDetail(parts[1]))
        case ("POST", 3, "users"):
            return try userAction(parts[1], action: parts[2], body: try Self.body(request), session: session)
        case ("GET", 1, "clients"):
            return .json(200, try clientList())
        case ("POST", 1, "clients"):
            return try addClient(try Self.body(request), session: session)
        case ("POST", 2, "clients"):
            return try editClient(parts[1], try Self.body(request), session: session)
        case ("POST", 3, "clients") where parts[2] == "remove":
            return try removeClient(parts[1], session: session)
        case ("GET", 1, "issuers"):
            return .json(200, try issuerList())
        case ("POST", 1, "issuers"):
            return try addIssuer(try Self.body(request), session: session)
        case ("POST", 3, "issuers") where parts[2] == "remove":
            return try removeIssuer(parts[1], session: session)
        case ("GET", 1, "events"):
            return .json(200, try events(user: query["user"], type: query["type"], limit: Int(query["limit"] ?? "") ?? 100))
        default:
            throw .notFound
        }
    }

    // MARK: Overview

    func overview() -> JSONValue {
        var members: [(String, JSONValue)] = [("time", .number(String(WallClock.nowMillis())))]
        if let census = settings.census {
            let counts = census.counts()
            members.append(("tokens", .object([
                ("by_client", .object(counts.byClient.sorted { $0.key < $1.key }.map { ($0.key, .number(String($0.value))) })),
                ("counted_at", counts.countedAt.map { .string(ExpiryFormat().format($0)) } ?? .null),
                ("counting", .bool(counts.counting)),
                ("problem", counts.problem.map { .string($0) } ?? .null),
            ])))
        }
        func counters(_ summary: Metrics.Summary) -> JSONValue {
            .object([
                ("checks", .number(String(summary.checks))), ("logins", .number(String(summary.logins))),
                ("login_failures", .number(String(summary.loginFailures))),
                ("cache_hits", .number(String(summary.cacheHits))), ("cache_misses", .number(String(summary.cacheMisses))),
                ("redis_errors", .number(String(summary.redisErrors))),
            ])
        }
        if let metrics {
            members.append(("counters", counters(metrics.summary())))
            // This responder's counters every 15 s over the last ten minutes: the charts.
            members.append(("history", .array(metrics.history().map { sample in
                .object([("time", .number(String(sample.time))), ("counters", counters(sample.summary))])
            })))
        }
        members.append(("redis", redisInfo()))
        return .object(members)
    }

    /// Memory and persistence, from INFO. The ACL shipped grants `info`; an older one
    /// may not, and the overview says so instead of failing.
    func redisInfo() -> JSONValue {
        var fields: [String: String] = [:]
        for section in ["memory", "persistence"] {
            let reply: RedisReply
            do { reply = try tokens.connection.send(["INFO", section]) } catch {
                return ["available": false, "problem": .string("Redis unavailable: \(error)")]
            }
            if case .error(let message) = reply { return ["available": false, "problem": .string(message)] }
            for line in (reply.string ?? "").split(whereSeparator: \.isNewline) {
                let pair = line.split(separator: ":", maxSplits: 1)
                if pair.count == 2 { fields[String(pair[0])] = String(pair[1]) }
            }
        }
        let wanted = ["used_memory", "used_memory_human", "maxmemory", "maxmemory_human", "maxmemory_policy", "aof_enabled",
                      "aof_last_write_status", "rdb_last_bgsave_status", "rdb_changes_since_last_save", "loading"]
        return .object([("available", .bool(true))] + wanted.compactMap { key in fields[key].map { (key, .string($0)) } })
    }

    // MARK: Users

    func users(prefix: String, limit: Int) throws(APIError) -> JSONValue {
        let names = try store { () throws(StoreError) in try admin.usernames(prefix: prefix, limit: min(max(limit, 1), 200)) }
        var rows: [JSONValue] = []
        for name in names {
            guard let user = try store({ () throws(StoreError) in try admin.user(named: name) }) else { continue }
            rows.append(["username": .string(user.username), "is_active": .bool(user.isActive), "is_staff": .bool(user.isStaff)])
        }
        return .array(rows)
    }

    func userDetail(_ name: String) throws(APIError) -> JSONValue {
        guard let user = try store({ () throws(StoreError) in try admin.user(named: name) }) else { throw .notFound }
        let sessions = try store { () throws(StoreError) in try tokens.sessions(user: name) }
        let iso = ExpiryFormat()
        func text(_ value: String?) -> JSONValue { value.map { .string($0) } ?? .null }
        return .object([
            ("username", .string(user.username)), ("is_active", .bool(user.isActive)), ("is_staff", .bool(user.isStaff)),
            ("created", user.profile["created"].flatMap { EpochMillis($0) }.map { .string(iso.format($0)) } ?? .null),
            ("profile", .object(user.profile.filter { $0.key != "created" }.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
            ("sessions", .array(sessions.map { entry in
                let r = entry.record
                return .object([
                    ("id", .number(String(r.id))), ("client", .string(r.client)), ("created", .string(iso.format(r.created))),
                    ("expiry", r.expiry.map { .string(iso.format($0)) } ?? .null),
                    ("last_used", r.lastUsed.map { .string(iso.format($0)) } ?? .null),
                    ("idle_timeout", r.idleSeconds.map { .string(DurationSpec(seconds: $0).description) } ?? .null),
                    ("address", text(r.details.address)), ("user_agent", text(r.details.userAgent)), ("label", text(r.details.label)),
                ])
            })),
        ])
    }

    func userAction(_ name: String, action: String, body: RequestData, session: ConsoleSession) throws(APIError) -> HTTPResponse {
        switch action {
        case "revoke":
            // One session by id, or all of them.
            if let id = body["id"] {
                guard case .number(let text) = id, let number = Int64(text) else { throw .fieldErrors([.init(field: "id", messages: ["A valid integer is required."])]) }
                let outcome = try store { () throws(StoreError) in
                    try tokens.deleteSession(user: name, id: number, currentDigest: "", hiddenClient: nil)
                }
                guard case .deleted(let client) = outcome else { throw .noSuchSession }
                slot?.tokensRevoked(clients: [client])
                try recordAction(session, "revoke_session", target: "\(name) \(number)", client: client)
                return .json(200, ["revoked": 1])
            }
            let revoked = try store { () throws(StoreError) in try tokens.revokeAll(user: name, reason: "console") }
            slot?.tokensRevoked(clients: revoked.map(\.client))
            try recordAction(session, "revoke_all", target: name)
            return .json(200, ["revoked": .number(String(revoked.count))])
        case "active":
            guard case .bool(let active)? = body["active"] else {
                throw .fieldErrors([.init(field: "active", messages: ["Must be a valid boolean."])])
            }
            try adminStore { () throws(AdminStore.Failure) in try admin.setActive(name, active) }
            try recordAction(session, active ? "activate" : "deactivate", target: name)
            return .json(200, ["is_active": .bool(active)])
        default:
            throw .notFound
        }
    }

    // MARK: Clients

    func clientList() throws(APIError) -> JSONValue {
        let clients = try store { () throws(StoreError) in try admin.clients() }
        let counts = settings.census?.counts()
        return .array(clients.map { c in
            .object([
                ("name", .string(c.name)), ("token_ttl", .string(c.tokenTTL.description)),
                ("throttle_rate", c.throttleRate.map { .string($0.description) } ?? .null),
                ("idle_timeout", c.idleTimeout.map { .string(DurationSpec(seconds: $0).description) } ?? .null),
                ("tokens", counts?.byClient[c.name].map { .number(String($0)) } ?? .null),
                ("counted_at", counts?.countedAt.map { .string(ExpiryFormat().format($0)) } ?? .null),
            ])
        })
    }

    /// The fields of a client form: each may be absent (unchanged) or invalid (a
    /// field error, as DRF words them).
    struct ClientFields {
        var ttl: TokenTTL?
        var throttle: ThrottleRate??
        var idle: Int64??
    }

    func clientFields(_ body: RequestData) throws(APIError) -> ClientFields {
        var fields = ClientFields()
        var errors: [APIError.FieldError] = []
        func text(_ name: String) -> String? {
            switch body[name] {
            case .string(let s)?: return s.trimmingCharacters(in: .whitespaces)
            case .number(let n)?: return n
            default: return nil
            }
        }
        if let ttl = text("token_ttl"), !ttl.isEmpty {
            if let parsed = TokenTTL.parse(ttl) { fields.ttl = parsed } else {
                errors.append(.init(field: "token_ttl", messages: ["Enter a duration such as 86400, 30m, 12h, 7d, or never."]))
            }
        }
        if let rate = text("throttle_rate") {
            if rate.isEmpty || rate == "none" { fields.throttle = .some(nil) } else if let parsed = ThrottleRate.parse(rate) {
                fields.throttle = .some(parsed)
            } else {
                errors.append(.init(field: "throttle_rate", messages: ["Enter a rate such as 100/m, or leave it empty."]))
            }
        }
        if let idle = text("idle_timeout") {
            if idle.isEmpty || idle == "none" { fields.idle = .some(nil) } else if let parsed = DurationSpec.parse(idle) {
                fields.idle = .some(parsed.seconds)
            } else {
                errors.append(.init(field: "idle_timeout", messages: ["Enter a duration such as 30m or 2h, or leave it empty."]))
            }
        }
        if !errors.isEmpty { throw .fieldErrors(errors) }
        return fields
    }

    func addClient(_ body: RequestData, session: ConsoleSession) throws(APIError) -> HTTPResponse {
        guard case .string(let name)? = body["name"], Names.isValidClientName(name) else {
            throw .fieldErrors([.init(field: "name", messages: ["Enter a name of letters, digits and . _ - @ + (at most 64)."])])
        }
        let fields = try clientFields(body)
        let record = ClientRecord(name: name, tokenTTL: fields.ttl ?? config.defaultTokenTTL, throttleRate: fields.throttle ?? nil,
                                  created: WallClock.nowMillis(), idleTimeout: fields.idle ?? nil)
        try adminStore { () throws(AdminStore.Failure) in try admin.addClient(record) }
        try recordAction(session, "client_add", target: name, client: name)
        return .json(201, ["name": .string(name)])
    }

    func editClient(_ name: String, _ body: RequestData, session: ConsoleSession) throws(APIError) -> HTTPResponse {
        let fields = try clientFields(body)
        guard fields.ttl != nil || fields.throttle != nil || fields.idle != nil else { throw .validation("Nothing to change.") }
        let stamped = try adminStore { () throws(AdminStore.Failure) in
            try admin.updateClient(name, ttl: fields.ttl, throttle: fields.throttle, idle: fields.idle)
        }
        try recordAction(session, "client_edit", target: name, client: name)
        return .json(200, ["name": .string(name), "tokens_changed": .number(String(stamped))])
    }

    func removeClient(_ name: String, session: ConsoleSession) throws(APIError) -> HTTPResponse {
        let revoked = try adminStore { () throws(AdminStore.Failure) in try admin.removeClient(name) }
        try recordAction(session, "client_remove", target: "\(name) (\(revoked) tokens)", client: name)
        _ = settings.census?.counts(fresh: true)
        return .json(200, ["revoked": .number(String(revoked))])
    }

    // MARK: Issuers

    func issuerList() throws(APIError) -> JSONValue {
        let issuers = try store { () throws(StoreError) in try admin.issuers() }
        return .array(issuers.map { i in
            ["name": .string(i.name), "clients": .array(i.clients.map { .string($0) })]
        })
    }

    func addIssuer(_ body: RequestData, session: ConsoleSession) throws(APIError) -> HTTPResponse {
        guard case .string(let name)? = body["name"], Names.isValidClientName(name) else {
            throw .fieldErrors([.init(field: "name", messages: ["Enter a name of letters, digits and . _ - @ + (at most 64)."])])
        }
        var clients: [String] = []
        if case .string(let list)? = body["clients"] {
            clients = list.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
            guard clients.allSatisfy(Names.isValidClientName) else {
                throw .fieldErrors([.init(field: "clients", messages: ["Enter client names separated by commas."])])
            }
        }
        let key = try adminStore { () throws(AdminStore.Failure) in try admin.addIssuer(name, clients: clients) }
        try recordAction(session, "issuer_add", target: name)
        // The key is shown this once: only its digest is stored.
        return .json(201, ["name": .string(name), "key": .string(key.value)])
    }

    func removeIssuer(_ name: String, session: ConsoleSession) throws(APIError) -> HTTPResponse {
        try adminStore { () throws(AdminStore.Failure) in try admin.removeIssuer(name) }
        try recordAction(session, "issuer_remove", target: name)
        return .noContent
    }

    // MARK: Events

    func events(user: String?, type: String?, limit: Int) throws(APIError) -> JSONValue {
        let filtered = user?.isEmpty == false || type?.isEmpty == false
        let recent = try store { () throws(StoreError) in try admin.recentEvents(count: filtered ? 2000 : min(max(limit, 1), 500)) }
        let matching = recent.reversed().filter { e in
            (user?.isEmpty != false || e["user"] == user) && (type?.isEmpty != false || e["type"] == type)
        }
        return .array(matching.prefix(min(max(limit, 1), 500)).map { e in
            .object([("id", .string(e.id))] + e.fields.map { ($0.0, .string($0.1)) })
        })
    }

    // MARK: Helpers

    /// Every console action is an event naming the staff user who did it.
    func recordAction(_ session: ConsoleSession, _ action: String, target: String, client: String = "") throws(APIError) {
        logger.notice("console action", metadata: ["staff": .string(session.user.username), "action": .string(action),
                                                    "target": .string(target)])
        try adminStore { () throws(AdminStore.Failure) in
            try admin.recordEvent(kind: "console", user: session.user.username, client: client, reason: "\(action) \(target)")
        }
    }

    /// Runs an admin store operation: "no such" is 404, "exists" a field error, Redis trouble 503.
    @discardableResult
    func adminStore<T>(_ body: () throws(AdminStore.Failure) -> T) throws(APIError) -> T {
        let failure: AdminStore.Failure
        do { return try body() } catch { failure = error }
        switch failure {
        case .notFound: throw .notFound
        case .exists(let what): throw .validation("\(what) already exists.")
        case .reserved(let why): throw .validation(why.prefix(1).uppercased() + why.dropFirst() + ".")
        case .store(let error): return try store { () throws(StoreError) in throw error }
        }
    }

    static func body(_ request: HTTPRequest) throws(APIError) -> RequestData {
        try fields(request)
    }

    static func queryItems(_ query: String) -> [String: String] {
        var items: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            guard let key = kv.first else { continue }
            let value = kv.count > 1 ? kv[1] : ""
            items[percentDecoded(key)] = percentDecoded(value)
        }
        return items
    }

    static func percentDecoded(_ text: Substring) -> String {
        String(decoding: PercentEncoding.decode(Array(text.utf8), plusIsSpace: true), as: UTF8.self)
    }
}
