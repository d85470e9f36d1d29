import DurinCore
import DurinHTTP
import DurinStore
import Synchronization

/// The identity assertions upstreams can verify offline (`X-Durin-Assertion`): a
/// JWT signed with ES256 by the site's current key, published with the keys still
/// in use at `jwks.json`. One per API (one per worker thread); what it signed goes
/// into the service's `SignedAssertions`, which every thread reads.
///
/// - The keys are read from Redis (one HGETALL of a few entries) at most every
///   `refresh`, and only by a thread that signs or serves `jwks.json`: a `durinctl
///   assertion-key rotate` reaches every responder within it, and until then the
///   old key, still published, keeps signing.
/// - An assertion is signed once per token and audience, and handed out again until
///   shortly before its `exp`: a repeated check signs nothing.
final class Assertions {
    private var keys: [AssertionKey] = []
    private var loadedAt: ContinuousClock.Instant?
    private let refresh: Duration = .seconds(2)

    /// The key that signs now; made (and stored for every responder) when the site
    /// has none. Two responders that both make one meet at their next read: the
    /// newest signs.
    func signingKey(_ tokens: TokenStore, now: EpochMillis) throws(StoreError) -> AssertionKey {
        if loadedAt.map({ ContinuousClock.now - $0 > refresh }) ?? true { try reload(tokens) }
        if let current = keys.last(where: { $0.retired == nil }) { return current }
        let fresh = AssertionKey.generate(now: now)
        try tokens.saveAssertionKey(fresh)
        try reload(tokens)
        return keys.last(where: { $0.retired == nil }) ?? fresh
    }

    /// The keys `jwks.json` lists: the signing key, and retired ones an assertion
    /// they signed may still need. Read afresh: another thread may sign with a key
    /// this one has not read yet, and a verifier that meets a new kid asks again.
    func published(_ tokens: TokenStore, now: EpochMillis, lifetime: Int64) throws(StoreError) -> [AssertionKey] {
        try reload(tokens)
        _ = try signingKey(tokens, now: now)
        return keys.filter { $0.isPublished(at: now, lifetime: lifetime) }
    }

    private func reload(_ tokens: TokenStore) throws(StoreError) {
        keys = try tokens.assertionKeys()
        loadedAt = .now
    }

    /// Signs the claims of `auth` for `audience`: `iss`, `sub` (the username), `aud`,
    /// `client`, `sid`, `iat`, `exp` (the token's expiry or the assertion's lifetime,
    /// whichever is sooner), `is_staff`, and the profile fields named.
    func sign(
        _ auth: TokenRecord, audience: String, details: UserDetails, config: Configuration, tokens: TokenStore, now: EpochMillis,
        into signed: SignedAssertions
    ) throws(StoreError) -> String {
        let key = try signingKey(tokens, now: now)
        let issued = now / 1000
        var expires = issued + config.assertionTTL
        if let expiry = auth.expiry { expires = min(expires, expiry / 1000) }
        var claims: [(String, JSONValue)] = [
            ("iss", .string(config.assertionIssuer)), ("sub", .string(auth.user)), ("aud", .string(audience)),
            ("client", .string(auth.client)), ("sid", .string(String(auth.id))),
            ("iat", .number(String(issued))), ("exp", .number(String(expires))), ("is_staff", .bool(details.isStaff)),
        ]
        for field in config.assertionFields { if let value = details.fields[field] { claims.append((field, .string(value))) } }
        let assertion = key.sign(claimsJSON: JSONValue.object(claims).renderedBytes)
        // Handed out again until a quarter of its life (at most 30 s) is left, so an
        // upstream never receives one about to expire.
        let margin = min(30_000, config.assertionTTL * 250)
        signed.keep(assertion, digest: auth.digest, audience: audience, until: expires * 1000 - margin)
        return assertion
    }
}

/// The assertions signed by every thread of the service, by token and audience,
/// until shortly before each expires: a repeated check, on whichever thread, signs
/// nothing. A lookup is one dictionary read under a lock no request holds longer.
final class SignedAssertions: Sendable {
    private let entries = Mutex<[String: (assertion: String, until: EpochMillis)]>([:])
    /// Bounds the memory: past it the map starts over (each token then signs again).
    private let capacity = 100_000

    func cached(digest: String, audience: String, now: EpochMillis) -> String? {
        let key = digest + "\u{1}" + audience
        return entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard now < entry.until else {
                entries[key] = nil
                return nil
            }
            return entry.assertion
        }
    }

    func keep(_ assertion: String, digest: String, audience: String, until: EpochMillis) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[digest + "\u{1}" + audience] = (assertion, until)
        }
    }
}
