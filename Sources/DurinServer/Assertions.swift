import DurinCore
import DurinHTTP
import DurinStore
import Synchronization

/// The identity assertions upstreams can verify offline (`X-Durin-Assertion`): a
/// JWT signed with ES256 by the site's current key, published with the keys still
/// in use at `jwks.json`. One per API (one per worker thread); what it signed goes
/// into the service's `SignedAssertions`, which every thread reads.
///
/// - The keys are read from Redis (one HGETALL of a few entries) at most every 2 s
///   by a thread that signs, and every second by one that serves `jwks.json`.
/// - Publish before signing: a new key signs only once it is 3 s old, when every
///   thread's `jwks.json` lists it, so a verifier never meets a kid the key set it
///   fetches lacks. Until then the key it replaces (retired by `durinctl
///   assertion-key rotate`, still published) signs.
/// - An assertion is signed once per token and audience, and handed out again until
///   shortly before its `exp`: a repeated check signs nothing.
final class Assertions {
    private var keys: [AssertionKey] = []
    private var loadedAt: ContinuousClock.Instant?
    /// How old a key must be to sign: longer than a `jwks.json` may be stale.
    private static let publishLead: EpochMillis = 3_000

    /// The key that signs now: the newest that has been published long enough,
    /// else (a site's first key) the newest. One is made, and stored for every
    /// responder, when the site has none that may sign; two responders that both
    /// make one meet at their next read.
    func signingKey(_ tokens: TokenStore, now: EpochMillis, lifetime: Int64) throws(StoreError) -> AssertionKey {
        try reload(tokens, ifOlderThan: .seconds(2))
        var made: AssertionKey?
        if !keys.contains(where: { $0.retired == nil }) {
            made = AssertionKey.generate(now: now)
            try tokens.saveAssertionKey(made!)
            try reload(tokens, ifOlderThan: .zero)
        }
        // Sorted oldest first. (Empty only if a key just stored does not open, which
        // its own seal rules out; the new key then signs.)
        guard let newest = keys.last ?? made else { throw StoreError.unexpected("no assertion key") }
        // A retired key no longer published never signs (a clock ahead could make the
        // newest key look younger than it is).
        return keys.last { $0.created <= now - Self.publishLead && $0.isPublished(at: now, lifetime: lifetime) } ?? newest
    }

    /// The keys `jwks.json` lists: every key that may sign, and retired ones an
    /// assertion they signed may still need, read at most a second ago.
    func published(_ tokens: TokenStore, now: EpochMillis, lifetime: Int64) throws(StoreError) -> [AssertionKey] {
        try reload(tokens, ifOlderThan: .seconds(1))
        _ = try signingKey(tokens, now: now, lifetime: lifetime)
        return keys.filter { $0.isPublished(at: now, lifetime: lifetime) }
    }

    private func reload(_ tokens: TokenStore, ifOlderThan age: Duration) throws(StoreError) {
        if let loadedAt, ContinuousClock.now - loadedAt < age { return }
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
        let key = try signingKey(tokens, now: now, lifetime: config.assertionTTL)
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
    /// Bounds the memory (an entry is about 600 bytes): past it the map starts over,
    /// and each token signs again.
    private let capacity = 20_000

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
