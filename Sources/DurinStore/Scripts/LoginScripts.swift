import DurinCore
import RedisClient

// The scripts of a login, in the order a login runs them: the per-address count
// on the worker, then on a hasher the per-username count and the user record,
// the token, and a password hash upgrade or a failure event.

/// Counts one request in a sliding window of its own key: a login attempt from one
/// client address (`KeySpace.loginAddress`), an issuer's introspection call
/// (`KeySpace.issuerCalls`). Outcome: the wait in seconds when the key is over
/// `rate`, else nil.
struct RateWindowScript: ScriptCall {
    /// The window's key, its own slot on a cluster.
    let key: String
    let rate: ThrottleRate

    var group: KeyGroup { .key(key) }
    var arguments: [String] { [rate.description] }

    func decode(_ reply: RedisReply) -> Int?? {
        guard let wait = reply.int else { return nil }
        return .some(wait > 0 ? Int(wait) : nil)
    }

    static let script = Script(
        parameters: ["rate"],
        #"""
        local limit, period = parseRate(rate)
        if not limit then return 0 end
        return window(KEYS[1], limit, period, true)
        """#)
}

/// Before a password is hashed: counts the attempt against the username from this
/// address group, and against the username from anywhere, and returns the user's
/// record, unless either is over its rate.
struct LoginPrecheckScript: ScriptCall {
    let username: String
    /// `KeySpace.loginFailures(user:addressGroup:)`: a sliding window of attempts.
    let pairKey: String
    /// `KeySpace.loginFailures(user:)`: a counter for the backstop's period.
    let backstopKey: String
    /// nil: no limit.
    let pairRate: ThrottleRate?
    let userRate: ThrottleRate?
    /// `KeySpace.password(_:)`: the hash to check.
    let passwordKey: String

    var group: KeyGroup { .user(username) }
    var arguments: [String] { [pairKey, backstopKey, pairRate?.description ?? "", userRate?.description ?? "", passwordKey] }

    func decode(_ reply: RedisReply) -> LoginPrecheck? {
        guard let items = reply.array, let kind = items.first?.string else { return nil }
        switch kind {
        case "limited":
            guard items.count == 2, let wait = items[1].int else { return nil }
            return .limited(wait: Int(wait))
        case "ok":
            guard items.count >= 2 else { return nil }
            return .proceed(
                UserRecord(
                    fields: RedisReply.array(Array(items.dropFirst(2))).fieldMap,
                    password: items[1].string.flatMap { $0.isEmpty ? nil : $0 }))
        default: return nil
        }
    }

    static let script = Script(
        parameters: ["pairKey", "backstopKey", "pairRate", "userRate", "passwordKey"],
        #"""
        -- The attempt is counted now, before the password is hashed, so concurrent
        -- guesses cannot all pass a check that is counted only after the hash. A
        -- successful login clears the pair's window (login script). Both limits are
        -- checked before either counts, so a refused attempt spends neither. The
        -- backstop is a plain counter: one small key per name, whatever its rate.
        guard(KEYS[1], pairKey, backstopKey)
        local pairLimit, pairPeriod = parseRate(pairRate)
        local userLimit, userPeriod = parseRate(userRate)
        local wait = 0
        if pairLimit then wait = window(pairKey, pairLimit, pairPeriod, false) end
        if userLimit then
          local n = tonumber(redis.call('GET', backstopKey) or '0')
          if n >= userLimit then
            local left = redis.call('PTTL', backstopKey)
            if left < 0 then
              redis.call('PEXPIRE', backstopKey, userPeriod * 1000)
              left = userPeriod * 1000
            end
            wait = math.max(wait, math.ceil(left / 1000))
          end
        end
        if wait > 0 then return {'limited', wait} end
        if pairLimit then window(pairKey, pairLimit, pairPeriod, true) end
        if userLimit and redis.call('INCR', backstopKey) == 1 then redis.call('PEXPIRE', backstopKey, userPeriod * 1000) end
        local fields = redis.call('HGETALL', KEYS[1])
        table.insert(fields, 1, redis.call('GET', passwordKey) or '')
        table.insert(fields, 1, 'ok')
        return fields
        """#)
}

/// Records a failed login (the attempt was already counted by the precheck).
struct LoginFailedScript: ScriptCall {
    let username: String

    var group: KeyGroup { .user(username) }
    var arguments: [String] { [username] }

    func decode(_ reply: RedisReply) -> Void? { reply.int == 1 ? () : nil }

    static let script = Script(
        parameters: ["username"],
        #"""
        emit('login_failed', username, '', '')
        return 1
        """#)
}

/// Replaces a user's password hash after a successful login (Django's
/// `must_update`), only if it is still the one checked: a concurrent password
/// change wins. Outcome: whether it was replaced.
struct UpgradePasswordHashScript: ScriptCall {
    let user: String
    let checked: String
    let replacement: String
    let passwordKey: String

    /// KEYS[1] is the user hash.
    var group: KeyGroup { .user(user) }
    var arguments: [String] { [checked, replacement, passwordKey] }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["checked", "replacement", "passwordKey"],
        #"""
        guard(passwordKey)
        local current = storedPassword(KEYS[1], passwordKey)
        if current ~= checked then return 0 end
        redis.call('SET', passwordKey, replacement)
        redis.call('HDEL', KEYS[1], 'password')
        return 1
        """#)
}

/// One token per (user, client): returns the live one (keep), renews it
/// (refresh), replaces it (rotate) or refuses (new); creates one when there is none.
struct LoginScript: ScriptCall {
    enum Outcome {
        case noClient
        case inactive
        /// `new` found a live token.
        case exists
        /// The pair's token: `candidate` when created, else the one it already had.
        /// `replacedID`: the session id of the token a rotation revoked.
        case issued(IssuedToken.Outcome, StoredToken, replacedID: Int64?)
    }

    let user: String
    let client: String
    /// The new token's digest and sealed copy, used when one is created.
    let candidateDigest: String
    let sealed: String
    let graceMillis: Int64
    let mode: LoginMode
    /// The event to record besides the token's own (`login`, `token_issued`), or none.
    let event: String?
    /// The issuer of a trusted issuance, named in the events.
    let issuer: String?
    /// The clients' TTLs as `setting` reads them (`-`: from their records).
    let ttls: String
    /// The clients' idle timeouts, the same way.
    let idles: String
    /// On a cluster, the number of the user's tag, which session ids end in.
    let tagNumber: Int?
    /// A password login's failure window (`KeySpace.loginFailures(user:addressGroup:)`),
    /// cleared by its success; nil for any other issuance.
    let failuresKey: String?
    /// Where the login came from, kept with the token it gets.
    let details: SessionDetails
    /// DURIN_LAST_USED_RESOLUTION in ms (nil: off), for the pair's token's idle check.
    let resolution: Int64?

    var group: KeyGroup { .user(user) }
    var arguments: [String] {
        [
            user, client, candidateDigest, sealed, String(graceMillis), mode.rawValue, event ?? "", issuer ?? "", ttls,
            tagNumber.map(String.init) ?? "", failuresKey ?? "", idles, details.address ?? "", details.userAgent ?? "",
            details.label ?? "", resolution.map(String.init) ?? "",
        ]
    }

    func decode(_ reply: RedisReply) -> Outcome? {
        guard let items = reply.array, let kind = items.first?.string else { return nil }
        switch (kind, items.count) {
        case ("noclient", 1): return .noClient
        case ("inactive", 1): return .inactive
        case ("exists", 1): return .exists
        default: break
        }
        guard let issued = IssuedToken.Outcome(rawValue: kind), items.count > 3, let digest = items[1].string,
            let stored = StoredToken(digest: digest, values: items.dropFirst(3)), stored.sealed != nil
        else { return nil }
        return .issued(issued, stored, replacedID: items[2].int)
    }

    static let script = Script(
        parameters: [
            "user", "client", "digest", "sealed", "grace", "mode", "event", "issuer", "ttls", "tagNumber",
            "failuresKey", "idles", "address", "agent", "label", "resolution",
        ],
        #"""
        grace = tonumber(grace)
        local ttl = setting(ttls, client, 'token_ttl')
        if not ttl then return {'noclient'} end
        local idle = setting(idles, client, 'idle_timeout')
        -- The login's details (the latest login's address and agent; a label stays
        -- until another is given), its use, and the client's idle timeout as it is now.
        local function stamp(tk)
          redis.call('HSET', tk, 'w', NOW_TEXT)
          if address ~= '' then redis.call('HSET', tk, 'a', address) else redis.call('HDEL', tk, 'a') end
          if agent ~= '' then redis.call('HSET', tk, 'g', agent) else redis.call('HDEL', tk, 'g') end
          if label ~= '' then redis.call('HSET', tk, 'l', label) end
          setIdle(tk, idle)
        end
        local userHash = userKey(user)
        if redis.call('HGET', userHash, 'is_active') ~= '1' then return {'inactive'} end
        local old = redis.call('HGET', userHash, indexField(client))
        guardIndex(userHash)
        if failuresKey ~= '' then guard(failuresKey) end
        guard(EVENTS, tokenKey(digest), TOKEN_SEQUENCE)
        if failuresKey ~= '' then redis.call('DEL', failuresKey) end
        local replaced = ''
        if old then
          local tk = tokenKey(old)
          local t = redis.call('HMGET', tk, 'e', 'i', 'w', 'd', 't')
          -- An expired token is left to its grace period (to be reported once), an
          -- idle one goes (as a check would remove it); the pair gets a new one.
          if t[1] and live(t[1]) and idleOut(t[3], t[5], t[4], resolution) then
            forget(tk, userHash, client, old)
            emit('token_expired', user, client, t[2], 'idle')
          elseif t[1] and live(t[1]) then
            if mode == 'new' then return {'exists'} end
            if mode == 'keep' then
              stamp(tk)
              if event ~= '' then emit(event, user, client, t[2], nil, issuer) end
              return {'existing', old, '', unpack(tokenFields(tk))}
            end
            if mode == 'refresh' then
              local exp = expiryAfter(ttl)
              redis.call('HSET', tk, 'e', exp)
              stamp(tk)
              arm(tk, exp, grace)
              emit('token_renewed', user, client, t[2], nil, issuer)
              if event ~= '' then emit(event, user, client, t[2], nil, issuer) end
              return {'renewed', old, '', unpack(tokenFields(tk))}
            end
            redis.call('DEL', tk)
            emit('token_revoked', user, client, t[2], 'rotated')
            replaced = t[2]
          end
        end
        -- Session ids: one counter on one server; on a cluster, the counter of the
        -- user's tag, in its slot, times 4096 plus the tag's number (KeySpace).
        local id = redis.call('INCR', TOKEN_SEQUENCE)
        if CLUSTER then id = id * 4096 + tonumber(tagNumber) end
        local tk = tokenKey(digest)
        local exp = expiryAfter(ttl)
        redis.call('HSET', tk, 'u', user, 'c', client, 't', NOW_TEXT, 'e', exp, 'i', id, 's', sealed)
        stamp(tk)
        arm(tk, exp, grace)
        redis.call('HSET', userHash, indexField(client), digest)
        reindex(userHash)
        emit('token_created', user, client, id, nil, issuer)
        if event ~= '' then emit(event, user, client, id, nil, issuer) end
        return {'created', digest, replaced, unpack(tokenFields(tk))}
        """#)
}
