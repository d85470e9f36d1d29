import Codecs
import DurinCore
import DurinHTTP
import DurinServer
import DurinStore
import RedisClient

/// The console's JSON, under `api/` of its location: what each page reads, and the
/// operator's actions, each recorded as an event (`console`) naming who did it.
extension API {
    // MARK: Overview

    func overview(_ context: RequestContext) -> JSONValue {
        var members: [(String, JSONValue)] = [("time", .number(String(context.now)))]
        if let census = settings.census {
            let counts = census.counts()
            members.append(
                (
                    "tokens",
                    .object([
                        ("by_client", .object(counts.byClient.sorted { $0.key < $1.key }.map { ($0.key, .number(String($0.value))) })),
                        ("counted_at", counts.countedAt.map { .string(ExpiryFormat().format($0)) } ?? .null),
                        ("counting", .bool(counts.counting)),
                        ("problem", counts.problem.map { .string($0) } ?? .null),
                    ])
                ))
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
            members.append(
                (
                    "history",
                    .array(
                        metrics.history().map { sample in
                            .object([("time", .number(String(sample.time))), ("counters", counters(sample.summary))])
                        })
                ))
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
        let wanted = [
            "used_memory", "used_memory_human", "maxmemory", "maxmemory_human", "maxmemory_policy", "aof_enabled",
            "aof_last_write_status", "rdb_last_bgsave_status", "rdb_changes_since_last_save", "loading",
        ]
        return .object([("available", .bool(true))] + wanted.compactMap { key in fields[key].map { (key, .string($0)) } })
    }

    // MARK: Users

    func users(prefix: String, limit: Int) throws -> JSONValue {
        let names = try admin.usernames(prefix: prefix, limit: min(max(limit, 1), 200))
        var rows: [JSONValue] = []
        for name in names {
            guard let user = try admin.user(named: name) else { continue }
            rows.append(.object(RecordJSON.user(user)))
        }
        return .array(rows)
    }

    func userDetail(_ name: String) throws -> JSONValue {
        guard let user = try admin.user(named: name) else { throw APIError.notFound }
        let sessions = try tokens.sessions(user: name)
        let iso = ExpiryFormat()
        return .object(
            RecordJSON.user(user) + [
                ("created", user.profile["created"].flatMap { EpochMillis($0) }.map { .string(iso.format($0)) } ?? .null),
                (
                    "profile",
                    .object(user.profile.filter { $0.key != "created" }.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
                ),
                ("sessions", .array(sessions.map { .object(RecordJSON.session($0.record, time: iso.format)) })),
            ])
    }

    /// One session by id (`{"id": n}`), or all of the user's.
    func revokeSessions(_ context: RequestContext, _ name: String, session: ConsoleSession) throws -> HTTPResponse {
        let body = try Self.fields(context.request)
        if let id = body["id"] {
            guard case .number(let text) = id, let number = Int64(text) else {
                throw APIError.fieldErrors([.init(field: "id", messages: ["A valid integer is required."])])
            }
            let outcome = try tokens.deleteSession(user: name, id: number, currentDigest: "", hiddenClient: nil)
            guard case .deleted(let client) = outcome else { throw APIError.noSuchSession }
            context.slot?.tokensRevoked(clients: [client])
            try recordAction(context, session, "revoke_session", target: "\(name) \(number)", client: client)
            return .json(200, ["revoked": 1])
        }
        let revoked = try tokens.revokeAll(user: name, reason: "console")
        context.slot?.tokensRevoked(clients: revoked.map(\.client))
        try recordAction(context, session, "revoke_all", target: name)
        return .json(200, ["revoked": .number(String(revoked.count))])
    }

    /// `{"active": bool}`: deactivation also ends every session, the console's included.
    func setActive(_ context: RequestContext, _ name: String, session: ConsoleSession) throws -> HTTPResponse {
        guard case .bool(let active)? = try Self.fields(context.request)["active"] else {
            throw APIError.fieldErrors([.init(field: "active", messages: ["Must be a valid boolean."])])
        }
        try admin.setActive(name, active)
        try recordAction(context, session, active ? "activate" : "deactivate", target: name)
        return .json(200, ["is_active": .bool(active)])
    }

    /// `{"password": ..., "require_change": bool}`: a new password (it passes the
    /// password policy; every session of the user ends, the operator's own excepted),
    /// and/or that the user must choose a new one at their next login.
    func setPassword(_ context: RequestContext, _ name: String, session: ConsoleSession) throws -> HTTPResponse {
        let body = try Self.fields(context.request)
        var require = false
        switch Self.boolean(body["require_change"]) {
        case .success(let v): require = v ?? false
        case .failure(let m): throw APIError.fieldErrors([.init(field: "require_change", messages: [m.text])])
        }
        guard let sent = body["password"], sent != .null else {
            guard require else {
                throw APIError.fieldErrors([.init(field: "password", messages: ["This field is required."])])
            }
            guard try admin.user(named: name) != nil else { throw APIError.notFound }
            try admin.requirePasswordChange(name, true)
            try recordAction(context, session, "require_password_change", target: name)
            return .json(200, ["revoked": 0, "must_change_password": true])
        }
        let password: String
        switch CharField.validate(sent, trimWhitespace: false) {
        case .success(let v): password = v
        case .failure(let m): throw APIError.fieldErrors([.init(field: "password", messages: [m.text])])
        }
        let keep = session.user.username == name ? session.record.digest : nil
        let revoked = try setPasswordByStaff(context, password, for: name, keeping: keep, requireChange: require)
        try recordAction(context, session, "set_password", target: name)
        return .json(200, ["revoked": .number(String(revoked)), "must_change_password": .bool(require)])
    }

    /// `{"action": "enroll"}`: a new TOTP secret for the user, shown this once (its
    /// `otpauth://` URI, base32, and the URI's QR code as rows of modules, which the
    /// page draws) for the operator to hand over; `"remove"`.
    func setSecondFactor(_ context: RequestContext, _ name: String, session: ConsoleSession) throws -> HTTPResponse {
        guard try admin.user(named: name) != nil else { throw APIError.notFound }
        switch try Self.fields(context.request)["action"] {
        case .string("enroll")?:
            let secret = TOTP.generateSecret()
            guard try tokens.enrollSecondFactor(user: name, secret: secret, pending: false) else { throw APIError.notFound }
            try recordAction(context, session, "enroll_otp", target: name)
            let uri = TOTP.uri(secret: secret, account: name, issuer: config.otpIssuer)
            let code = QRCode(Array(uri.utf8), correction: .medium)
            return .json(
                200,
                [
                    "otpauth_url": .string(uri), "secret": .string(Base32.encode(secret)),
                    "qr": .array((code?.modules ?? []).map { row in .string(String(row.map { $0 ? "1" : "0" })) }),
                ], headers: [("Cache-Control", "no-store")])
        case .string("remove")?:
            try tokens.removeSecondFactor(user: name)
            try recordAction(context, session, "remove_otp", target: name)
            return .json(200, ["otp": false])
        default:
            throw APIError.fieldErrors([.init(field: "action", messages: ["\"enroll\" or \"remove\"."])])
        }
    }

    // MARK: Clients

    func clientList() throws -> JSONValue {
        let clients = try admin.clients()
        let counts = settings.census?.counts()
        return .array(
            clients.map { c in
                .object(
                    RecordJSON.client(c, time: ExpiryFormat().format) + [
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
        var cookie: Bool?
        var rotate: Bool?
        var reuseGrace: Int64?
        var requireOTP: Bool?

        var isEmpty: Bool {
            ttl == nil && throttle == nil && idle == nil && cookie == nil && rotate == nil && reuseGrace == nil && requireOTP == nil
        }
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
            if let parsed = TokenTTL.parse(ttl) {
                fields.ttl = parsed
            } else {
                errors.append(.init(field: "token_ttl", messages: ["Enter a duration such as 86400, 30m, 12h, 7d, or never."]))
            }
        }
        if let rate = text("throttle_rate") {
            if rate.isEmpty || rate == "none" {
                fields.throttle = .some(nil)
            } else if let parsed = ThrottleRate.parse(rate) {
                fields.throttle = .some(parsed)
            } else {
                errors.append(.init(field: "throttle_rate", messages: ["Enter a rate such as 100/m, or leave it empty."]))
            }
        }
        if let idle = text("idle_timeout") {
            if idle.isEmpty || idle == "none" {
                fields.idle = .some(nil)
            } else if let parsed = DurationSpec.parse(idle) {
                fields.idle = .some(parsed.seconds)
            } else {
                errors.append(.init(field: "idle_timeout", messages: ["Enter a duration such as 30m or 2h, or leave it empty."]))
            }
        }
        func flag(_ name: String) -> Bool? {
            switch Self.boolean(body[name]) {
            case .success(let v): return v
            case .failure(let m):
                errors.append(.init(field: name, messages: [m.text]))
                return nil
            }
        }
        fields.cookie = flag("cookie")
        fields.rotate = flag("rotate_on_refresh")
        fields.requireOTP = flag("require_otp")
        if let grace = text("reuse_grace"), !grace.isEmpty {
            if grace == "0" {
                fields.reuseGrace = 0
            } else if let parsed = DurationSpec.parse(grace), parsed.seconds <= 3600 {
                fields.reuseGrace = parsed.seconds
            } else {
                errors.append(.init(field: "reuse_grace", messages: ["Enter a duration from 0 to 1h, such as 30s."]))
            }
        }
        if !errors.isEmpty { throw .fieldErrors(errors) }
        return fields
    }

    func addClient(_ context: RequestContext, session: ConsoleSession) throws -> HTTPResponse {
        let body = try Self.fields(context.request)
        guard case .string(let name)? = body["name"], Names.isValidClientName(name) else {
            throw APIError.fieldErrors([.init(field: "name", messages: ["Enter a name of letters, digits and . _ - @ + (at most 64)."])])
        }
        let fields = try clientFields(body)
        var record = ClientRecord(
            name: name, tokenTTL: fields.ttl ?? config.defaultTokenTTL, throttleRate: fields.throttle ?? nil,
            created: context.now, idleTimeout: fields.idle ?? nil, cookie: fields.cookie ?? false,
            rotateOnRefresh: fields.rotate ?? false, reuseGrace: fields.reuseGrace ?? ClientRecord.defaultReuseGrace)
        record.requireOTP = fields.requireOTP ?? false
        try admin.addClient(record)
        try recordAction(context, session, "client_add", target: name, client: name)
        return .json(201, ["name": .string(name)])
    }

    func editClient(_ context: RequestContext, _ name: String, session: ConsoleSession) throws -> HTTPResponse {
        let fields = try clientFields(try Self.fields(context.request))
        guard !fields.isEmpty else { throw APIError.validation("Nothing to change.") }
        let stamped = try admin.updateClient(
            name, ttl: fields.ttl, throttle: fields.throttle, idle: fields.idle, cookie: fields.cookie, rotate: fields.rotate,
            reuseGrace: fields.reuseGrace, requireOTP: fields.requireOTP)
        try recordAction(context, session, "client_edit", target: name, client: name)
        return .json(200, ["name": .string(name), "tokens_changed": .number(String(stamped))])
    }

    func removeClient(_ context: RequestContext, _ name: String, session: ConsoleSession) throws -> HTTPResponse {
        let revoked = try admin.removeClient(name)
        try recordAction(context, session, "client_remove", target: "\(name) (\(revoked) tokens)", client: name)
        _ = settings.census?.counts(fresh: true)
        return .json(200, ["revoked": .number(String(revoked))])
    }

    // MARK: Issuers

    func issuerList() throws -> JSONValue {
        let issuers = try admin.issuers()
        return .array(
            issuers.map { i in
                [
                    "name": .string(i.name), "clients": .array(i.clients.map { .string($0) }),
                    "may": .array(i.rights.sorted().map { .string($0.rawValue) }),
                ]
            })
    }

    func addIssuer(_ context: RequestContext, session: ConsoleSession) throws -> HTTPResponse {
        let body = try Self.fields(context.request)
        guard case .string(let name)? = body["name"], Names.isValidClientName(name) else {
            throw APIError.fieldErrors([.init(field: "name", messages: ["Enter a name of letters, digits and . _ - @ + (at most 64)."])])
        }
        var clients: [String] = []
        if case .string(let list)? = body["clients"] {
            clients = list.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
            guard clients.allSatisfy(Names.isValidClientName) else {
                throw APIError.fieldErrors([.init(field: "clients", messages: ["Enter client names separated by commas."])])
            }
        }
        var rights = IssuerRight.before
        if case .string(let list)? = body["may"] {
            guard let parsed = IssuerRight.parse(list.replacingOccurrences(of: " ", with: "")), !parsed.isEmpty,
                !parsed.contains(.staff) || parsed.contains(.users)
            else {
                throw APIError.fieldErrors([
                    .init(field: "may", messages: ["Enter rights among issue, introspect, revoke, users, staff (staff goes with users)."])
                ])
            }
            rights = parsed
        }
        let key = try admin.addIssuer(name, clients: clients, rights: rights)
        try recordAction(context, session, "issuer_add", target: name)
        // The key is shown this once: only its digest is stored.
        return .json(201, ["name": .string(name), "key": .string(key.value)])
    }

    func removeIssuer(_ context: RequestContext, _ name: String, session: ConsoleSession) throws -> HTTPResponse {
        try admin.removeIssuer(name)
        try recordAction(context, session, "issuer_remove", target: name)
        return .noContent
    }

    // MARK: Events

    func events(user: String?, type: String?, limit: Int) throws -> JSONValue {
        let filtered = user?.isEmpty == false || type?.isEmpty == false
        let recent = try admin.recentEvents(count: filtered ? 2000 : min(max(limit, 1), 500))
        let matching = recent.reversed().filter { e in
            (user?.isEmpty != false || e["user"] == user) && (type?.isEmpty != false || e["type"] == type)
        }
        return .array(
            matching.prefix(min(max(limit, 1), 500)).map { e in
                .object([("id", .string(e.id))] + e.fields.map { ($0.0, .string($0.1)) })
            })
    }

    // MARK: Helpers

    /// Every console action is an event naming the staff user who did it.
    func recordAction(
        _ context: RequestContext, _ session: ConsoleSession, _ action: String, target: String,
        client: String = ""
    ) throws {
        context.logger.notice(
            "console action",
            metadata: [
                "staff": .string(session.user.username), "action": .string(action),
                "target": .string(target),
            ])
        try admin.recordEvent(kind: "console", user: session.user.username, client: client, reason: "\(action) \(target)")
    }
}
