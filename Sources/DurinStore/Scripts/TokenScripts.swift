import DurinCore
package import RedisClient

// The scripts that check, renew and revoke tokens. Each is one atomic step; a
// token's keys are listed in docs/redis-layout.md.

/// What a script that starts from a token's digest found: its outcome, or, on a
/// cluster, that the token was moved in from one server and lives under its user's
/// tag (run it again there).
enum Located<Outcome> {
    case here(Outcome)
    case moved(home: String)

    /// Decodes `{'moved', home}`, else the script's own reply.
    static func decode(_ reply: RedisReply, _ own: (RedisReply) -> Outcome?) -> Located? {
        if let items = reply.array, items.count == 2, items[0].string == "moved", let home = items[1].string {
            return .moved(home: home)
        }
        return own(reply).map { .here($0) }
    }
}

/// The token check of every authenticated request: authentication, the location's
/// client rules, then its throttle, as DRF orders them.
struct VerifyScript: ScriptCall {
    let digest: String
    let rules: AccessRules
    /// The clients' throttle rates as `setting` reads them (`-`: from their records).
    let rates: String
    /// DURIN_LAST_USED_RESOLUTION in ms (nil: off): a valid check writes `w` when stale.
    let resolution: Int64?
    /// Where the check came from: named in a `token_reused` event.
    var requester = SessionDetails()
    /// The user's tag of a token moved into a cluster (`Located.moved`).
    var home: String?

    var group: KeyGroup { home.map { .home(tag: $0, digest: digest) } ?? .token(digest) }
    var arguments: [String] {
        [
            digest, rules.allowClients.joined(separator: " "), rules.denyClients.joined(separator: " "),
            rules.throttle ? "1" : "", rules.defaultRate?.description ?? "", rates, resolution.map(String.init) ?? "",
            requester.address ?? "", requester.userAgent ?? "",
        ]
    }

    func decode(_ reply: RedisReply) -> Located<Authentication>? { Located.decode(reply, authentication) }

    private func authentication(_ reply: RedisReply) -> Authentication? {
        guard let items = reply.array, let kind = items.first?.string else { return nil }
        switch (kind, items.count) {
        case ("ok", _): return StoredToken(digest: digest, values: items.dropFirst()).map { .valid($0.record) }
        case ("expired", 1): return .expired
        case ("inactive", 1): return .userInactive
        case ("invalid", 1): return .invalid
        case ("denied", 3):
            guard let user = items[1].string, let client = items[2].string else { return nil }
            return .denied(user: user, client: client)
        case ("throttled", 4):
            guard let wait = items[1].int, let user = items[2].string, let client = items[3].string else { return nil }
            return .throttled(wait: Int(wait), user: user, client: client)
        default: return nil
        }
    }

    static let script = Script(
        parameters: ["digest", "allow", "deny", "throttle", "defaultRate", "rates", "resolution", "address", "agent"],
        #"""
        local tk = tokenKey(digest)
        local t = tokenFields(tk)
        if not t[1] then
          local home = movedHome(digest)
          if home then return {'moved', home} end
          return {'invalid'}
        end
        if t[F.n] then
          -- Replaced by a rotating refresh: valid in its reuse grace while its session
          -- lives on in the pair's current token. Used after that, it was copied:
          -- the session ends, whoever holds its current token.
          local userHash = userKey(t[1])
          local cur = redis.call('HGET', userHash, indexField(t[2]))
          local curKey = cur and tokenKey(cur)
          local same = curKey and redis.call('HGET', curKey, 'i') == t[F.i]
          if not (live(t[4]) and same) then
            guard(userHash, EVENTS, curKey)
            redis.call('DEL', tk)
            if not live(t[4]) then
              if same then forget(curKey, userHash, t[2], cur) end
              emit('token_reused', t[1], t[2], t[F.i], same and 'session_revoked' or 'session_gone', nil,
                   {'address', address, 'user_agent', agent})
            end
            return {'invalid'}
          end
        end
        local expired, idle = not live(t[4]), false
        if not expired then idle = idleOut(t[F.w], t[F.t], t[F.d], resolution) end
        if expired or idle then
          -- An expired token was kept for the grace period to be reported once, an
          -- idle one is found now: either way it goes.
          local userHash = userKey(t[1])
          guard(userHash, EVENTS)
          forget(tk, userHash, t[2], digest)
          emit('token_expired', t[1], t[2], t[5], idle and 'idle' or nil)
          return {'expired'}
        end
        if redis.call('HGET', userKey(t[1]), 'is_active') ~= '1' then return {'inactive'} end
        local function listed(list, name)
          for word in string.gmatch(list, '%S+') do if word == name then return true end end
          return false
        end
        if (allow ~= '' and not listed(allow, t[2])) or listed(deny, t[2]) then
          return {'denied', t[1], t[2]}
        end
        if throttle == '1' then
          local rate = setting(rates, t[2], 'throttle_rate')
          if not rate or rate == '' then rate = defaultRate end
          local limit, period = parseRate(rate)
          if limit then
            local wait = window(throttleKey(t[1], t[2]), limit, period, true)
            if wait > 0 then return {'throttled', wait, t[1], t[2]} end
          end
        end
        if stale(t[F.w], t[F.d], resolution) then
          redis.call('HSET', tk, 'w', NOW_TEXT)
          t[F.w] = NOW_TEXT
        end
        return {'ok', unpack(t)}
        """#)
}

/// Writes a token's last use (`w`) after a check that read it stale (LastUse); a
/// token gone meanwhile stays gone. One key: the token's.
struct TouchScript: ScriptCall {
    let digest: String

    var group: KeyGroup { .token(digest) }
    var arguments: [String] { [digest] }

    func decode(_ reply: RedisReply) -> Void? { reply.int != nil ? () : nil }

    static let script = Script(
        parameters: ["digest"],
        #"""
        -- HSET alone would make a revoked token's key again, without its expiry.
        local tk = tokenKey(digest)
        if redis.call('EXISTS', tk) == 0 then return 0 end
        redis.call('HSET', tk, 'w', NOW_TEXT)
        return 1
        """#)
}

/// Same token, fresh expiry from its client's TTL (else `defaultTTL`). nil: no such token.
struct RefreshScript: ScriptCall {
    let digest: String
    let graceMillis: Int64
    let defaultTTL: TokenTTL
    /// The clients' TTLs as `setting` reads them (`-`: from their records).
    let ttls: String
    /// The clients' idle timeouts, the same way.
    let idles: String
    let resolution: Int64?
    /// The clients' reuse graces in seconds, for those that rotate (` name=30 `), or
    /// `-` (one server: from their records).
    let rotations: String
    /// The token that replaces this one, if its client rotates, and its sealed copy.
    let candidate: String
    let sealed: String
    /// The user's tag of a token moved into a cluster (`Located.moved`).
    var home: String?

    var group: KeyGroup { home.map { .home(tag: $0, digest: digest) } ?? .token(digest) }
    var arguments: [String] {
        [
            digest, String(graceMillis), defaultTTL.storedValue, ttls, idles, resolution.map(String.init) ?? "", rotations,
            candidate, sealed,
        ]
    }

    enum Renewal {
        case renewed(StoredToken)
        /// The client rotates: this token was replaced by the candidate.
        case rotated(StoredToken)
        /// The token was replaced before (a retried refresh in its reuse grace): the
        /// session's current token, unchanged.
        case current(StoredToken)
        case notFound
    }

    func decode(_ reply: RedisReply) -> Located<Renewal>? {
        Located.decode(reply) { reply in
            guard let items = reply.array, let kind = items.first?.string else { return nil }
            switch (kind, items.count) {
            case ("ok", _): return StoredToken(digest: digest, values: items.dropFirst()).map { .renewed($0) }
            case ("rotated", _), ("current", _):
                guard items.count > 2, let next = items[1].string,
                    let stored = StoredToken(digest: next, values: items.dropFirst(2))
                else { return nil }
                return kind == "rotated" ? .rotated(stored) : .current(stored)
            case ("invalid", 1): return .notFound
            default: return nil
            }
        }
    }

    static let script = Script(
        parameters: ["digest", "grace", "defaultTTL", "ttls", "idles", "resolution", "rotations", "candidate", "sealed"],
        #"""
        grace = tonumber(grace)
        local tk = tokenKey(digest)
        local t = redis.call('HMGET', tk, 'u', 'c', 'i', 'e', 'w', 'd', 't', 'n')
        if not t[1] then
          local home = movedHome(digest)
          if home then return {'moved', home} end
          return {'invalid'}
        end
        local userHash = userKey(t[1])
        if t[8] then
          -- Replaced already, and still in its grace (the check let it through): a
          -- refresh retried after its answer was lost gets the session's token.
          local cur = redis.call('HGET', userHash, indexField(t[2]))
          if cur and live(t[4]) and redis.call('HGET', tokenKey(cur), 'i') == t[3] then
            return {'current', cur, unpack(tokenFields(tokenKey(cur)))}
          end
          return {'invalid'}
        end
        if not live(t[4]) or idleOut(t[5], t[7], t[6], resolution) then return {'invalid'} end
        guard(EVENTS)
        local ttl = setting(ttls, t[2], 'token_ttl') or defaultTTL
        local exp = expiryAfter(ttl)
        local reuse
        if rotations == '-' then
          local c = redis.call('HMGET', clientKey(t[2]), 'rotate', 'reuse_grace')
          if c[1] == '1' then reuse = tonumber(c[2] or '') or \#(ClientRecord.defaultReuseGrace) end
        else
          reuse = tonumber(setting(rotations, t[2], 'reuse_grace') or '')
        end
        if reuse and candidate ~= '' then
          -- The session goes on in a new token: the same id, creation, details and
          -- idle timeout, a fresh expiry. The old one works `reuse` seconds more,
          -- then stays as a mark of its replacement for the expired-token grace
          -- period: its use then is a copy's (VerifyScript).
          local nk = tokenKey(candidate)
          guard(userHash, nk)
          redis.call('HSET', nk, unpack(redis.call('HGETALL', tk)))
          redis.call('HSET', nk, 'e', exp, 'w', NOW_TEXT, 's', sealed)
          setIdle(nk, setting(idles, t[2], 'idle_timeout'))
          arm(nk, exp, grace)
          redis.call('HSET', userHash, indexField(t[2]), candidate)
          redis.call('HSET', tk, 'n', candidate, 'e', string.format('%d', NOW + reuse * 1000), 'w', NOW_TEXT)
          redis.call('PEXPIREAT', tk, string.format('%d', NOW + reuse * 1000 + grace))
          emit('token_rotated', t[1], t[2], t[3])
          return {'rotated', candidate, unpack(tokenFields(nk))}
        end
        -- A refresh is a use, and takes the client's idle timeout as it is now.
        redis.call('HSET', tk, 'e', exp, 'w', NOW_TEXT)
        setIdle(tk, setting(idles, t[2], 'idle_timeout'))
        arm(tk, exp, grace)
        emit('token_renewed', t[1], t[2], t[3])
        return {'ok', unpack(tokenFields(tk))}
        """#)
}

/// A token revoked, and whose it was.
package struct RevokedToken: Sendable, Equatable {
    package var user: String
    package var client: String
    package var id: Int64
}

/// Revokes one token (logout).
struct RevokeTokenScript: ScriptCall {
    let digest: String
    let reason: String
    /// The issuer revoking it (revoke/), named in its event; empty for its owner.
    var issuer = ""
    /// The clients whose tokens the caller may revoke (an issuer's); empty: any.
    /// A token of another client is left alone and reported as gone.
    var clients: [String] = []
    /// A client whose tokens the caller may never revoke (an issuer: the console's).
    var except = ""
    /// The user's tag of a token moved into a cluster (`Located.moved`).
    var home: String?

    var group: KeyGroup { home.map { .home(tag: $0, digest: digest) } ?? .token(digest) }
    var arguments: [String] { [digest, reason, issuer, clients.joined(separator: ","), except] }

    enum Revocation {
        case revoked(RevokedToken)
        case alreadyGone
    }

    func decode(_ reply: RedisReply) -> Located<Revocation>? {
        Located.decode(reply) { reply in
            guard let items = reply.array else { return nil }
            if items.isEmpty { return .alreadyGone }
            guard items.count == 3, let user = items[0].string, let client = items[1].string, let id = items[2].int else { return nil }
            return .revoked(RevokedToken(user: user, client: client, id: id))
        }
    }

    static let script = Script(
        parameters: ["digest", "reason", "issuer", "clients", "except"],
        #"""
        local tk = tokenKey(digest)
        local t = redis.call('HMGET', tk, 'u', 'c', 'i', 'n')
        if not t[1] then
          local home = movedHome(digest)
          if home then return {'moved', home} end
          return {}
        end
        if not listed(clients, t[2]) or t[2] == except then return {} end
        local userHash = userKey(t[1])
        guardIndex(userHash)
        guard(userHash, EVENTS)
        forget(tk, userHash, t[2], digest)
        if t[4] then
          -- A token replaced by a rotating refresh: its session is the pair's
          -- current token, which goes with it.
          local cur = redis.call('HGET', userHash, indexField(t[2]))
          if cur and redis.call('HGET', tokenKey(cur), 'i') == t[3] then forget(tokenKey(cur), userHash, t[2], cur) end
        end
        emit('token_revoked', t[1], t[2], t[3], reason, issuer)
        return {t[1], t[2], t[3]}
        """#)
}

/// Revokes a user's tokens: all of them (logoutall), or the one of `client`.
/// Reply: (client, session id) of each token revoked.
package struct RevokeUserTokensScript: ScriptCall {
    let user: String
    let client: String?
    let reason: String
    /// The issuer revoking them (revoke/'s back-channel form), named in the events.
    let issuer: String
    /// Only these clients' tokens (an issuer's); empty: any.
    let clients: [String]
    /// Never this client's token (an issuer's call: the console's).
    let except: String

    package init(user: String, client: String?, reason: String, issuer: String = "", clients: [String] = [], except: String = "") {
        self.user = user
        self.client = client
        self.reason = reason
        self.issuer = issuer
        self.clients = clients
        self.except = except
    }

    package var group: KeyGroup { .user(user) }
    package var arguments: [String] { [user, client ?? "", reason, issuer, clients.joined(separator: ","), except] }

    package func decode(_ reply: RedisReply) -> [(client: String, id: Int64)]? {
        guard let items = reply.array, items.count % 2 == 0 else { return nil }
        var revoked: [(client: String, id: Int64)] = []
        for i in stride(from: 0, to: items.count, by: 2) {
            guard let client = items[i].string, let id = items[i + 1].int else { return nil }
            revoked.append((client, id))
        }
        return revoked
    }

    package static let script = Script(
        parameters: ["user", "only", "reason", "issuer", "clients", "except"],
        #"""
        local userHash = userKey(user)
        local entries = tokenIndex(userHash)
        guardIndex(userHash)
        guard(EVENTS)
        local revoked = {}
        for i = 1, #entries, 2 do
          if (only == '' or entries[i] == only) and listed(clients, entries[i]) and entries[i] ~= except then
            local tk = tokenKey(entries[i + 1])
            local t = redis.call('HMGET', tk, 'i', 'e')
            redis.call('DEL', tk)
            redis.call('HDEL', userHash, indexField(entries[i]))
            if t[1] and live(t[2]) then
              table.insert(revoked, entries[i])
              table.insert(revoked, t[1])
              emit('token_revoked', user, entries[i], t[1], reason, issuer)
            end
          end
        end
        return revoked
        """#)
}

/// durin's session delete: another of the user's tokens, by session id.
struct RevokeSessionScript: ScriptCall {
    let user: String
    let id: Int64
    /// The requesting token, which this cannot delete.
    let currentDigest: String
    /// A client whose sessions are not listed, so not found here either.
    let hiddenClient: String?

    var group: KeyGroup { .user(user) }
    var arguments: [String] { [user, String(id), currentDigest, hiddenClient ?? ""] }

    func decode(_ reply: RedisReply) -> SessionDeletion? {
        guard let items = reply.array, let kind = items.first?.string else { return nil }
        switch (kind, items.count) {
        case ("ok", 2): return items[1].string.map { .deleted(client: $0) }
        case ("current", 1): return .current
        case ("notfound", 1): return .notFound
        default: return nil
        }
    }

    static let script = Script(
        parameters: ["user", "id", "current", "hidden"],
        #"""
        local userHash = userKey(user)
        local entries = tokenIndex(userHash)
        for i = 1, #entries, 2 do
          local tk = tokenKey(entries[i + 1])
          local t = redis.call('HMGET', tk, 'i', 'e')
          if t[1] == id and live(t[2]) then
            -- A client the listing hides is not there to delete either (durin's queryset).
            if entries[i] == hidden then return {'notfound'} end
            if entries[i + 1] == current then return {'current'} end
            guard(EVENTS)
            redis.call('DEL', tk)
            redis.call('HDEL', userHash, indexField(entries[i]))
            emit('token_revoked', user, entries[i], id, 'session_delete')
            return {'ok', entries[i]}
          end
        end
        return {'notfound'}
        """#)
}
