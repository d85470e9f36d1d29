import DurinCore
import RedisClient

/// What the token check found.
public enum Authentication: Equatable, Sendable {
    case valid(TokenRecord)
    /// Expired within the grace period; reported once, then the token is unknown.
    case expired(user: String, client: String, id: Int64)
    case userInactive
    case invalid
}

/// How login treats a live token of the same (user, client).
public enum LoginMode: String, Sendable {
    /// durin's default: hand back the same token and expiry.
    case keep
    /// DURIN_REFRESH_TOKEN_ON_LOGIN: same token, fresh expiry.
    case refresh
    /// DURIN_ROTATE_TOKEN_ON_LOGIN: a new token; the old one is revoked.
    case rotate
}

public struct IssuedToken: Sendable, Equatable {
    public enum Outcome: String, Sendable { case created, existing, renewed }
    public var token: Token
    public var record: TokenRecord
    public var outcome: Outcome
    /// The session id of a token this login revoked (rotation), if any.
    public var replacedID: Int64?
}

public enum LoginFailure: Error, Equatable {
    case noClient
    case userInactive
}

/// Token operations on one Redis connection: each is a single atomic script.
/// Not thread-safe, like the connection it owns: one per worker thread.
public final class TokenStore {
    public let connection: RedisConnection
    public let keys: KeySpace
    private let graceMillis: Int64
    private let defaultTTL: TokenTTL
    private let tokenLength: Int
    private let configuredSecret: [UInt8]?
    private var seal: TokenSeal?

    public init(connection: RedisConnection, configuration: Configuration, secret: [UInt8]?) {
        self.connection = connection
        keys = KeySpace(prefix: configuration.keyPrefix)
        graceMillis = configuration.expiredGraceSeconds * 1000
        defaultTTL = configuration.defaultTokenTTL
        tokenLength = configuration.tokenCharacterLength
        configuredSecret = secret
        if let secret { seal = TokenSeal(secret: secret) }
    }

    /// Looks a token up by its digest: one round trip.
    public func authenticate(digest: String) throws(StoreError) -> Authentication {
        let reply = try connection.run(.verify, args: [keys.prefix, digest])
        guard let items = reply.array, let outcome = items.first?.string else { throw .unexpected("verify: \(reply)") }
        switch outcome {
        case "ok":
            guard items.count == 6, let user = items[1].string, let client = items[2].string,
                  let expiry = items[3].string, let id = items[4].int else { throw .unexpected("verify: \(reply)") }
            return .valid(TokenRecord(digest: digest, user: user, client: client, created: items[5].int ?? 0,
                                      expiry: expiry == "never" ? nil : EpochMillis(expiry), id: id))
        case "expired":
            let parts = (items.count > 1 ? items[1].string ?? "" : "").split(separator: "\t").map(String.init)
            return .expired(user: parts.first ?? "", client: parts.count > 1 ? parts[1] : "",
                            id: parts.count > 2 ? Int64(parts[2]) ?? 0 : 0)
        case "inactive": return .userInactive
        default: return .invalid
        }
    }

    /// Returns, renews or creates the one token of (user, client), atomically: any
    /// number of concurrent logins of one pair end with exactly one token.
    public func login(user: String, client: String, mode: LoginMode, now: EpochMillis = Clock.nowMillis())
        throws(StoreError) -> Result<IssuedToken, LoginFailure>
    {
        let seal = try sealingKey()
        let candidate = Token.generate(length: tokenLength)
        let reply = try connection.run(.login, args: [
            keys.prefix, user, client, candidate.digest, seal.seal(candidate, digest: candidate.digest),
            String(now), String(graceMillis), mode.rawValue,
        ])
        guard let items = reply.array, let outcome = items.first?.string else { throw .unexpected("login: \(reply)") }
        switch outcome {
        case "noclient": return .failure(.noClient)
        case "inactive": return .failure(.userInactive)
        default: break
        }
        guard items.count == 7, let kind = IssuedToken.Outcome(rawValue: outcome), let digest = items[1].string,
              let sealed = items[2].string, let expiry = items[3].string, let id = items[4].int else {
            throw .unexpected("login: \(reply)")
        }
        let record = TokenRecord(digest: digest, user: user, client: client, created: items[5].int ?? now,
                                 expiry: expiry == "never" ? nil : EpochMillis(expiry), id: id)
        let token: Token
        if kind == .created {
            token = candidate
        } else if let opened = seal.unseal(sealed, digest: digest) {
            token = opened
        } else {
            // Sealed under another secret (DURIN_SECRET_KEY changed): the token cannot
            // be handed back, so replace it.
            return try login(user: user, client: client, mode: .rotate, now: now)
        }
        let replaced = items[6].int
        return .success(IssuedToken(token: token, record: record, outcome: kind, replacedID: replaced))
    }

    /// Gives a token a fresh expiry from its client's TTL. nil when the token is gone.
    public func refresh(digest: String, now: EpochMillis = Clock.nowMillis()) throws(StoreError) -> TokenRecord? {
        let reply = try connection.run(.refresh, args: [keys.prefix, digest, String(now), String(graceMillis), defaultTTL.storedValue])
        guard let items = reply.array, items.first?.string == "ok" else { return nil }
        guard items.count == 5, let expiry = items[1].string, let user = items[2].string, let client = items[3].string,
              let id = items[4].int else { throw .unexpected("refresh: \(reply)") }
        return TokenRecord(digest: digest, user: user, client: client, created: 0,
                                 expiry: expiry == "never" ? nil : EpochMillis(expiry), id: id)
    }

    /// Revokes one token (logout). Returns what was revoked, nil if it was already gone.
    @discardableResult
    public func revoke(digest: String) throws(StoreError) -> (user: String, client: String, id: Int64)? {
        let reply = try connection.run(.revokeToken, args: [keys.prefix, digest])
        guard let items = reply.array, items.count == 3, let user = items[0].string, let client = items[1].string,
              let id = items[2].int else { return nil }
        return (user, client, id)
    }

    /// Revokes a user's tokens: all of them (logoutall), or the one of `client`.
    /// Returns (client, session id) of each revoked token.
    @discardableResult
    public func revokeAll(user: String, client: String? = nil) throws(StoreError) -> [(client: String, id: Int64)] {
        let reply = try connection.run(.revokeUserTokens, args: [keys.prefix, user, client ?? ""])
        let items = reply.array ?? []
        var revoked: [(String, Int64)] = []
        var i = 0
        while i + 1 < items.count {
            if let c = items[i].string, let id = items[i + 1].int { revoked.append((c, id)) }
            i += 2
        }
        return revoked
    }

    /// The sealing secret: DURIN_SECRET_KEY, else one generated once and kept in Redis.
    private func sealingKey() throws(StoreError) -> TokenSeal {
        if let seal { return seal }
        let fresh = hexEncoding((0..<32).map { _ in UInt8.random(in: .min ... .max) })
        _ = try connection.call(["SET", keys.secret, fresh, "NX"])
        guard let stored = try connection.call(["GET", keys.secret]).string, let bytes = hexDecoding(stored), !bytes.isEmpty else {
            throw .unexpected("\(keys.secret) is not a hex secret")
        }
        let made = TokenSeal(secret: bytes)
        seal = made
        return made
    }
}
