import Codecs
package import Crypto
import Foundation

/// A key that signs the identity assertions upstreams verify (`X-Durin-Assertion`):
/// ECDSA on P-256 with SHA-256 (JWS `ES256`, RFC 7518 §3.4), named by its RFC 7638
/// thumbprint, so the name is the key's and no two keys share one.
package struct AssertionKey: Sendable {
    package let kid: String
    /// When it was made, and when a newer key took over signing (nil: it signs).
    package let created: EpochMillis
    package let retired: EpochMillis?
    private let privateBytes: [UInt8]

    package var privateKey: P256.Signing.PrivateKey { try! P256.Signing.PrivateKey(rawRepresentation: privateBytes) }

    /// A new key from the system's CSPRNG.
    package static func generate(now: EpochMillis) -> AssertionKey {
        AssertionKey(privateBytes: Array(P256.Signing.PrivateKey().rawRepresentation), created: now, retired: nil)!
    }

    /// A stored key; nil when `privateBytes` are not a P-256 scalar.
    package init?(privateBytes: [UInt8], created: EpochMillis, retired: EpochMillis?) {
        guard let key = try? P256.Signing.PrivateKey(rawRepresentation: privateBytes) else { return nil }
        self.privateBytes = privateBytes
        self.created = created
        self.retired = retired
        kid = Self.thumbprint(key.publicKey)
    }

    package func retired(at time: EpochMillis) -> AssertionKey {
        AssertionKey(privateBytes: privateBytes, created: created, retired: time)!
    }

    /// The private scalar, for sealing before it is stored (`TokenSeal.sealKey`).
    package var storedBytes: [UInt8] { privateBytes }

    /// The public key as a JWK (RFC 7517), as `jwks.json` publishes it.
    package var publicJWK: [(String, String)] {
        let (x, y) = Self.coordinates(privateKey.publicKey)
        return [("kty", "EC"), ("crv", "P-256"), ("x", x), ("y", y), ("kid", kid), ("use", "sig"), ("alg", "ES256")]
    }

    /// Whether `jwks.json` still lists it: while it signs, and after it was retired
    /// for as long as an assertion it signed may live (`lifetime`, seconds), and as
    /// long again (at most a minute) for responders that signed with it until they
    /// read the new key, and for clocks that disagree.
    package func isPublished(at now: EpochMillis, lifetime: Int64) -> Bool {
        publishedUntil(lifetime: lifetime).map { now < $0 } ?? true
    }

    /// When a retired key leaves `jwks.json`; nil while it signs.
    package func publishedUntil(lifetime: Int64) -> EpochMillis? {
        retired.map { $0 + lifetime * 1000 + min(60_000, lifetime * 1000) }
    }

    /// A compact JWS (RFC 7515 §7.1) of `claims`, already JSON.
    package func sign(claimsJSON: [UInt8]) -> String {
        let header = Array(#"{"alg":"ES256","typ":"JWT","kid":"\#(kid)"}"#.utf8)
        let input = Base64.encodeURLSafe(header) + "." + Base64.encodeURLSafe(claimsJSON)
        // swift-crypto's ECDSA draws its nonce afresh each time; its raw form is r || s,
        // 32 bytes each, which is JWS's form.
        let signature = try! privateKey.signature(for: Array(input.utf8))
        return input + "." + Base64.encodeURLSafe(Array(signature.rawRepresentation))
    }

    static func coordinates(_ key: P256.Signing.PublicKey) -> (x: String, y: String) {
        let raw = Array(key.rawRepresentation)
        return (Base64.encodeURLSafe(Array(raw[0..<32])), Base64.encodeURLSafe(Array(raw[32..<64])))
    }

    /// RFC 7638: SHA-256 of the required members in lexicographic order, base64url.
    static func thumbprint(_ key: P256.Signing.PublicKey) -> String {
        let (x, y) = coordinates(key)
        let canonical = #"{"crv":"P-256","kty":"EC","x":"\#(x)","y":"\#(y)"}"#
        return Base64.encodeURLSafe(Array(SHA256.hash(data: Array(canonical.utf8))))
    }
}
