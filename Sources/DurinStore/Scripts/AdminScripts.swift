import DurinCore
package import RedisClient

// The scripts behind durinctl's client, user and issuer commands: each changes a
// record together with the sets and tokens that go with it.

/// Adds a client unless the name exists. Outcome: whether it was added.
struct AddClientScript: ScriptCall {
    let client: ClientRecord

    var group: KeyGroup { .clients }
    var arguments: [String] {
        [
            client.name, client.tokenTTL.storedValue, client.throttleRate?.description ?? "", String(client.created),
            client.idleTimeout.map(String.init) ?? "", client.cookie ? "1" : "", client.rotateOnRefresh ? "1" : "",
            String(client.reuseGrace), client.requireOTP ? "1" : "",
        ]
    }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["name", "ttl", "throttle", "created", "idle", "cookie", "rotate", "reuseGrace", "otp"],
        #"""
        local key = clientKey(name)
        if redis.call('EXISTS', key) == 1 then return 0 end
        guard(CLIENTS)
        redis.call('HSET', key, 'name', name, 'token_ttl', ttl, 'throttle_rate', throttle, 'created', created)
        if idle ~= '' then redis.call('HSET', key, 'idle_timeout', idle) end
        if cookie ~= '' then redis.call('HSET', key, 'cookie', cookie) end
        if rotate ~= '' then redis.call('HSET', key, 'rotate', rotate, 'reuse_grace', reuseGrace) end
        if otp ~= '' then redis.call('HSET', key, 'otp', otp) end
        redis.call('SADD', CLIENTS, name)
        return 1
        """#)
}

/// Removes a client's record: no login issues it a token from then on. Its tokens
/// go in batches afterwards (`RevokeClientTokensScript`, `AdminStore.removeClient`).
/// Outcome: false when there was no such client.
struct RemoveClientScript: ScriptCall {
    let name: String

    var group: KeyGroup { .clients }
    var arguments: [String] { [name] }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["name"],
        #"""
        guard(clientKey(name), CLIENTS)
        if redis.call('DEL', clientKey(name)) == 0 then return 0 end
        redis.call('SREM', CLIENTS, name)
        return 1
        """#)
}

/// One batch of a client's removal on one server: the client's token of each named
/// user goes. A batch is bounded (AdminStore's SSCAN count), so no call holds Redis
/// for long, however many users there are. Outcome: the tokens revoked, or nil when
/// the client exists again (added anew under the same name): the sweep stops there.
struct RevokeClientTokensScript: ScriptCall {
    let client: String
    let users: [String]

    var group: KeyGroup { .global }
    var arguments: [String] { [client] + users }

    func decode(_ reply: RedisReply) -> Int?? { reply.int.map { $0 < 0 ? nil : Int($0) } }

    static let script = Script(
        parameters: ["client"], variadic: true,
        #"""
        if redis.call('EXISTS', clientKey(client)) == 1 then return -1 end
        local n = 0
        for i = FIRST_EXTRA, #ARGV do
          local user = ARGV[i]
          local userHash = userKey(user)
          local d = redis.call('HGET', userHash, indexField(client))
          if d then
            local t = redis.call('HMGET', tokenKey(d), 'i', 'e')
            redis.call('DEL', tokenKey(d))
            redis.call('HDEL', userHash, indexField(client))
            if t[1] and live(t[2]) then
              n = n + 1
              emit('token_revoked', user, client, t[1], 'client_removed')
            end
          end
        end
        return n
        """#)
}

/// Gives the live tokens of a client, among some users, the client's idle timeout as
/// it is now (after `durinctl client set --idle`): a batch of `AdminStore.setIdleTimeout`.
/// Reply: how many tokens were changed.
struct StampClientIdleScript: ScriptCall {
    let client: String
    /// Seconds, or nil: none.
    let idle: Int64?
    /// DURIN_LAST_USED_RESOLUTION in ms (nil: off), as the checks apply it.
    let resolution: Int64?
    let users: [String]
    /// On a cluster one user a call, in that user's slot; else one server.
    let cluster: Bool

    var group: KeyGroup { cluster ? .user(users[0]) : .global }
    var arguments: [String] { [client, idle.map(String.init) ?? "", resolution.map(String.init) ?? ""] + users }

    func decode(_ reply: RedisReply) -> Int? { reply.int.map { Int($0) } }

    /// A token already idle under the new timeout (unused, or never used since it
    /// was made, for longer) expires now, as its next check would expire it: a
    /// dormant token does not wait for a check to end.
    static let script = Script(
        parameters: ["client", "idle", "resolution"], variadic: true,
        #"""
        local n = 0
        for i = FIRST_EXTRA, #ARGV do
          local userHash = userKey(ARGV[i])
          local d = redis.call('HGET', userHash, indexField(client))
          local tk = d and tokenKey(d)
          if tk and redis.call('EXISTS', tk) == 1 then
            local t = redis.call('HMGET', tk, 'w', 't', 'e', 'i')
            if idle ~= '' and live(t[3]) and idleOut(t[1], t[2], idle, resolution) then
              guard(EVENTS)
              forget(tk, userHash, client, d)
              emit('token_expired', ARGV[i], client, t[4], 'idle')
            else
              setIdle(tk, idle)
              n = n + 1
            end
          end
        end
        return n
        """#)
}

/// An event of its own: what an operator did in the console, naming them as `user`
/// and what they acted on as `client` and `reason`.
struct RecordEventScript: ScriptCall {
    let kind: String
    let user: String
    let client: String
    let reason: String
    /// The issuer whose call it records (users/), or empty.
    var issuer = ""

    var group: KeyGroup { .user(user) }
    var arguments: [String] { [kind, user, client, reason, issuer] }

    func decode(_ reply: RedisReply) -> Void? { reply.int != nil ? () : nil }

    static let script = Script(
        parameters: ["kind", "user", "client", "reason", "issuer"],
        #"""
        guard(EVENTS)
        emit(kind, user, client, '', reason, issuer)
        return 1
        """#)
}

/// On a cluster, where the names live in a slot of their own: adds a name to (or
/// removes it from) the set of usernames and their search index, together.
struct IndexUsernameScript: ScriptCall {
    let name: String
    let add: Bool

    var group: KeyGroup { .users }
    var arguments: [String] { [name, add ? "1" : ""] }

    func decode(_ reply: RedisReply) -> Void? { reply.int != nil ? () : nil }

    static let script = Script(
        parameters: ["name", "add"],
        #"""
        if add == '1' then
          redis.call('SADD', USERS, name)
          redis.call('ZADD', USER_INDEX, 0, name)
        else
          redis.call('SREM', USERS, name)
          -- durin's own ACL user has no ZREM (a removal through users/): the name
          -- stays in the search index, which skips names without a user.
          redis.pcall('ZREM', USER_INDEX, name)
        end
        return 1
        """#)
}

/// Adds a user unless the name exists. Outcome: whether it was added.
struct AddUserScript: ScriptCall {
    let user: UserRecord
    let created: EpochMillis
    /// `KeySpace.password(_:)`: the hash goes there, never into the user hash.
    let passwordKey: String

    var group: KeyGroup { .user(user.username) }
    /// The name, then the hash's field/value pairs.
    var arguments: [String] {
        var pairs = ["username", user.username, "is_active", user.isActive ? "1" : "0", "created", String(created)]
        if user.isStaff { pairs += ["is_staff", "1"] }
        for (k, v) in user.profile.sorted(by: { $0.key < $1.key }) { pairs += [k, v] }
        return [user.username, passwordKey, user.passwordHash] + pairs
    }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["name", "passwordKey", "password"], variadic: true,
        #"""
        local key = userKey(name)
        guard(passwordKey)
        if redis.call('EXISTS', key) == 1 then return 0 end
        local fields = {}
        for i = FIRST_EXTRA, #ARGV do table.insert(fields, ARGV[i]) end
        redis.call('HSET', key, unpack(fields))
        redis.call('SET', passwordKey, password)
        -- A cluster keeps the set of names in a slot of its own (AdminStore adds to it).
        if not CLUSTER then
          redis.call('SADD', USERS, name)
          redis.call('ZADD', USER_INDEX, 0, name)
        end
        return 1
        """#)
}

/// Sets an existing user's password hash (in its own key; a `password` field left
/// in the user hash by layout 2 goes). Outcome: false when there is no such user.
struct SetPasswordScript: ScriptCall {
    let name: String
    let passwordKey: String
    let hash: String

    var group: KeyGroup { .user(name) }
    var arguments: [String] { [name, passwordKey, hash] }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["name", "passwordKey", "hash"],
        #"""
        local key = userKey(name)
        guard(passwordKey)
        if redis.call('EXISTS', key) == 0 then return 0 end
        redis.call('SET', passwordKey, hash)
        redis.call('HDEL', key, 'password')
        return 1
        """#)
}

/// Sets a user's `is_active` and marks their tokens, so that the token check reads
/// one key. Outcome: false when there is no such user.
package struct SetActiveScript: ScriptCall {
    let name: String
    let active: Bool
    /// The console's client: a deactivation ends the user's console session for
    /// good (a reactivation brings their other tokens back, never that one).
    let console: String

    package init(name: String, active: Bool, console: String) {
        self.name = name
        self.active = active
        self.console = console
    }

    package var group: KeyGroup { .user(name) }
    package var arguments: [String] { [name, active ? "1" : "0", console] }

    package func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    package static let script = Script(
        parameters: ["name", "active", "console"],
        #"""
        local key = userKey(name)
        if redis.call('EXISTS', key) == 0 then return 0 end
        guardIndex(key)
        guard(EVENTS)
        redis.call('HSET', key, 'is_active', active)
        if active == '0' then endSession(key, name, console, 'user_deactivated') end
        markUserTokens(key, active)
        return 1
        """#)
}

/// Grants or takes away the console (`is_staff`); taking it away ends the user's
/// console session in the same step. Outcome: false when there is no such user.
struct SetStaffScript: ScriptCall {
    let name: String
    let staff: Bool
    let console: String

    var group: KeyGroup { .user(name) }
    var arguments: [String] { [name, staff ? "1" : "0", console] }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["name", "staff", "console"],
        #"""
        local key = userKey(name)
        if redis.call('EXISTS', key) == 0 then return 0 end
        guardIndex(key)
        guard(EVENTS)
        redis.call('HSET', key, 'is_staff', staff)
        if staff == '0' then endSession(key, name, console, 'staff_removed') end
        return 1
        """#)
}

/// Removes a user and their tokens. Outcome: how many tokens went, nil when there
/// is no such user.
struct RemoveUserScript: ScriptCall {
    let name: String
    /// The name's failed-login backstop (`KeySpace.loginFailures(user:)`). Its
    /// per-address windows are left to expire: they are never longer than their rate's period.
    let failuresKey: String
    /// `KeySpace.password(_:)`.
    let passwordKey: String
    /// `KeySpace.totp(_:)`.
    let totpKey: String

    var group: KeyGroup { .user(name) }
    var arguments: [String] { [name, failuresKey, passwordKey, totpKey] }

    func decode(_ reply: RedisReply) -> Int?? { reply.int.map { $0 < 0 ? nil : Int($0) } }

    static let script = Script(
        parameters: ["name", "failuresKey", "passwordKey", "totpKey"],
        #"""
        local key = userKey(name)
        local entries = tokenIndex(key)
        guardIndex(key)
        guard(EVENTS, failuresKey, passwordKey, totpKey)
        if redis.call('DEL', key) == 0 then return -1 end
        redis.call('DEL', passwordKey, totpKey)
        if not CLUSTER then
          redis.call('SREM', USERS, name)
          -- durin's own ACL user has no ZREM (a removal through users/): the name
          -- stays in the search index, which skips names without a user. A refusal
          -- here must not stop the script half-way.
          redis.pcall('ZREM', USER_INDEX, name)
        end
        local n = 0
        for i = 1, #entries, 2 do
          local t = redis.call('HMGET', tokenKey(entries[i + 1]), 'i', 'e')
          redis.call('DEL', tokenKey(entries[i + 1]))
          if t[1] and live(t[2]) then
            n = n + 1
            emit('token_revoked', name, entries[i], t[1], 'user_removed')
          end
        end
        redis.call('DEL', failuresKey)
        return n
        """#)
}

/// Sets fields of an existing client or user hash only. Outcome: false when there
/// is no such hash.
struct SetExistingScript: ScriptCall {
    let key: String
    /// Field/value pairs.
    let pairs: [String]

    var group: KeyGroup { .key(key) }
    var arguments: [String] { pairs }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        variadic: true,
        #"""
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        for i = FIRST_EXTRA, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
        return 1
        """#)
}

/// Adds an issuer unless the name exists. Outcome: whether it was added.
struct AddIssuerScript: ScriptCall {
    let name: String
    let keyDigest: String
    let clients: [String]
    /// `IssuerRight.text`: always written, so that only keys made before rights
    /// existed lack the field.
    let rights: String

    var group: KeyGroup { .issuers }
    var arguments: [String] { [name, keyDigest, clients.joined(separator: ","), rights] }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["name", "digest", "clients", "rights"],
        #"""
        if redis.call('HGET', ISSUERS, name) then return 0 end
        guard(issuerKey(digest), EVENTS)
        redis.call('HSET', issuerKey(digest), 'name', name, 'clients', clients, 'created', NOW_TEXT, 'may', rights)
        redis.call('HSET', ISSUERS, name, digest)
        emit('issuer_added', '', '', '', nil, name)
        return 1
        """#)
}

/// Removes an issuer. Outcome: false when there is no such issuer.
struct RemoveIssuerScript: ScriptCall {
    let name: String

    var group: KeyGroup { .issuers }
    var arguments: [String] { [name] }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["name"],
        #"""
        local digest = redis.call('HGET', ISSUERS, name)
        if not digest then return 0 end
        guard(issuerKey(digest), EVENTS)
        redis.call('DEL', issuerKey(digest))
        redis.call('HDEL', ISSUERS, name)
        emit('issuer_removed', '', '', '', nil, name)
        return 1
        """#)
}

/// Gives an issuer exactly these rights. Outcome: false when there is no such issuer.
struct SetIssuerRightsScript: ScriptCall {
    let name: String
    let rights: String

    var group: KeyGroup { .issuers }
    var arguments: [String] { [name, rights] }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["name", "rights"],
        #"""
        local digest = redis.call('HGET', ISSUERS, name)
        if not digest then return 0 end
        guard(issuerKey(digest), EVENTS)
        redis.call('HSET', issuerKey(digest), 'may', rights)
        emit('issuer_changed', '', '', '', rights, name)
        return 1
        """#)
}

/// A user's new password hash, in one step with what goes with it: the change
/// required at the next login is cleared (or, `requireChange`, set), and the user's
/// other tokens are revoked (`revoke`), all but `keep` (the token of the request
/// that changed it). Outcome: how many tokens went; nil when there is no such user.
struct ChangePasswordScript: ScriptCall {
    let name: String
    let passwordKey: String
    let hash: String
    /// A token digest that stays (password/'s own); empty: none.
    let keep: String
    let revoke: Bool
    let requireChange: Bool
    /// The event recorded (`password_changed`, `password_set`).
    let event: String
    /// The issuer that changed it (users/), named in the event; empty otherwise (the console records its own `console` event).
    let by: String

    var group: KeyGroup { .user(name) }
    var arguments: [String] { [name, passwordKey, hash, keep, revoke ? "1" : "", requireChange ? "1" : "", event, by] }

    func decode(_ reply: RedisReply) -> Int?? { reply.int.map { $0 < 0 ? nil : Int($0) } }

    static let script = Script(
        parameters: ["name", "passwordKey", "hash", "keep", "revoke", "requireChange", "event", "by"],
        #"""
        local key = userKey(name)
        local entries = tokenIndex(key)
        guardIndex(key)
        guard(passwordKey, EVENTS)
        if redis.call('EXISTS', key) == 0 then return -1 end
        redis.call('SET', passwordKey, hash)
        redis.call('HDEL', key, 'password')
        if requireChange == '1' then redis.call('HSET', key, 'pw_change', '1') else redis.call('HDEL', key, 'pw_change') end
        local n = 0
        if revoke == '1' then
          for i = 1, #entries, 2 do
            if entries[i + 1] ~= keep and endSession(key, name, entries[i], 'password_changed') then n = n + 1 end
          end
        end
        emit(event, name, '', '', nil, by)
        return n
        """#)
}

/// An existing user's profile fields: sets some, removes others, and records
/// `user_changed` naming who did it. Outcome: false when there is no such user.
struct UpdateProfileScript: ScriptCall {
    let name: String
    let set: [String: String]
    let remove: [String]
    let by: String

    var group: KeyGroup { .user(name) }
    /// The name, who, how many pairs to set, the pairs, then the fields to remove.
    var arguments: [String] {
        [name, by, String(set.count)] + set.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] } + remove
    }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["name", "by", "count"], variadic: true,
        #"""
        local key = userKey(name)
        guard(EVENTS)
        if redis.call('EXISTS', key) == 0 then return 0 end
        local pairsEnd = FIRST_EXTRA + 2 * tonumber(count) - 1
        for i = FIRST_EXTRA, pairsEnd, 2 do redis.call('HSET', key, ARGV[i], ARGV[i + 1]) end
        for i = pairsEnd + 1, #ARGV do redis.call('HDEL', key, ARGV[i]) end
        emit('user_changed', name, '', '', 'profile', by)
        return 1
        """#)
}
