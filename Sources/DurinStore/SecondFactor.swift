import DurinCore
import RedisClient

/// A user's second factor (TOTP): its secret sealed like the tokens (AES-GCM under
/// the sealing secret, the username as associated data, so a sealed secret opens
/// only as its own user's), in a key of its own under `P secret:` that the
/// inspection user cannot read, and `otp` in the user hash while one is enrolled
/// (the login reads that flag with the user; the secret only when a code comes).
extension TokenStore {
    /// The state of a user's second factor, its secrets opened.
    package struct SecondFactor: Sendable {
        /// The enrolled secret; nil: none.
        package var secret: [UInt8]?
        /// One being enrolled through totp/, until its first code confirms it.
        package var pending: [UInt8]?
    }

    package func secondFactor(of user: String) throws(StoreError) -> SecondFactor {
        let values = try connection.call(["HMGET", keys.totp(user), "s", "p"]).array ?? []
        let seal = try sealingKey()
        func open(_ reply: RedisReply?) -> [UInt8]? {
            reply?.string.flatMap { seal.openKey($0, label: Self.totpLabel(user)) }
        }
        return SecondFactor(secret: open(values.first), pending: open(values.dropFirst().first))
    }

    /// Enrols `secret` at once (durinctl, the console: the operator hands it over),
    /// or, `pending`, keeps it until a code confirms it (totp/). Replaces any other.
    /// false: no such user.
    package func enrollSecondFactor(user: String, secret: [UInt8], pending: Bool) throws(StoreError) -> Bool {
        let sealed = try sealingKey().sealKey(secret, label: Self.totpLabel(user))
        return try run(EnrollTOTPScript(user: user, key: keys.totp(user), sealed: sealed, pending: pending, step: nil))
    }

    /// Confirms the pending secret with the step of the code that proved it (that
    /// code is then used). false: the pending secret changed meanwhile, or no user.
    package func confirmSecondFactor(user: String, secret: [UInt8], step: Int64) throws(StoreError) -> Bool {
        let sealed = try sealingKey().sealKey(secret, label: Self.totpLabel(user))
        return try run(EnrollTOTPScript(user: user, key: keys.totp(user), sealed: sealed, pending: false, step: step))
    }

    /// Records `step` as used; false when it (or a later one) was used already: a
    /// code is good once.
    package func useTOTPStep(user: String, step: Int64) throws(StoreError) -> Bool {
        try run(UseTOTPStepScript(user: user, key: keys.totp(user), step: step))
    }

    /// Removes the user's second factor. false: there was none.
    @discardableResult
    package func removeSecondFactor(user: String) throws(StoreError) -> Bool {
        try run(RemoveTOTPScript(user: user, key: keys.totp(user)))
    }

    static func totpLabel(_ user: String) -> String { "totp:" + user }
}

/// Stores a TOTP secret: enrolled (`s`, the user's `otp` flag set, the steps used
/// forgotten or, with `step`, that step used) or pending (`p`). Outcome: false when
/// there is no such user.
struct EnrollTOTPScript: ScriptCall {
    let user: String
    let key: String
    let sealed: String
    let pending: Bool
    /// Confirming with a code: its step, recorded as used.
    let step: Int64?

    var group: KeyGroup { .user(user) }
    var arguments: [String] { [user, key, sealed, pending ? "1" : "", step.map(String.init) ?? ""] }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["user", "key", "sealed", "pending", "step"],
        #"""
        local userHash = userKey(user)
        guard(key, EVENTS)
        if redis.call('EXISTS', userHash) == 0 then return 0 end
        if pending == '1' then
          redis.call('HSET', key, 'p', sealed)
          return 1
        end
        redis.call('DEL', key)
        redis.call('HSET', key, 's', sealed, 'n', step ~= '' and step or '-1')
        redis.call('HSET', userHash, 'otp', '1')
        emit('otp_enrolled', user, '', '')
        return 1
        """#)
}

/// A code's step, used once: refused when it is not later than the last used.
struct UseTOTPStepScript: ScriptCall {
    let user: String
    let key: String
    let step: Int64

    var group: KeyGroup { .user(user) }
    var arguments: [String] { [key, String(step)] }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["key", "step"],
        #"""
        guard(key)
        local last = tonumber(redis.call('HGET', key, 'n') or '-1')
        if tonumber(step) <= last then return 0 end
        redis.call('HSET', key, 'n', step)
        return 1
        """#)
}

/// Removes a user's second factor and its flag. Outcome: whether there was one.
struct RemoveTOTPScript: ScriptCall {
    let user: String
    let key: String

    var group: KeyGroup { .user(user) }
    var arguments: [String] { [user, key] }

    func decode(_ reply: RedisReply) -> Bool? { reply.int.map { $0 == 1 } }

    static let script = Script(
        parameters: ["user", "key"],
        #"""
        guard(key, EVENTS)
        local had = redis.call('HDEL', userKey(user), 'otp') == 1
        redis.call('DEL', key)
        if not had then return 0 end
        emit('otp_removed', user, '', '')
        return 1
        """#)
}
