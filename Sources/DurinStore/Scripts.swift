import Crypto
import RedisClient

/// A Lua script run with EVALSHA; Redis keeps it cached by its SHA-1.
///
/// Every script receives ARGV[1] = key prefix, ARGV[2] = events stream MAXLEN
/// (0: no events), ARGV[3] = now (epoch ms); its own arguments start at ARGV[4].
struct Script: Sendable {
    let source: String
    let sha: String

    init(_ body: String) {
        // The shebang makes Redis 7 treat the script as one that may write and refuse
        // it before it starts when memory is full (noeviction): without it, a script
        // whose first write is allowed may go on writing past maxmemory, and one whose
        // first write is refused fails half-way. Keys are still named in the script
        // (no cluster mode), which a shebang script may do.
        source = "#!lua\n" + Script.helpers + body
        sha = Insecure.SHA1.hash(data: Array(source.utf8)).map { b in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }

    /// Shared by the scripts.
    ///
    /// emit: appends an event (durin's signals) to the stream, never a token.
    /// arm: sets a token's native expiry and its "expired" tombstone (expiry + grace).
    /// reindex: drops index entries whose token is gone (lazy cleanup) and sets the
    /// index's own expiry to its latest token's, or none if one never expires.
    /// window: DRF's SimpleRateThrottle history as a sorted set; returns the wait in
    /// seconds when `limit` requests already fell in the last `period` seconds, else
    /// records this one (when `record`) and returns 0.
    static let helpers = #"""
    local P, MAXLEN, NOW = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
    local TOKEN_FIELDS = {\#(StoredToken.luaFields)}
    local function tokenFields(tk) return redis.call('HMGET', tk, unpack(TOKEN_FIELDS)) end
    local function emit(kind, user, client, id, reason, issuer)
      if MAXLEN > 0 then
        local fields = {'type', kind, 'user', user or '', 'client', client or '', 'session', tostring(id or ''),
                        'time', string.format('%d', NOW)}
        if reason then table.insert(fields, 'reason'); table.insert(fields, reason) end
        if issuer and issuer ~= '' then table.insert(fields, 'issuer'); table.insert(fields, issuer) end
        redis.call('XADD', P .. 'events', 'MAXLEN', '~', MAXLEN, '*', unpack(fields))
      end
    end
    local function arm(tk, digest, exp, grace, tomb)
      local tombKey = P .. 'expired:' .. digest
      if exp == 'never' then
        redis.call('PERSIST', tk)
        redis.call('DEL', tombKey)
      else
        local e = tonumber(exp)
        redis.call('PEXPIREAT', tk, e)
        if grace > 0 then
          redis.call('SET', tombKey, tomb, 'PXAT', string.format('%d', e + grace))
        else
          redis.call('DEL', tombKey)
        end
      end
    end
    local function reindex(idx)
      local entries = redis.call('HGETALL', idx)
      local latest, forever = 0, false
      for i = 1, #entries, 2 do
        local exp = redis.call('HGET', P .. 'token:' .. entries[i + 1], 'expiry')
        if not exp then
          redis.call('HDEL', idx, entries[i])
        elseif exp == 'never' then
          forever = true
        elseif tonumber(exp) > latest then
          latest = tonumber(exp)
        end
      end
      if forever then
        redis.call('PERSIST', idx)
      elseif latest > 0 then
        redis.call('PEXPIREAT', idx, string.format('%d', latest))
      end
    end
    local function expiryAfter(ttl)
      if ttl == 'never' then return 'never' end
      return string.format('%d', NOW + tonumber(ttl) * 1000)
    end
    local function window(key, limit, period, record)
      local periodMs = period * 1000
      redis.call('ZREMRANGEBYSCORE', key, '-inf', NOW - periodMs)
      local n = redis.call('ZCARD', key)
      if n >= limit then
        local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
        local wait = math.ceil((periodMs - (NOW - tonumber(oldest[2]))) / 1000)
        if wait < 1 then wait = 1 end
        return wait
      end
      if record then
        local seq = redis.call('INCR', P .. 'seq:throttle')
        redis.call('ZADD', key, NOW, string.format('%d', NOW) .. '-' .. seq)
        redis.call('PEXPIRE', key, periodMs)
      end
      return 0
    end
    local function parseRate(rate)
      local n, unit = string.match(rate or '', '^(%d+)/(%a)')
      local periods = {s = 1, m = 60, h = 3600, d = 86400}
      if not n or not periods[unit] then return nil end
      return tonumber(n), periods[unit]
    end

    """#

    /// ARGV: digest, allow (space-separated), deny, throttle ('1'), default rate.
    /// The token check of every authenticated request: authentication, the
    /// location's client rules, then its throttle, as DRF orders them.
    /// -> {'ok', <StoredToken.fields>} | {'expired'} | {'inactive'} | {'invalid'}
    ///    | {'denied', user, client} | {'throttled', wait, user, client}
    static let verify = Script(#"""
    local digest = ARGV[4]
    local t = tokenFields(P .. 'token:' .. digest)
    if not t[1] then
      local tombKey = P .. 'expired:' .. digest
      local tomb = redis.call('GET', tombKey)
      if tomb then
        redis.call('DEL', tombKey)
        local user, client, id = string.match(tomb, '^([^\t]*)\t([^\t]*)\t(.*)$')
        emit('token_expired', user, client, id)
        return {'expired'}
      end
      return {'invalid'}
    end
    if redis.call('HGET', P .. 'user:' .. t[1], 'is_active') ~= '1' then return {'inactive'} end
    local function listed(list, name)
      for word in string.gmatch(list, '%S+') do if word == name then return true end end
      return false
    end
    if (ARGV[5] ~= '' and not listed(ARGV[5], t[2])) or listed(ARGV[6], t[2]) then
      return {'denied', t[1], t[2]}
    end
    if ARGV[7] == '1' then
      local rate = redis.call('HGET', P .. 'client:' .. t[2], 'throttle_rate')
      if not rate or rate == '' then rate = ARGV[8] end
      local limit, period = parseRate(rate)
      if limit then
        local wait = window(P .. 'throttle:' .. t[1] .. ':' .. t[2], limit, period, true)
        if wait > 0 then return {'throttled', wait, t[1], t[2]} end
      end
    end
    return {'ok', unpack(t)}
    """#)

    /// ARGV: address, rate. Counts a login attempt from one client address.
    /// -> wait in seconds when over the rate, else 0.
    static let loginAddressCheck = Script(#"""
    local limit, period = parseRate(ARGV[5])
    if not limit then return 0 end
    return window(P .. 'loginaddr:' .. ARGV[4], limit, period, true)
    """#)

    /// ARGV: username, failure rate ('' = unlimited). Before a password is hashed:
    /// counts the attempt against the username and returns the user's record,
    /// unless the name is over its rate. -> {'limited', wait} | {'ok', field, value, ...}
    static let loginPrecheck = Script(#"""
    local user = ARGV[4]
    -- The attempt is counted now, before the password is hashed, so concurrent
    -- guesses cannot all pass a check that is counted only after the hash. A
    -- successful login clears the name's window (login script).
    local limit, period = parseRate(ARGV[5])
    if limit then
      local wait = window(P .. 'loginfail:' .. user, limit, period, true)
      if wait > 0 then return {'limited', wait, 'user'} end
    end
    local fields = redis.call('HGETALL', P .. 'user:' .. ARGV[4])
    table.insert(fields, 1, 'ok')
    return fields
    """#)

    /// ARGV: username. Records a failed login (the attempt was already counted by
    /// loginPrecheck).
    static let loginFailed = Script(#"""
    emit('login_failed', ARGV[4], '', '')
    return 1
    """#)

    /// KEYS[1]: a user hash; ARGV: the hash the login checked, its replacement. Replaces
    /// the password hash only if it is still the one checked (a concurrent password
    /// change wins). -> 1 replaced, 0 not.
    static let upgradePasswordHash = Script(#"""
    if redis.call('HGET', KEYS[1], 'password') ~= ARGV[4] then return 0 end
    redis.call('HSET', KEYS[1], 'password', ARGV[5])
    return 1
    """#)

    /// ARGV: user, client, digest, sealed, grace, mode (keep|refresh|rotate|new), event,
    /// issuer (trusted issuance: named in the events).
    /// One token per (user, client): returns the live one (keep), renews it (refresh),
    /// replaces it (rotate) or refuses (new); creates one when there is none.
    /// -> {'noclient'} | {'inactive'} | {'exists'} | {outcome, digest, replacedId, <StoredToken.fields>}
    static let login = Script(#"""
    local user, client, digest, sealed = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
    local grace, mode, event, issuer = tonumber(ARGV[8]), ARGV[9], ARGV[10], ARGV[11]
    local ttl = redis.call('HGET', P .. 'client:' .. client, 'token_ttl')
    if not ttl then return {'noclient'} end
    if redis.call('HGET', P .. 'user:' .. user, 'is_active') ~= '1' then return {'inactive'} end
    if event ~= '' then redis.call('DEL', P .. 'loginfail:' .. user) end
    local idx = P .. 'user:' .. user .. ':tokens'
    local old = redis.call('HGET', idx, client)
    local replaced = ''
    if old then
      local tk = P .. 'token:' .. old
      local t = redis.call('HMGET', tk, 'expiry', 'id', 'sealed', 'created')
      if t[1] then
        if mode == 'new' then return {'exists'} end
        if mode == 'keep' then
          if event ~= '' then emit(event, user, client, t[2], nil, issuer) end
          return {'existing', old, '', unpack(tokenFields(tk))}
        end
        if mode == 'refresh' then
          local exp = expiryAfter(ttl)
          redis.call('HSET', tk, 'expiry', exp)
          arm(tk, old, exp, grace, user .. '\t' .. client .. '\t' .. t[2])
          reindex(idx)
          emit('token_renewed', user, client, t[2], nil, issuer)
          if event ~= '' then emit(event, user, client, t[2], nil, issuer) end
          return {'renewed', old, '', unpack(tokenFields(tk))}
        end
        redis.call('DEL', tk, P .. 'expired:' .. old)
        emit('token_revoked', user, client, t[2], 'rotated')
        replaced = t[2]
      end
    end
    local id = redis.call('INCR', P .. 'seq:token')
    local tk = P .. 'token:' .. digest
    local exp = expiryAfter(ttl)
    redis.call('HSET', tk, 'user', user, 'client', client, 'created', ARGV[3], 'expiry', exp, 'id', id, 'sealed', sealed)
    arm(tk, digest, exp, grace, user .. '\t' .. client .. '\t' .. id)
    redis.call('HSET', idx, client, digest)
    reindex(idx)
    emit('token_created', user, client, id, nil, issuer)
    if event ~= '' then emit(event, user, client, id, nil, issuer) end
    return {'created', digest, replaced, unpack(tokenFields(tk))}
    """#)

    /// ARGV: digest, grace, default ttl. Same token, fresh expiry.
    /// -> {'ok', <StoredToken.fields>} | {'invalid'}
    static let refresh = Script(#"""
    local digest, grace = ARGV[4], tonumber(ARGV[5])
    local tk = P .. 'token:' .. digest
    local t = redis.call('HMGET', tk, 'user', 'client', 'id')
    if not t[1] then return {'invalid'} end
    local ttl = redis.call('HGET', P .. 'client:' .. t[2], 'token_ttl') or ARGV[6]
    local exp = expiryAfter(ttl)
    redis.call('HSET', tk, 'expiry', exp)
    arm(tk, digest, exp, grace, t[1] .. '\t' .. t[2] .. '\t' .. t[3])
    reindex(P .. 'user:' .. t[1] .. ':tokens')
    emit('token_renewed', t[1], t[2], t[3])
    return {'ok', unpack(tokenFields(tk))}
    """#)

    /// ARGV: digest, reason. Revokes one token. -> {user, client, id} or {} when already gone.
    static let revokeToken = Script(#"""
    local digest = ARGV[4]
    local tk = P .. 'token:' .. digest
    local t = redis.call('HMGET', tk, 'user', 'client', 'id')
    if not t[1] then return {} end
    redis.call('DEL', tk, P .. 'expired:' .. digest)
    local idx = P .. 'user:' .. t[1] .. ':tokens'
    if redis.call('HGET', idx, t[2]) == digest then redis.call('HDEL', idx, t[2]) end
    reindex(idx)
    emit('token_revoked', t[1], t[2], t[3], ARGV[5])
    return {t[1], t[2], t[3]}
    """#)

    /// ARGV: user, client ('' = every client), reason. Revokes a user's tokens.
    /// -> flat {client, id, ...} of the revoked tokens.
    static let revokeUserTokens = Script(#"""
    local user, only = ARGV[4], ARGV[5]
    local idx = P .. 'user:' .. user .. ':tokens'
    local entries = redis.call('HGETALL', idx)
    local revoked = {}
    for i = 1, #entries, 2 do
      if only == '' or entries[i] == only then
        local tk = P .. 'token:' .. entries[i + 1]
        local id = redis.call('HGET', tk, 'id')
        redis.call('DEL', tk, P .. 'expired:' .. entries[i + 1])
        redis.call('HDEL', idx, entries[i])
        if id then
          table.insert(revoked, entries[i])
          table.insert(revoked, id)
          emit('token_revoked', user, entries[i], id, ARGV[6])
        end
      end
    end
    reindex(idx)
    return revoked
    """#)

    /// ARGV: user, session id, digest of the requesting token. durin's session delete.
    /// -> {'current'} | {'notfound'} | {'ok', client}
    static let revokeSession = Script(#"""
    local user, id, current, hidden = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
    local idx = P .. 'user:' .. user .. ':tokens'
    local entries = redis.call('HGETALL', idx)
    for i = 1, #entries, 2 do
      local tk = P .. 'token:' .. entries[i + 1]
      if redis.call('HGET', tk, 'id') == id then
        -- A client the listing hides is not there to delete either (durin's queryset).
        if entries[i] == hidden then return {'notfound'} end
        if entries[i + 1] == current then return {'current'} end
        redis.call('DEL', tk, P .. 'expired:' .. entries[i + 1])
        redis.call('HDEL', idx, entries[i])
        reindex(idx)
        emit('token_revoked', user, entries[i], id, 'session_delete')
        return {'ok', entries[i]}
      end
    end
    return {'notfound'}
    """#)

    /// ARGV: name, ttl, throttle, created. -> 1 added, 0 exists.
    static let addClient = Script(#"""
    local key = P .. 'client:' .. ARGV[4]
    if redis.call('EXISTS', key) == 1 then return 0 end
    redis.call('HSET', key, 'name', ARGV[4], 'token_ttl', ARGV[5], 'throttle_rate', ARGV[6], 'created', ARGV[7])
    redis.call('SADD', P .. 'clients', ARGV[4])
    return 1
    """#)

    /// ARGV: name. Removes a client and, as durin's CASCADE does, its tokens.
    /// -> number of tokens removed, or -1 when there is no such client.
    static let removeClient = Script(#"""
    local name = ARGV[4]
    if redis.call('DEL', P .. 'client:' .. name) == 0 then return -1 end
    redis.call('SREM', P .. 'clients', name)
    local n = 0
    for _, user in ipairs(redis.call('SMEMBERS', P .. 'users')) do
      local idx = P .. 'user:' .. user .. ':tokens'
      local d = redis.call('HGET', idx, name)
      if d then
        local id = redis.call('HGET', P .. 'token:' .. d, 'id')
        if redis.call('DEL', P .. 'token:' .. d) == 1 then
          n = n + 1
          emit('token_revoked', user, name, id, 'client_removed')
        end
        redis.call('DEL', P .. 'expired:' .. d)
        redis.call('HDEL', idx, name)
        reindex(idx)
      end
    end
    return n
    """#)

    /// ARGV: name, then field/value pairs. -> 1 added, 0 exists.
    static let addUser = Script(#"""
    local key = P .. 'user:' .. ARGV[4]
    if redis.call('EXISTS', key) == 1 then return 0 end
    local fields = {}
    for i = 5, #ARGV do table.insert(fields, ARGV[i]) end
    redis.call('HSET', key, unpack(fields))
    redis.call('SADD', P .. 'users', ARGV[4])
    return 1
    """#)

    /// ARGV: name, '1' or '0'. Sets a user's `is_active` and marks their tokens, so
    /// that the token check reads one key. -> 1, or 0 when there is no such user.
    static let setActive = Script(#"""
    local name, active = ARGV[4], ARGV[5]
    local key = P .. 'user:' .. name
    if redis.call('EXISTS', key) == 0 then return 0 end
    redis.call('HSET', key, 'is_active', active)
    local entries = redis.call('HGETALL', P .. 'user:' .. name .. ':tokens')
    for i = 2, #entries, 2 do
      local tk = P .. 'token:' .. entries[i]
      if redis.call('EXISTS', tk) == 1 then
        if active == '1' then redis.call('HDEL', tk, 'inactive') else redis.call('HSET', tk, 'inactive', '1') end
      end
    end
    return 1
    """#)

    /// ARGV: name. Removes a user and their tokens. -> tokens removed, or -1.
    static let removeUser = Script(#"""
    local name = ARGV[4]
    if redis.call('DEL', P .. 'user:' .. name) == 0 then return -1 end
    redis.call('SREM', P .. 'users', name)
    local idx = P .. 'user:' .. name .. ':tokens'
    local entries = redis.call('HGETALL', idx)
    local n = 0
    for i = 1, #entries, 2 do
      local id = redis.call('HGET', P .. 'token:' .. entries[i + 1], 'id')
      if redis.call('DEL', P .. 'token:' .. entries[i + 1]) == 1 then
        n = n + 1
        emit('token_revoked', name, entries[i], id, 'user_removed')
      end
      redis.call('DEL', P .. 'expired:' .. entries[i + 1])
    end
    redis.call('DEL', idx, P .. 'loginfail:' .. name)
    return n
    """#)

    /// KEYS[1]: a client or user hash; ARGV: field/value pairs. Sets fields of an
    /// existing hash only. -> 1 set, 0 no such hash.
    static let setExisting = Script(#"""
    if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
    for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
    return 1
    """#)
}

/// The arguments every script starts with.
struct ScriptContext: Sendable {
    let prefix: String
    let eventsMaxLength: Int

    func header(now: Int64) -> [String] { [prefix, String(eventsMaxLength), String(now)] }
}
