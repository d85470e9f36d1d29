import DurinCore
import DurinStore
import RedisClient

// The scripts of `durinctl import django`: one record each, so an interrupted import
// leaves every record whole, and running one twice changes nothing the second time.
// With `dry` '1' each decides what it would do and writes nothing.
//
// A record imported before carries `import_digest`, the digest of what was imported.
// A record whose digest is unchanged is left as it is here, so changes made here
// since (a password hash upgraded at login, `durinctl client set`, a deactivation)
// survive a second import; a record changed in Django since is updated.
//
// Of these, only ImportTokenScript knows the token layout (layout 2, with the shared
// helpers `live`, `arm`, `reindex`, `tokenIndex`); ImportUserScript marks a user's
// tokens through `markUserTokens`, as SetActiveScript does. TokenStore.importTokens
// is ImportTokenScript's one caller.

/// Creates or updates a client. Outcome: what it did (or would do).
struct ImportClientScript: ScriptCall {
    let client: ClientRecord
    let digest: String
    let dryRun: Bool

    var group: KeyGroup { .clients }
    var arguments: [String] {
        [
            client.name, client.tokenTTL.storedValue, client.throttleRate?.description ?? "", String(client.created), digest,
            dryRun ? "1" : "0",
        ]
    }

    func decode(_ reply: RedisReply) -> ImportOutcome? { reply.string.flatMap(ImportOutcome.init(rawValue:)) }

    static let script = Script(
        parameters: ["name", "ttl", "throttle", "created", "digest", "dry"],
        #"""
        local key = clientKey(name)
        if redis.call('EXISTS', key) == 0 then
          if dry == '1' then return 'created' end
          redis.call('HSET', key, 'name', name, 'token_ttl', ttl, 'throttle_rate', throttle, 'created', created,
                     'import_digest', digest)
          redis.call('SADD', CLIENTS, name)
          return 'created'
        end
        local t = redis.call('HMGET', key, 'import_digest', 'token_ttl', 'throttle_rate')
        if t[1] == digest then return 'unchanged' end
        if t[2] == ttl and (t[3] or '') == throttle then
          if dry ~= '1' then redis.call('HSET', key, 'import_digest', digest) end
          return 'unchanged'
        end
        if dry == '1' then return 'updated' end
        redis.call('HSET', key, 'token_ttl', ttl, 'throttle_rate', throttle, 'import_digest', digest)
        return 'updated'
        """#)
}

/// Creates or updates a user; a change of `is_active` marks or unmarks their tokens
/// as `durinctl user deactivate` does. Outcome: what it did (or would do).
struct ImportUserScript: ScriptCall {
    let user: UserRecord
    let created: EpochMillis
    let digest: String
    let dryRun: Bool
    /// `KeySpace.password(_:)`: the hash's own key.
    let passwordKey: String

    var group: KeyGroup { .user(user.username) }
    /// The name, then the imported fields as field/value pairs.
    var arguments: [String] {
        var pairs = ["is_active", user.isActive ? "1" : "0"]
        for (k, v) in user.profile.sorted(by: { $0.key < $1.key }) { pairs += [k, v] }
        return [user.username, digest, String(created), dryRun ? "1" : "0", passwordKey, user.passwordHash] + pairs
    }

    func decode(_ reply: RedisReply) -> ImportOutcome? { reply.string.flatMap(ImportOutcome.init(rawValue:)) }

    static let script = Script(
        parameters: ["name", "digest", "created", "dry", "passwordKey", "password"], variadic: true,
        #"""
        local key = userKey(name)
        local fields = {}
        for i = FIRST_EXTRA, #ARGV do table.insert(fields, ARGV[i]) end
        if redis.call('EXISTS', key) == 0 then
          if dry == '1' then return 'created' end
          redis.call('HSET', key, 'username', name, 'created', created, 'import_digest', digest, unpack(fields))
          redis.call('SET', passwordKey, password)
          redis.call('SADD', USERS, name)
          redis.call('ZADD', USER_INDEX, 0, name)
          return 'created'
        end
        if redis.call('HGET', key, 'import_digest') == digest then return 'unchanged' end
        local same = storedPassword(key, passwordKey) == password
        for i = 1, #fields, 2 do
          if redis.call('HGET', key, fields[i]) ~= fields[i + 1] then same = false end
        end
        if same then
          if dry ~= '1' then redis.call('HSET', key, 'import_digest', digest) end
          return 'unchanged'
        end
        if dry == '1' then return 'updated' end
        local was = redis.call('HGET', key, 'is_active')
        redis.call('HSET', key, 'import_digest', digest, unpack(fields))
        redis.call('SET', passwordKey, password)
        redis.call('HDEL', key, 'password')
        local active = redis.call('HGET', key, 'is_active')
        if active ~= was then markUserTokens(key, active) end
        return 'updated'
        """#)
}

/// Stores a token another system issued exactly as the login script stores its own:
/// the token hash `t:<digest>` with layout 2's fields (`x` when the user is
/// inactive), its native expiry (`arm`: expiry plus the grace period), the user's
/// index field `t:<client>` (`reindex`), the session-id sequence kept at or above
/// `floor`, and an `imported:<digest>` marker, so that a token imported once and gone
/// here since (revoked, expired) is never brought back by a later import: the token
/// hash itself is deleted by a revocation, so only the marker remembers it.
///
/// A token already here with the same digest is `unchanged`, or `updated` when Django
/// refreshed it since (the later expiry wins). One whose expiry has passed here is
/// gone, as every reader treats it, though its hash stays for the grace period.
///
/// The pair's slot: a live token that an earlier import brought is replaced (Django
/// replaced it since); one issued here is kept and the imported one skipped. An
/// expired one is left to its grace period, as login leaves it.
struct ImportTokenScript: ScriptCall {
    let token: ImportedToken
    let digest: String
    /// `TokenStore.seal`'s form (layout 2); empty in a dry run (nothing is stored,
    /// and sealing needs the secret).
    let sealed: String
    let graceMillis: Int64
    /// The session-id sequence is set to at least this (in every call but a dry run's).
    let idFloor: Int64
    let dryRun: Bool

    /// It checks the client, the user and the global id sequence with the token:
    /// one server only (`Import` refuses a cluster).
    var group: KeyGroup { .global }
    var arguments: [String] {
        [
            token.user, token.client, digest, sealed, String(token.created), String(token.expiry), String(token.id),
            String(graceMillis), String(idFloor), (token.userPending ? "u" : "") + (token.clientPending ? "c" : ""),
            dryRun ? "1" : "0",
        ]
    }

    func decode(_ reply: RedisReply) -> TokenImportOutcome? {
        guard let items = reply.array, let kind = items.first?.string else { return nil }
        func id(_ i: Int) -> Int64? { i < items.count ? items[i].int : nil }
        switch (kind, items.count) {
        case ("created", 4):
            guard let sid = id(1) else { return nil }
            return .created(id: sid, renumbered: items[2].string?.isEmpty == false, replacedID: id(3))
        case ("updated", 2): return id(1).map { .updated(id: $0) }
        case ("unchanged", 2): return id(1).map { .unchanged(id: $0) }
        case ("expired", 1): return .expired
        case ("gone", 1): return .goneHere
        case ("superseded", 2): return id(1).map { .superseded(byID: $0) }
        case ("nouser", 1): return .noUser
        case ("noclient", 1): return .noClient
        case ("conflict", 3):
            guard let u = items[1].string, let c = items[2].string else { return nil }
            return .conflict(user: u, client: c)
        default: return nil
        }
    }

    static let script = Script(
        parameters: ["user", "client", "digest", "sealed", "created", "expiry", "id", "grace", "floor", "pending", "dry"],
        #"""
        grace = tonumber(grace)
        local seq = TOKEN_SEQUENCE
        if dry ~= '1' and (tonumber(redis.call('GET', seq)) or 0) < tonumber(floor) then redis.call('SET', seq, floor) end
        local tk = tokenKey(digest)
        local marker = importedKey(digest)
        local userHash = userKey(user)
        local exp = tonumber(expiry)
        local t = redis.call('HMGET', tk, 'u', 'c', 'e', 'i')
        if t[1] then
          if t[1] ~= user or t[2] ~= client then return {'conflict', t[1], t[2] or ''} end
          -- Expired here and kept only to be reported once: gone, as for every reader.
          if not live(t[3]) then return {'gone'} end
          if t[3] == 'never' or tonumber(t[3]) >= exp then return {'unchanged', t[4]} end
          -- refreshed in Django since the last import: the later expiry wins
          if dry ~= '1' then
            redis.call('HSET', tk, 'e', expiry)
            setIdle(tk, redis.call('HGET', clientKey(client), 'idle_timeout'))
            arm(tk, expiry, grace)
            emit('token_renewed', user, client, t[4])
          end
          return {'updated', t[4]}
        end
        if exp <= NOW then return {'expired'} end
        if redis.call('EXISTS', marker) == 1 then return {'gone'} end
        -- pending (dry run): 'u' and/or 'c' when the user or client is one this import creates
        if not string.find(pending, 'c', 1, true) and redis.call('EXISTS', clientKey(client)) == 0 then
          return {'noclient'}
        end
        if not string.find(pending, 'u', 1, true) and redis.call('EXISTS', userHash) == 0 then return {'nouser'} end
        local other = redis.call('HGET', userHash, indexField(client))
        local replaced = ''
        if other then
          local o = redis.call('HMGET', tokenKey(other), 'i', 'e')
          if o[1] and live(o[2]) then
            if redis.call('EXISTS', importedKey(other)) == 0 then return {'superseded', o[1]} end
            replaced = o[1]
          end
        end
        -- durin's pk is the session id, unless another of this user's live tokens has it here
        local renumbered = ''
        local entries = tokenIndex(userHash)
        for i = 1, #entries, 2 do
          if entries[i] ~= client then
            local o = redis.call('HMGET', tokenKey(entries[i + 1]), 'i', 'e')
            if o[1] == id and live(o[2]) then renumbered = id end
          end
        end
        if dry == '1' then return {'created', id, renumbered, replaced} end
        if replaced ~= '' then
          redis.call('DEL', tokenKey(other))
          emit('token_revoked', user, client, replaced, 'replaced_in_django')
        end
        local sid = id
        if renumbered ~= '' then sid = tostring(redis.call('INCR', seq)) end
        redis.call('HSET', tk, 'u', user, 'c', client, 't', created, 'e', expiry, 'i', sid, 's', sealed)
        -- As login stamps its own: the client's idle timeout, and a last use, the
        -- import (Django's last use is not known): an imported token is idle as soon as
        -- a token issued here at the same moment would be.
        redis.call('HSET', tk, 'w', NOW_TEXT)
        setIdle(tk, redis.call('HGET', clientKey(client), 'idle_timeout'))
        if redis.call('HGET', userHash, 'is_active') ~= '1' then redis.call('HSET', tk, 'x', '1') end
        arm(tk, expiry, grace)
        redis.call('SET', marker, sid)
        redis.call('HSET', userHash, indexField(client), digest)
        reindex(userHash)
        emit('token_imported', user, client, sid)
        return {'created', sid, renumbered, replaced}
        """#)
}
