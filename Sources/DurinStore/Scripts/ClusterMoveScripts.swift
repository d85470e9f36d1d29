import DurinCore
import RedisClient

// One server to a Redis Cluster (ClusterMove). A token's hash and its user's index
// entry move together, in the user's slot; records that exist already are left as
// the cluster has them, so a second run only adds what the first did not see.

/// Stores one token from one server in its user's slot on the cluster, with its
/// index entry. Outcome: what it did.
struct MoveTokenScript: ScriptCall {
    enum Outcome: String {
        /// Stored, and indexed.
        case moved
        /// Already here (a run before this one): its expiry is the later of the two.
        case unchanged
        /// Already here, and refreshed on the server since: the later expiry taken.
        case updated
        /// Moved by a run before this one and gone here since (revoked, expired): not
        /// brought back.
        case gone
        /// The pair (user, client) holds another live token here, issued on the
        /// cluster since the switch: it wins.
        case superseded
        /// No such user here (its record did not move).
        case noUser = "nouser"
    }

    let user: String
    let client: String
    let digest: String
    /// The token hash's fields and values as the server held them.
    let fields: [String]
    let graceMillis: Int64
    /// Whether it may be created: false for a token an earlier run saw (it was
    /// created before that run started), which is only ever updated.
    let create: Bool

    var group: KeyGroup { .user(user) }
    var arguments: [String] { [user, client, digest, String(graceMillis), create ? "1" : "0"] + fields }

    func decode(_ reply: RedisReply) -> Outcome? { reply.string.flatMap(Outcome.init(rawValue:)) }

    static let script = Script(parameters: ["user", "client", "digest", "grace", "create"], variadic: true, #"""
    local userKey = P .. 'user:' .. user
    local tk = P .. 't:' .. digest
    guardIndex(userKey)
    guard(tk)
    if redis.call('EXISTS', userKey) == 0 then return 'nouser' end
    local fields = {}
    for i = FIRST_EXTRA, #ARGV do table.insert(fields, ARGV[i]) end
    local e = redis.call('HGET', tk, 'e')
    if e then
      local from
      for i = 1, #fields, 2 do if fields[i] == 'e' then from = fields[i + 1] end end
      if from and e ~= 'never' and (from == 'never' or tonumber(from) > tonumber(e)) then
        redis.call('HSET', tk, 'e', from)
        arm(tk, from, tonumber(grace))
        return 'updated'
      end
      return 'unchanged'
    end
    if create ~= '1' then return 'gone' end
    local current = redis.call('HGET', userKey, 't:' .. client)
    if current and current ~= digest then
      local e = redis.call('HGET', P .. 't:' .. current, 'e')
      if e and live(e) then return 'superseded' end
    end
    redis.call('HSET', tk, unpack(fields))
    arm(tk, redis.call('HGET', tk, 'e') or 'never', tonumber(grace))
    redis.call('HSET', userKey, 't:' .. client, digest)
    return 'moved'
    """#)
}

/// Raises a session-id counter to at least `floor` (never lowers it), so that ids
/// issued after a move never repeat one that moved.
struct SessionFloorScript: ScriptCall {
    /// The counter (`P seq:token`, or a cluster tag's `P{tag}seq:token`).
    let key: String
    let floor: Int64

    var group: KeyGroup { .key(key) }
    var arguments: [String] { [String(floor)] }

    func decode(_ reply: RedisReply) -> Int64? { reply.int }

    static let script = Script(parameters: ["floor"], #"""
    local current = tonumber(redis.call('GET', KEYS[1]) or '0')
    if current < tonumber(floor) then
      redis.call('SET', KEYS[1], floor)
      return tonumber(floor)
    end
    return current
    """#)
}
