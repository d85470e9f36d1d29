import DurinCore
import DurinStore
import RedisClient

// Layout 1 to layout 2 (docs/redis-layout.md, "Layouts"). Each token moves in one
// script, so a migration stopped at any point leaves every token in exactly one
// layout, and running it again finishes the job.

/// Moves one layout-1 token (`token:<sha256>`, its tombstone and its index entry)
/// to layout 2 (`t:<digest>`, an index field of the user hash). Outcome: whether
/// it was still there to move.
struct MigrateTokenScript: ScriptCall {
    let sha256Hex: String
    let digest: String
    /// The token sealed again under `digest` (layout 2's form), or "" when the
    /// layout-1 value could not be opened: login then replaces the token.
    let sealed: String
    let graceMillis: Int64

    /// Layout 1 existed on one server only.
    var group: KeyGroup { .global }
    var arguments: [String] { [sha256Hex, digest, sealed, String(graceMillis)] }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["sha", "digest", "sealed", "grace"],
        #"""
        local old = layout1TokenKey(sha)
        local o = redis.call('HMGET', old, 'user', 'client', 'created', 'expiry', 'id', 'inactive')
        if not o[1] then return 0 end
        local tk = tokenKey(digest)
        redis.call('HSET', tk, 'u', o[1], 'c', o[2], 't', o[3] or '0', 'e', o[4] or 'never', 'i', o[5], 's', sealed)
        if o[6] == '1' then redis.call('HSET', tk, 'x', '1') end
        arm(tk, o[4] or 'never', tonumber(grace))
        local index = layout1IndexKey(o[1])
        if redis.call('HGET', index, o[2]) == sha then
          redis.call('HSET', userKey(o[1]), indexField(o[2]), digest)
          redis.call('HDEL', index, o[2])
        end
        redis.call('DEL', old, layout1ExpiredKey(sha))
        return 1
        """#)
}

/// Moves a layout-1 tombstone (an expired token's `expired:<sha256>`, kept for its
/// grace period) to an expired layout-2 token hash with the same native expiry, so
/// that the token still answers "The given token has expired." once.
struct MigrateTombstoneScript: ScriptCall {
    let sha256Hex: String
    let digest: String
    let graceMillis: Int64

    var group: KeyGroup { .global }
    var arguments: [String] { [sha256Hex, digest, String(graceMillis)] }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["sha", "digest", "grace"],
        #"""
        local tomb = layout1ExpiredKey(sha)
        local text = redis.call('GET', tomb)
        if not text then return 0 end
        -- A tombstone whose token is still there moves with the token.
        if redis.call('EXISTS', layout1TokenKey(sha)) == 1 then return 0 end
        local deadline = redis.call('PEXPIRETIME', tomb)
        local user, client, id = string.match(text, '^([^\t]*)\t([^\t]*)\t(.*)$')
        redis.call('DEL', tomb)
        if not user or deadline <= NOW then return 1 end
        local exp = math.min(deadline - tonumber(grace), NOW)
        local tk = tokenKey(digest)
        redis.call('HSET', tk, 'u', user, 'c', client, 'e', string.format('%d', exp), 'i', id)
        redis.call('PEXPIREAT', tk, deadline)
        return 1
        """#)
}

/// Layout 2 to 3: a user's password hash leaves the user hash for its own key
/// (`KeySpace.password`), where the read-only inspection user cannot read it. A key
/// already there is newer (written by a release that knows it) and stays. Outcome:
/// whether a hash moved.
struct MovePasswordScript: ScriptCall {
    let name: String
    let passwordKey: String

    var group: KeyGroup { .user(name) }
    var arguments: [String] { [name, passwordKey] }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["name", "passwordKey"],
        #"""
        local key = userKey(name)
        guard(passwordKey)
        local hash = redis.call('HGET', key, 'password')
        if not hash then return 0 end
        redis.call('SET', passwordKey, hash, 'NX')
        redis.call('HDEL', key, 'password')
        return 1
        """#)
}

/// Layout 2 to 3: a token's sealed copy made by the construction before layout 3,
/// replaced by the AEAD's, unless it changed meanwhile (a login rotated the token).
/// Outcome: whether it was replaced.
struct ResealTokenScript: ScriptCall {
    /// The token hash, as found: its own key routes the script (a moved-in token's
    /// hash is under its user's tag, not its digest's).
    let key: String
    let old: String
    let new: String

    var group: KeyGroup { .key(key) }
    var arguments: [String] { [old, new] }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["old", "new"],
        #"""
        if redis.call('HGET', KEYS[1], 's') ~= old then return 0 end
        redis.call('HSET', KEYS[1], 's', new)
        return 1
        """#)
}
