import DurinCore
package import RedisClient

/// What durin needs of its Redis user, tried once at start (durin-fcgi) and by
/// `durinctl check`, so that a narrow ACL is a clear error naming the missing right
/// there, not a 500 at the first request that happens to need it.
///
/// Every command durin sends is tried for real, on throw-away keys under the
/// prefix (so the ACL's key pattern is tried too), and removed again. The list
/// is the one `redis/durin.acl` grants.
package enum RedisRights {
    package enum Problem: Error, Equatable, Sendable, CustomStringConvertible {
        /// Redis cannot be reached: not a configuration error, it may come up later.
        case unavailable(String)
        /// AUTH or SELECT was refused: the credentials in DURIN_REDIS_URL are wrong.
        case loginRefused(String)
        /// Commands, keys or channels the Redis user may not use, with Redis's reasons.
        case missingRights([String])

        package var description: String {
            switch self {
            case .unavailable(let why): return "Redis unavailable: \(why)"
            case .loginRefused(let why): return "Redis refused the login of DURIN_REDIS_URL: \(why)"
            case .missingRights(let reasons):
                return "the Redis user lacks rights durin needs (see the example ACL, durin.acl): "
                    + reasons.joined(separator: "; ")
            }
        }
    }

    /// Every command durin-fcgi and durinctl send outside scripts, and every one
    /// their scripts call: what an ACL user for durin must be granted.
    package static let commands = [
        "ping", "auth", "select", "evalsha", "eval", "script|load", "script|exists", "client|id", "client|info", "client|tracking", "role",
        "cluster|slots", "asking",
        "subscribe", "unsubscribe", "get", "set", "del", "exists", "incr", "hget", "hmget", "hgetall", "hset", "hdel",
        "sadd", "srem", "smembers", "zadd", "zcard", "zrange", "zremrangebyscore", "xadd", "xread", "xrange", "xrevrange",
        "pexpire", "pexpireat", "pexpiretime", "pttl", "persist", "scan", "sscan", "wait", "time",
    ]

    /// Granted by the shipped ACL but not required: without them durin starts and
    /// works, and says what it lacks where they would have been used (`info`: the
    /// console's Redis memory and persistence). A right added after a release is
    /// optional this way, so an upgrade never stops on an older ACL. `client|no-evict`:
    /// durin's connections are kept out of maxmemory-clients' evictions.
    package static let optionalCommands = ["info", "client|no-evict"]

    /// Runs every command of the scripts on keys `<base>:*`, collecting refusals
    /// instead of stopping at the first, and deletes what it made.
    static let probe = Script(
        #"""
        local base = KEYS[1]
        local refused = {}
        local function try(command, ...)
          local ok = redis.pcall(command, ...)
          if type(ok) == 'table' and ok.err then
            table.insert(refused, "'" .. string.lower(command) .. "' in a script: " .. ok.err)
          end
        end
        local s, h, set, z, x = base .. ':s', base .. ':h', base .. ':set', base .. ':z', base .. ':x'
        try('SET', s, '1', 'PX', '60000')
        try('GET', s)
        try('INCR', s)
        try('EXISTS', s)
        try('PEXPIRE', s, '60000')
        try('PEXPIREAT', s, string.format('%d', NOW + 60000))
        try('PERSIST', s)
        try('PEXPIRETIME', s)
        try('PTTL', s)
        try('HSET', h, 'f', '1')
        try('HGET', h, 'f')
        try('HMGET', h, 'f', 'g')
        try('HGETALL', h)
        try('HDEL', h, 'f')
        try('SADD', set, 'm')
        try('SMEMBERS', set)
        try('SREM', set, 'm')
        try('ZADD', z, '1', 'm')
        try('ZCARD', z)
        try('TIME')
        try('ZRANGE', z, 0, 0, 'WITHSCORES')
        try('ZREMRANGEBYSCORE', z, '-inf', '+inf')
        try('XADD', x, 'MAXLEN', '~', '1', '*', 'f', 'v')
        try('DEL', s, h, set, z, x)
        return refused
        """#)

    /// Checks the rights of `connection`'s user under `keys.prefix`.
    /// - Parameter tracking: also check what the verification cache needs.
    package static func check(_ connection: any RedisCommandConnection, keys: KeySpace, tracking: Bool) throws(Problem) {
        var refused: [String] = []
        func send(_ args: [String]) throws(Problem) -> RedisReply {
            do {
                return try connection.send(args)
            } catch .rejected(let why) {
                throw .loginRefused(why)
            } catch {
                throw .unavailable(error.description)
            }
        }
        /// A refusal for now (memory full, loading) is not a missing right.
        func refusal(_ message: String) throws(Problem) -> String {
            if case .unavailable = StoreError(reply: message) { throw .unavailable(message) }
            return message
        }
        func expect(_ args: [String]) throws(Problem) {
            if case .error(let message) = try send(args) { refused.append(try refusal(message)) }
        }
        try expect(["PING"])
        // Through Sentinel, every connection confirms its master with ROLE.
        try expect(["ROLE"])
        var nonce = SystemRandomNumberGenerator()
        // One hash tag for every throw-away key, so that on a cluster they share a slot.
        let base = keys.prefix + "{rights-check:" + String(UInt64.random(in: .min ... .max, using: &nonce), radix: 16) + "}"
        let tail = ["1", base, keys.prefix, "0", String(WallClock.nowMillis()), keys.cluster ? "1" : "", ""]
        try expect(["SCRIPT", "EXISTS", probe.sha])
        try expect(["SCRIPT", "LOAD", probe.source])
        switch try send(["EVALSHA", probe.sha] + tail) {
        case .error(let message) where message.hasPrefix("NOSCRIPT"):
            // SCRIPT LOAD was refused (recorded above); EVAL still tries the commands.
            break
        case .error(let message): refused.append(try refusal(message))
        case .array(let reasons): refused += reasons.compactMap(\.string)
        default: break
        }
        switch try send(["EVAL", probe.source] + tail) {
        case .error(let message): refused.append(try refusal(message))
        default: break
        }
        try expect(["SCAN", "0", "MATCH", base + ":*", "COUNT", "10"])
        try expect(["SSCAN", base + ":set", "0", "COUNT", "10"])
        try expect(["WAIT", "0", "1"])
        try expect(["XREVRANGE", base + ":x", "+", "-", "COUNT", "1"])
        try expect(["XRANGE", base + ":x", "-", "+", "COUNT", "1"])
        if keys.cluster {
            try expect(["CLUSTER", "SLOTS"])
            // ASKING is harmless on its own: it only marks the next command.
            try expect(["ASKING"])
        }
        try expect(["XREAD", "COUNT", "1", "STREAMS", base + ":x", "0"])
        if tracking {
            try expect(["CLIENT", "ID"])
            try expect(["CLIENT", "INFO"])
            if case .error(let message) = try send(["CLIENT", "TRACKING", "on"]) {
                refused.append(message)
            } else {
                try expect(["CLIENT", "TRACKING", "off"])
            }
            // The invalidation listener's channel; the connection leaves subscriber
            // mode again at once.
            if case .error(let message) = try send(["SUBSCRIBE", "__redis__:invalidate"]) {
                refused.append(message)
            } else {
                try expect(["UNSUBSCRIBE", "__redis__:invalidate"])
            }
        }
        // Deduplicated, in the order found: one line per missing right.
        var seen = Set<String>()
        refused = refused.filter { seen.insert($0).inserted }.map { reason in
            reason.contains("access") && reason.contains("key") ? "\(reason) (durin's keys: \(keys.prefix)*)" : reason
        }
        if !refused.isEmpty { throw .missingRights(refused) }
    }
}
