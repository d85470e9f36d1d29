import Codecs
import Crypto
package import DurinCore
package import RedisClient

/// A Lua script run with EVALSHA; Redis keeps it cached by its SHA-1.
///
/// Every script receives ARGV[1] = the prefix of its key group (`P`, or `P{tag}` on a
/// cluster: see KeySpace), ARGV[2] = events stream MAXLEN (0: no events), ARGV[3] =
/// now (epoch ms), ARGV[4] = `1` on a cluster, ARGV[5] = the id of the request
/// the script works for (nginx's `$request_id`, or empty), which its events carry. Its own arguments follow, and reach
/// the Lua as locals named by `parameters`: the names are declared once, here, and
/// the Swift side passes them through a `ScriptCall`, in the same order. KEYS[1] is
/// the group's routing key, by which a cluster sends the script to its slot's
/// master. docs/redis-layout.md lists which keys each script touches.
package struct Script: Sendable {
    package let source: String
    package let sha: String
    /// The names of the script's own arguments, bound to Lua locals in this order.
    package let parameters: [String]
    /// Whether more arguments may follow the named ones (field/value pairs),
    /// read in the Lua from ARGV[FIRST_EXTRA].
    package let variadic: Bool

    package init(parameters: [String] = [], variadic: Bool = false, _ body: String) {
        self.parameters = parameters
        self.variadic = variadic
        var prologue = ""
        if !parameters.isEmpty {
            let values = parameters.indices.map { "ARGV[\($0 + ScriptContext.count + 1)]" }
            prologue = "local \(parameters.joined(separator: ", ")) = \(values.joined(separator: ", "))\n"
        }
        if variadic { prologue += "local FIRST_EXTRA = \(parameters.count + ScriptContext.count + 1)\n" }
        // The shebang makes Redis 7 treat the script as one that may write and refuse
        // it before it starts when memory is full (noeviction): without it, a script
        // whose first write is allowed may go on writing past maxmemory, and one whose
        // first write is refused fails half-way. Keys are named in the script, which a
        // shebang script may do as long as they are all in KEYS[1]'s slot (a
        // cluster refuses any other).
        source = "#!lua\n" + Script.helpers + prologue + body
        sha = Hex.encode(Insecure.SHA1.hash(data: Array(source.utf8)))
    }

    /// Every script of the store (DurinMigration has its own: `MigrationScripts.all`).
    package static let all: [Script] = [
        VerifyScript.script, RateWindowScript.script, LoginPrecheckScript.script, LoginFailedScript.script,
        UpgradePasswordHashScript.script, LoginScript.script, RefreshScript.script, RevokeTokenScript.script,
        RevokeUserTokensScript.script, RevokeSessionScript.script, AddClientScript.script, RemoveClientScript.script,
        RevokeClientTokensScript.script, AddUserScript.script, RemoveUserScript.script, SetExistingScript.script,
        SetActiveScript.script, AddIssuerScript.script, RemoveIssuerScript.script, TouchScript.script,
        StampClientIdleScript.script, IndexUsernameScript.script, RecordEventScript.script, SetStaffScript.script,
        SetPasswordScript.script, SetIssuerRightsScript.script, ChangePasswordScript.script, UpdateProfileScript.script,
        EnrollTOTPScript.script, UseTOTPStepScript.script, RemoveTOTPScript.script,
    ]

    /// Shared by the scripts.
    ///
    /// movedHome: on a cluster, the user's tag of a token moved in from one server,
    /// whose hash lives in its user's slot, not its digest's (KeySpace.tokenHome).
    /// guard, guardIndex: on a cluster, touch the keys a script is about to write (or
    /// the tokens of a user's index) before its first write. While Redis migrates a
    /// slot some of its keys may already be on the other node, and touching one
    /// fails the script; failing before any write leaves nothing half-done, and the
    /// connection retries once the slot has moved (RedisClusterConnection).
    /// emit: appends an event (durin's signals) to the stream, never a token.
    /// live: whether a stored expiry (ms or `never`) is still ahead.
    /// arm: sets a token's native expiry: its expiry plus the grace period, in which
    /// it stays to answer "The given token has expired." once.
    /// reindex: drops the user's index entries (`t:<client>` fields of the user hash)
    /// whose token is gone or expired (lazy cleanup).
    /// tokenIndex: the user's index as a flat {client, digest, ...}.
    /// markUserTokens: marks (`active` '0') or unmarks ('1') the user's tokens with `x`,
    /// so that the token check reads one key (durinctl user deactivate, an import).
    /// window: DRF's SimpleRateThrottle history as a sorted set; returns the wait in
    /// seconds when `limit` requests already fell in the last `period` seconds, else
    /// records this one (when `record`) and returns 0.
    /// setting: a client's setting, from `list` (` name=value ...`, as a cluster's
    /// responders pass their copy of the client records: those live in another
    /// slot), or from its record when `list` is `-` (one server).
    /// writeInterval, idleOut, stale: a token's last use and idle timeout (LastUse).
    /// setIdle: a token's idle timeout as its client's is now ('' or false: none).
    /// forget: removes a token and its user's index entry for it.
    /// endSession: revokes the user's token of one client, with its event (a
    /// console session, when its user loses the console); true when it was live.
    /// storedPassword: a user's password hash, from its own key, else (layout 2,
    /// before the migration) the user hash's field.
    package static let helpers = #"""
        local P, MAXLEN, NOW = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
        local NOW_TEXT = ARGV[3]
        local CLUSTER = ARGV[4] == '1'
        local TRACE = ARGV[5] or ''
        """# + KeySpace.luaBuilders + #"""
            local TOKEN_FIELDS = {\#(StoredToken.luaFields)}
            \#(StoredToken.luaFieldIndex)
            local function tokenFields(tk) return redis.call('HMGET', tk, unpack(TOKEN_FIELDS)) end

            """# + LastUse.lua + #"""
            local function emit(kind, user, client, id, reason, issuer, extra)
              if MAXLEN > 0 then
                local fields = {'type', kind, 'user', user or '', 'client', client or '', 'session', tostring(id or ''),
                                'time', string.format('%d', NOW)}
                if reason then table.insert(fields, 'reason'); table.insert(fields, reason) end
                if issuer and issuer ~= '' then table.insert(fields, 'issuer'); table.insert(fields, issuer) end
                for _, v in ipairs(extra or {}) do table.insert(fields, v) end
                if TRACE ~= '' then table.insert(fields, 'request_id'); table.insert(fields, TRACE) end
                redis.call('XADD', EVENTS, 'MAXLEN', '~', MAXLEN, '*', unpack(fields))
              end
            end
            -- Whether a client is in a comma-separated list; an empty list names every client.
            local function listed(list, client)
              if list == '' then return true end
              return string.find(',' .. list .. ',', ',' .. client .. ',', 1, true) ~= nil
            end
            local function guard(...)
              if not CLUSTER then return end
              for i = 1, select('#', ...) do
                local key = select(i, ...)
                if key then redis.call('EXISTS', key) end
              end
            end
            local function guardIndex(userHash)
              if not CLUSTER then return end
              local fields = redis.call('HGETALL', userHash)
              for i = 1, #fields, 2 do
                if string.sub(fields[i], 1, #INDEX_PREFIX) == INDEX_PREFIX then redis.call('EXISTS', tokenKey(fields[i + 1])) end
              end
            end
            local function movedHome(digest)
              if not CLUSTER then return nil end
              return redis.call('GET', homeKey(digest))
            end
            local function live(exp)
              return exp == 'never' or tonumber(exp) > NOW
            end
            local function arm(tk, exp, grace)
              if exp == 'never' then
                redis.call('PERSIST', tk)
              else
                redis.call('PEXPIREAT', tk, string.format('%d', tonumber(exp) + grace))
              end
            end
            local function reindex(userHash)
              local fields = redis.call('HGETALL', userHash)
              for i = 1, #fields, 2 do
                if string.sub(fields[i], 1, #INDEX_PREFIX) == INDEX_PREFIX then
                  local exp = redis.call('HGET', tokenKey(fields[i + 1]), 'e')
                  if not exp or not live(exp) then redis.call('HDEL', userHash, fields[i]) end
                end
              end
            end
            local function tokenIndex(userHash)
              local fields, out = redis.call('HGETALL', userHash), {}
              for i = 1, #fields, 2 do
                if string.sub(fields[i], 1, #INDEX_PREFIX) == INDEX_PREFIX then
                  table.insert(out, string.sub(fields[i], #INDEX_PREFIX + 1))
                  table.insert(out, fields[i + 1])
                end
              end
              return out
            end
            local function markUserTokens(userHash, active)
              local entries = tokenIndex(userHash)
              for i = 2, #entries, 2 do
                local tk = tokenKey(entries[i])
                if redis.call('EXISTS', tk) == 1 then
                  if active == '1' then redis.call('HDEL', tk, 'x') else redis.call('HSET', tk, 'x', '1') end
                end
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
                -- Unique without a counter: the set's size and the server's own clock (NOW
                -- is the responder's, and responders' clocks may disagree).
                local t = redis.call('TIME')
                redis.call('ZADD', key, NOW, string.format('%d-%d-%s.%s', NOW, n, t[1], t[2]))
                redis.call('PEXPIRE', key, periodMs)
              end
              return 0
            end
            local function setting(list, client, field)
              if list == '-' then return redis.call('HGET', clientKey(client), field) end
              local _, stop = string.find(list, ' ' .. client .. '=', 1, true)
              if not stop then return nil end
              return string.match(list, '^(%S*)', stop + 1)
            end
            local function setIdle(tk, idle)
              if idle and idle ~= '' then redis.call('HSET', tk, 'd', idle) else redis.call('HDEL', tk, 'd') end
            end
            local function forget(tk, userHash, client, digest)
              redis.call('DEL', tk)
              if redis.call('HGET', userHash, indexField(client)) == digest then redis.call('HDEL', userHash, indexField(client)) end
            end
            local function endSession(userHash, user, client, reason)
              if client == '' then return false end
              local digest = redis.call('HGET', userHash, indexField(client))
              if not digest then return false end
              local tk = tokenKey(digest)
              local t = redis.call('HMGET', tk, 'i', 'e')
              forget(tk, userHash, client, digest)
              if t[1] and live(t[2]) then
                emit('token_revoked', user, client, t[1], reason)
                return true
              end
              return false
            end
            local function storedPassword(userHash, passwordKey)
              return redis.call('GET', passwordKey) or redis.call('HGET', userHash, 'password')
            end
            local function parseRate(rate)
              local n, unit = string.match(rate or '', '^(%d+)/(%a)')
              local periods = {s = 1, m = 60, h = 3600, d = 86400}
              if not n or not periods[unit] then return nil end
              return tonumber(n), periods[unit]
            end

            """#
}

/// The arguments every script starts with.
package struct ScriptContext: Sendable {
    /// How many: ARGV[1...count].
    package static let count = 5
    package let keys: KeySpace
    /// DURIN_EVENTS_MAXLEN: about how many events are kept in all (0: none).
    package let eventsMaxLength: Int

    /// The MAXLEN each stream is trimmed to. One server has one stream. A cluster
    /// has one per tag, 4,096 of them, so each keeps a 4,096th of the total, but at
    /// least one stream node's worth (stream-node-max-entries, 100): trimming with
    /// `MAXLEN ~` frees whole nodes only, so less would not keep a stream shorter.
    package var streamMaxLength: Int {
        guard keys.cluster, eventsMaxLength > 0 else { return eventsMaxLength }
        return max(Self.streamNodeEntries, (eventsMaxLength + KeySpace.tagCount - 1) / KeySpace.tagCount)
    }

    /// Redis's stream-node-max-entries (default 100): what `MAXLEN ~` may leave
    /// above the limit, per stream.
    package static let streamNodeEntries = 100

    package init(keys: KeySpace, eventsMaxLength: Int) {
        self.keys = keys
        self.eventsMaxLength = eventsMaxLength
    }

    package func header(group: KeyGroup, now: EpochMillis, trace: String = "") -> [String] {
        [keys.prefix(of: group), String(streamMaxLength), String(now), keys.cluster ? "1" : "", trace]
    }
}

/// One script, typed: the arguments it takes and what its reply means. The reply's
/// shape is decoded here and nowhere else; the argument order is the script's
/// `parameters`.
package protocol ScriptCall {
    associatedtype Outcome
    static var script: Script { get }
    /// The keys it touches: they all share the group's prefix (on a cluster, a
    /// slot), and its routing key is KEYS[1].
    var group: KeyGroup { get }
    /// Values for the script's `parameters`, in their order (then any extras).
    var arguments: [String] { get }
    /// The reply decoded; nil when it is not a reply this script gives.
    func decode(_ reply: RedisReply) -> Outcome?
}

extension RedisCommandConnection {
    /// Runs a script by SHA, loading it on NOSCRIPT (after a Redis restart or
    /// SCRIPT FLUSH) with a plain EVAL, which also caches it again.
    package func run(_ script: Script, keys: [String] = [], args: [String]) throws(StoreError) -> RedisReply {
        let tail = [String(keys.count)] + keys + args
        var reply: RedisReply
        do {
            reply = try send(["EVALSHA", script.sha] + tail)
            if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
                reply = try send(["EVAL", script.source] + tail)
            }
        } catch {
            throw StoreError(error)
        }
        if case .error(let message) = reply { throw StoreError(reply: message) }
        return reply
    }

    /// Runs a typed script call: an unexpected reply is a store error naming the script.
    package func run<Call: ScriptCall>(
        _ call: Call, context: ScriptContext, now: EpochMillis = WallClock.nowMillis(),
        trace: String = ""
    ) throws(StoreError) -> Call.Outcome {
        let arguments = call.arguments
        let expected = Call.script.parameters.count
        guard arguments.count == expected || (Call.script.variadic && arguments.count >= expected) else {
            throw .unexpected("\(Call.self) takes \(expected) arguments, given \(arguments.count)")
        }
        let keys = context.keys.routingKey(of: call.group).map { [$0] } ?? []
        let reply = try run(Call.script, keys: keys, args: context.header(group: call.group, now: now, trace: trace) + arguments)
        guard let outcome = call.decode(reply) else { throw .unexpected("\(Call.self): \(reply)") }
        return outcome
    }

    /// Runs many calls of one script, `batch` to a round trip (pipelined), for bulk
    /// work (`durinctl import`). Each call is still one atomic script; an error reply
    /// fails that call only. Throws when Redis cannot be reached: the calls answered
    /// until then have run, each whole.
    package func runPipelined<Call: ScriptCall>(_ calls: [Call], context: ScriptContext, batch: Int = 256)
        throws(StoreError) -> [Result<Call.Outcome, StoreError>]
    {
        guard !calls.isEmpty else { return [] }
        let expected = Call.script.parameters.count
        _ = try call(["SCRIPT", "LOAD", Call.script.source])
        var results: [Result<Call.Outcome, StoreError>] = []
        results.reserveCapacity(calls.count)
        var start = calls.startIndex
        while start < calls.endIndex {
            let chunk = calls[start..<min(start + batch, calls.endIndex)]
            start = chunk.endIndex
            let now = WallClock.nowMillis()
            var commands: [[String]] = []
            for c in chunk {
                let arguments = c.arguments
                guard arguments.count == expected || (Call.script.variadic && arguments.count >= expected) else {
                    throw .unexpected("\(Call.self) takes \(expected) arguments, given \(arguments.count)")
                }
                let keys = context.keys.routingKey(of: c.group).map { [$0] } ?? []
                commands.append(
                    ["EVALSHA", Call.script.sha, String(keys.count)] + keys
                        + context.header(group: c.group, now: now) + arguments)
            }
            let replies: [RedisReply]
            do { replies = try pipeline(commands) } catch { throw StoreError(error) }
            for (c, reply) in zip(chunk, replies) {
                switch reply {
                case .error(let message) where message.hasPrefix("NOSCRIPT"):
                    // The script cache was flushed meanwhile: this one on its own (EVAL reloads it).
                    do { results.append(.success(try run(c, context: context, now: now))) } catch { results.append(.failure(error)) }
                case .error(let message):
                    results.append(.failure(StoreError(reply: message)))
                default:
                    if let outcome = c.decode(reply) {
                        results.append(.success(outcome))
                    } else {
                        results.append(.failure(.unexpected("\(Call.self): \(reply)")))
                    }
                }
            }
        }
        return results
    }
}
