import Codecs
import Crypto
import DurinCore
import XCTest

/// The assertion key, alone: a JWS that verifies with its public half, a kid that
/// is its thumbprint, and a sealed form that opens only as that key under that secret.
final class AssertionKeyTests: XCTestCase {
    func testASignedAssertionVerifiesWithThePublishedKey() throws {
        let key = AssertionKey.generate(now: 1_000)
        let jws = key.sign(claimsJSON: Array(#"{"sub":"alice"}"#.utf8))
        let parts = jws.split(separator: ".").map(String.init)
        XCTAssertEqual(parts.count, 3)
        func decoded(_ s: String) -> [UInt8] {
            var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while b.count % 4 != 0 { b += "=" }
            return Base64.decode(b) ?? []
        }
        XCTAssertEqual(String(decoding: decoded(parts[0]), as: UTF8.self), #"{"alg":"ES256","typ":"JWT","kid":"\#(key.kid)"}"#)
        XCTAssertEqual(String(decoding: decoded(parts[1]), as: UTF8.self), #"{"sub":"alice"}"#)
        let jwk = Dictionary(uniqueKeysWithValues: key.publicJWK)
        XCTAssertEqual(jwk["kid"], key.kid)
        XCTAssertNil(jwk["d"], "the private scalar is never published")
        let publicKey = try P256.Signing.PublicKey(rawRepresentation: decoded(jwk["x"]!) + decoded(jwk["y"]!))
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: decoded(parts[2]))
        XCTAssertTrue(publicKey.isValidSignature(signature, for: Array((parts[0] + "." + parts[1]).utf8)))
        XCTAssertFalse(publicKey.isValidSignature(signature, for: Array((parts[0] + ".e30").utf8)))
        // The kid is the RFC 7638 thumbprint of the public JWK.
        let canonical = #"{"crv":"P-256","kty":"EC","x":"\#(jwk["x"]!)","y":"\#(jwk["y"]!)"}"#
        XCTAssertEqual(key.kid, Base64.encodeURLSafe(Array(SHA256.hash(data: Array(canonical.utf8)))))
        XCTAssertNotEqual(AssertionKey.generate(now: 1_000).kid, key.kid)
    }

    func testASealedKeyOpensOnlyAsItselfUnderItsSecret() throws {
        let key = AssertionKey.generate(now: 1_000)
        let seal = TokenSeal(secret: Array(repeating: 7, count: 32))
        let sealed = seal.sealKey(key.storedBytes, label: key.kid)
        XCTAssertEqual(seal.openKey(sealed, label: key.kid), key.storedBytes)
        XCTAssertNil(seal.openKey(sealed, label: "another-kid"))
        XCTAssertNil(TokenSeal(secret: Array(repeating: 8, count: 32)).openKey(sealed, label: key.kid))
        XCTAssertNotEqual(seal.sealKey(key.storedBytes, label: key.kid), sealed, "a fresh nonce each time")
    }

    func testARetiredKeyIsPublishedWhileItsAssertionsMayLive() {
        let key = AssertionKey.generate(now: 0).retired(at: 100_000)
        // TTL 300 s: 300 s, then as long again but at most a minute.
        XCTAssertTrue(key.isPublished(at: 100_000 + 359_999, lifetime: 300))
        XCTAssertFalse(key.isPublished(at: 100_000 + 360_000, lifetime: 300))
        XCTAssertEqual(key.publishedUntil(lifetime: 20), 100_000 + 40_000)
        XCTAssertTrue(AssertionKey.generate(now: 0).isPublished(at: .max, lifetime: 300))
    }
}
