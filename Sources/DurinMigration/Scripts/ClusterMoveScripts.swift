import DurinCore
import DurinStore
import RedisClient

// One server to a Redis Cluster (ClusterMove). A token's hash, its user's index
// entry and its mark move together, in the user's slot; records that exist already
// are left as the cluster has them, so a second run only adds what the first did not
// see.

/// Stores one token from one server in its user's slot on the cluster, with its
/// index entry and a mark (`P{tag}m:<digest>`, expiring with the token) that it came
/// from the server: a later run then never creates it again (a logout on the cluster
/// stays), and knows which tokens to revoke when the server revoked them meanwhile.
/// Outcome: what it did.
struct MoveTokenScript: ScriptCall {
    enum Outcome: String {
        /// Stored, indexed and marked.
        case moved
        /// Already here (a run before this one), with the later expiry.
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

    var group: KeyGroup { .user(user) }
    var arguments: [String] { [user, client, digest, String(graceMillis)] + fields }

    func decode(_ reply: RedisReply) -> Outcome? { reply.string.flatMap(Outcome.init(rawValue:)) }

    static let script = Script(
        parameters: ["user", "client", "digest", "grace"], variadic: true,
        #"""
        grace = tonumber(grace)
        local userHash = userKey(user)
        local tk = tokenKey(digest)
        local mark = movedKey(digest)
        guardIndex(userHash)
        guard(tk, mark)
        if redis.call('EXISTS', userHash) == 0 then return 'nouser' end
        local fields, from = {}, 'never'
        for i = FIRST_EXTRA, #ARGV, 2 do
          table.insert(fields, ARGV[i]); table.insert(fields, ARGV[i + 1])
          if ARGV[i] == 'e' then from = ARGV[i + 1] end
        end
        local e = redis.call('HGET', tk, 'e')
        if e then
          if e ~= 'never' and (from == 'never' or tonumber(from) > tonumber(e)) then
            redis.call('HSET', tk, 'e', from)
            arm(tk, from, grace)
            arm(mark, from, grace)
            return 'updated'
          end
          return 'unchanged'
        end
        if redis.call('EXISTS', mark) == 1 then return 'gone' end
        local current = redis.call('HGET', userHash, indexField(client))
        if current and current ~= digest then
          local other = redis.call('HGET', tokenKey(current), 'e')
          if other and live(other) then return 'superseded' end
        end
        redis.call('HSET', tk, unpack(fields))
        arm(tk, from, grace)
        redis.call('HSET', userHash, indexField(client), digest)
        redis.call('SET', mark, '1')
        arm(mark, from, grace)
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

    static let script = Script(
        parameters: ["floor"],
        #"""
        local current = tonumber(redis.call('GET', KEYS[1]) or '0')
        if current < tonumber(floor) then
          redis.call('SET', KEYS[1], floor)
          return tonumber(floor)
        end
        return current
        """#)
}
