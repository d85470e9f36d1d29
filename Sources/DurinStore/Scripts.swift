import Crypto
import RedisClient

/// A Lua script run with EVALSHA; Redis keeps it cached by its SHA-1.
struct Script: Sendable {
    let source: String
    let sha: String

    init(_ body: String) {
        source = Script.helpers + body
        sha = Insecure.SHA1.hash(data: Array(source.utf8)).map { b in
            let s = String(b, radix: 16)
            return s.count == 1 ? "0" + s : s
        }.joined()
    }

    /// Shared by the token scripts. `P` is the key prefix, always ARGV[1].
    ///
    /// arm: sets a token's native expiry and its "expired" tombstone (expiry + grace).
    /// reindex: drops index entries whose token is gone (lazy cleanup) and sets the
    /// index's own expiry to its latest token's, or none if one never expires.
    static let helpers = #"""
    local P = ARGV[1]
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
    local function expiryAfter(ttl, now)
      if ttl == 'never' then return 'never' end
      return string.format('%d', now + tonumber(ttl) * 1000)
    end

    """#

    /// ARGV: P, digest. The token check of every authenticated request.
    /// -> {'ok', user, client, expiry, id, created} | {'expired', tombstone} | {'inactive'} | {'invalid'}
    static let verify = Script(#"""
    local digest = ARGV[2]
    local t = redis.call('HMGET', P .. 'token:' .. digest, 'user', 'client', 'expiry', 'id', 'created')
    if not t[1] then
      local tombKey = P .. 'expired:' .. digest
      local tomb = redis.call('GET', tombKey)
      if tomb then
        redis.call('DEL', tombKey)
        return {'expired', tomb}
      end
      return {'invalid'}
    end
    if redis.call('HGET', P .. 'user:' .. t[1], 'is_active') ~= '1' then return {'inactive'} end
    return {'ok', t[1], t[2], t[3], t[4], t[5]}
    """#)

    /// ARGV: P, user, client, digest, sealed, now, grace, mode (keep|refresh|rotate).
    /// One token per (user, client): returns the live one (keep), renews it (refresh),
    /// or replaces it (rotate); creates one when there is none.
    /// -> {'noclient'} | {'inactive'} | {outcome, digest, sealed, expiry, id, created, replacedId}
    static let login = Script(#"""
    local user, client, digest, sealed = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
    local now, grace, mode = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
    local ttl = redis.call('HGET', P .. 'client:' .. client, 'token_ttl')
    if not ttl then return {'noclient'} end
    if redis.call('HGET', P .. 'user:' .. user, 'is_active') ~= '1' then return {'inactive'} end
    local idx = P .. 'user:' .. user .. ':tokens'
    local old = redis.call('HGET', idx, client)
    local replaced = ''
    if old then
      local tk = P .. 'token:' .. old
      local t = redis.call('HMGET', tk, 'expiry', 'id', 'sealed', 'created')
      if t[1] then
        if mode == 'keep' then return {'existing', old, t[3], t[1], t[2], t[4], ''} end
        if mode == 'refresh' then
          local exp = expiryAfter(ttl, now)
          redis.call('HSET', tk, 'expiry', exp)
          arm(tk, old, exp, grace, user .. '\t' .. client .. '\t' .. t[2])
          reindex(idx)
          return {'renewed', old, t[3], exp, t[2], t[4], ''}
        end
        redis.call('DEL', tk, P .. 'expired:' .. old)
        replaced = t[2]
      end
    end
    local id = redis.call('INCR', P .. 'seq:token')
    local tk = P .. 'token:' .. digest
    local exp = expiryAfter(ttl, now)
    redis.call('HSET', tk, 'user', user, 'client', client, 'created', ARGV[6], 'expiry', exp, 'id', id, 'sealed', sealed)
    arm(tk, digest, exp, grace, user .. '\t' .. client .. '\t' .. id)
    redis.call('HSET', idx, client, digest)
    reindex(idx)
    return {'created', digest, sealed, exp, tostring(id), ARGV[6], replaced}
    """#)

    /// ARGV: P, digest, now, grace, default ttl. Same token, fresh expiry.
    /// -> {'ok', expiry, user, client, id} | {'invalid'}
    static let refresh = Script(#"""
    local digest, now, grace = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
    local tk = P .. 'token:' .. digest
    local t = redis.call('HMGET', tk, 'user', 'client', 'id')
    if not t[1] then return {'invalid'} end
    local ttl = redis.call('HGET', P .. 'client:' .. t[2], 'token_ttl') or ARGV[5]
    local exp = expiryAfter(ttl, now)
    redis.call('HSET', tk, 'expiry', exp)
    arm(tk, digest, exp, grace, t[1] .. '\t' .. t[2] .. '\t' .. t[3])
    reindex(P .. 'user:' .. t[1] .. ':tokens')
    return {'ok', exp, t[1], t[2], t[3]}
    """#)

    /// ARGV: P, digest. Revokes one token. -> {user, client, id} or {} when already gone.
    static let revokeToken = Script(#"""
    local digest = ARGV[2]
    local tk = P .. 'token:' .. digest
    local t = redis.call('HMGET', tk, 'user', 'client', 'id')
    if not t[1] then return {} end
    redis.call('DEL', tk, P .. 'expired:' .. digest)
    local idx = P .. 'user:' .. t[1] .. ':tokens'
    if redis.call('HGET', idx, t[2]) == digest then redis.call('HDEL', idx, t[2]) end
    reindex(idx)
    return {t[1], t[2], t[3]}
    """#)

    /// ARGV: P, user, client ('' = every client). Revokes a user's tokens.
    /// -> flat {client, id, ...} of the revoked tokens.
    static let revokeUserTokens = Script(#"""
    local idx = P .. 'user:' .. ARGV[2] .. ':tokens'
    local only = ARGV[3]
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
        end
      end
    end
    reindex(idx)
    return revoked
    """#)

    /// ARGV: P, name, ttl, throttle, created. -> 1 added, 0 exists.
    static let addClient = Script(#"""
    local key = P .. 'client:' .. ARGV[2]
    if redis.call('EXISTS', key) == 1 then return 0 end
    redis.call('HSET', key, 'name', ARGV[2], 'token_ttl', ARGV[3], 'throttle_rate', ARGV[4], 'created', ARGV[5])
    redis.call('SADD', P .. 'clients', ARGV[2])
    return 1
    """#)

    /// ARGV: P, name. Removes a client and, as durin's CASCADE does, its tokens.
    /// -> number of tokens removed, or -1 when there is no such client.
    static let removeClient = Script(#"""
    local name = ARGV[2]
    if redis.call('DEL', P .. 'client:' .. name) == 0 then return -1 end
    redis.call('SREM', P .. 'clients', name)
    local n = 0
    for _, user in ipairs(redis.call('SMEMBERS', P .. 'users')) do
      local idx = P .. 'user:' .. user .. ':tokens'
      local d = redis.call('HGET', idx, name)
      if d then
        if redis.call('DEL', P .. 'token:' .. d) == 1 then n = n + 1 end
        redis.call('DEL', P .. 'expired:' .. d)
        redis.call('HDEL', idx, name)
        reindex(idx)
      end
    end
    return n
    """#)

    /// ARGV: P, name, then field/value pairs. -> 1 added, 0 exists.
    static let addUser = Script(#"""
    local key = P .. 'user:' .. ARGV[2]
    if redis.call('EXISTS', key) == 1 then return 0 end
    local fields = {}
    for i = 3, #ARGV do table.insert(fields, ARGV[i]) end
    redis.call('HSET', key, unpack(fields))
    redis.call('SADD', P .. 'users', ARGV[2])
    return 1
    """#)

    /// ARGV: P, name. Removes a user and their tokens. -> tokens removed, or -1.
    static let removeUser = Script(#"""
    local name = ARGV[2]
    if redis.call('DEL', P .. 'user:' .. name) == 0 then return -1 end
    redis.call('SREM', P .. 'users', name)
    local idx = P .. 'user:' .. name .. ':tokens'
    local entries = redis.call('HGETALL', idx)
    local n = 0
    for i = 1, #entries, 2 do
      n = n + redis.call('DEL', P .. 'token:' .. entries[i + 1])
      redis.call('DEL', P .. 'expired:' .. entries[i + 1])
    end
    redis.call('DEL', idx)
    return n
    """#)

    /// ARGV: P, name, field, value. Sets a field of an existing hash (client or user).
    /// KEYS[1]: the hash. -> 1 set, 0 no such hash.
    static let setExisting = Script(#"""
    if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
    for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
    return 1
    """#)
}
