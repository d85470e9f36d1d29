import Codecs
import XCTest

@testable import DurinCore

final class SecurityTests: XCTestCase {
    /// Hashes made with Python: base64(hashlib.pbkdf2_hmac(alg, pw, salt, n)).
    func testVerifiesHashesMadeByPythonHashlib() {
        XCTAssertTrue(
            PasswordHasher.verify(
                "demo-password", against: "pbkdf2_sha256$1000$abcdefghijklmnopqrstuv$3d/tCZEz3TP05tjI6EZVrkYssRFIC4Y2xlciP/VNuP0="))
        XCTAssertTrue(PasswordHasher.verify("pässwörd", against: "pbkdf2_sha256$1$Zx9$zuJEzQmUJUx1AOq2fDWKU9EaHPSL240FF7Fktdhwa54="))
        XCTAssertTrue(
            PasswordHasher.verify("hunter2", against: "pbkdf2_sha256$260000$seasalt$3YfdkZ2jH+nRTGwWfK5DknF8y87wJV55wa0Qyh0Xkds="))
        XCTAssertTrue(PasswordHasher.verify("secret", against: "pbkdf2_sha1$1000$salty$uiLAeK2s9wvga7WGm0Z6sD+hVz8="))
        XCTAssertFalse(
            PasswordHasher.verify(
                "demo-passwor", against: "pbkdf2_sha256$1000$abcdefghijklmnopqrstuv$3d/tCZEz3TP05tjI6EZVrkYssRFIC4Y2xlciP/VNuP0="))
        XCTAssertFalse(
            PasswordHasher.verify("hunter2", against: "pbkdf2_sha256$260001$seasalt$3YfdkZ2jH+nRTGwWfK5DknF8y87wJV55wa0Qyh0Xkds="))
    }

    func testNewHashesRoundTripAndUseTheConfiguredCost() {
        let hash = PasswordHasher(iterations: 1200).hash("correct horse")
        XCTAssertTrue(hash.hasPrefix("pbkdf2_sha256$1200$"))
        XCTAssertEqual(hash.split(separator: "$")[2].count, 22)
        XCTAssertTrue(PasswordHasher.verify("correct horse", against: hash))
        XCTAssertFalse(PasswordHasher.verify("correct horse ", against: hash))
        XCTAssertNotEqual(hash, PasswordHasher(iterations: 1200).hash("correct horse"), "salts are random")
    }

    func testUnusableAndMalformedHashesNeverMatch() {
        for bad in ["!", "", "!abc", "md5$x$y", "pbkdf2_sha256$x$salt$AAAA", "pbkdf2_sha256$10$$AAAA", "pbkdf2_sha256$10$s$***"] {
            XCTAssertFalse(PasswordHasher.verify("", against: bad), bad)
            XCTAssertFalse(PasswordHasher.isSupported(bad), bad)
        }
    }

    func testTokensAreRandomHexOfTheConfiguredLength() {
        let a = Token.generate(length: 64)
        let b = Token.generate(length: 64)
        XCTAssertEqual(a.value.count, 64)
        XCTAssertTrue(a.value.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(Token.generate(length: 41).value.count, 41)
        // sha256("abc"), the FIPS 180-2 test vector; a token's digest is its first 120
        // bits in base64url (Python: urlsafe_b64encode(sha256(b"abc").digest()[:15])).
        XCTAssertEqual(Token.sha256Hex(of: "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(Token(value: "abc").digest, "ungWv48Bz-pBQUDeXa4i")
    }

    func testSealedTokensOpenOnlyWithTheSameSecret() {
        let token = Token.generate(length: 64)
        let seal = TokenSeal(secret: Array("s".utf8) + Array(repeating: 1, count: 40))
        let sealed = seal.seal(token, digest: token.digest)
        XCTAssertFalse(sealed.contains(token.value))
        XCTAssertEqual(seal.unseal(sealed, digest: token.digest), token)
        XCTAssertEqual(seal.seal(token, digest: token.digest), sealed, "deterministic: the nonce comes from the digest")
        XCTAssertNil(TokenSeal(secret: Array(repeating: 2, count: 40)).unseal(sealed, digest: token.digest))
        XCTAssertNil(seal.unseal(sealed, digest: Token.generate(length: 64).digest))
        // durin's tokens are hex: sealed as the bytes they spell, so 64 characters
        // take 64 of base64 (32 bytes and the 16-byte tag), no more than a hash field
        // may hold and stay in Redis's compact listpack.
        XCTAssertEqual(sealed.count, 64)
        XCTAssertFalse(TokenSeal.isLegacy(sealed))
        // Any other text still seals and opens (an imported token, an odd length).
        for text in ["abc", "ABCDEF0123", "0123456789abcdef0"] {
            let other = Token(value: text)
            let s = seal.seal(other, digest: other.digest)
            XCTAssertTrue(s.hasPrefix("u"), text)
            XCTAssertEqual(seal.unseal(s, digest: other.digest), other)
        }
    }

    /// The AEAD's tag: no byte of a sealed copy can change unnoticed, and the form
    /// before layout 3 (an XOR pad, no tag) still opens, for the migration.
    func testASealedCopyIsAuthenticatedAndTheOldFormStillOpens() {
        let token = Token.generate(length: 64)
        let seal = TokenSeal(secret: Array(repeating: 7, count: 40))
        let sealed = Array(Base64.decode(seal.seal(token, digest: token.digest)) ?? [])
        XCTAssertEqual(sealed.count, 48)
        for i in sealed.indices {
            var changed = sealed
            changed[i] ^= 0x01
            XCTAssertNil(seal.unseal(Base64.encode(changed), digest: token.digest), "byte \(i)")
        }
        XCTAssertNil(seal.unseal(Base64.encode(Array(sealed.dropLast(3))), digest: token.digest))
        XCTAssertNil(seal.unseal("", digest: token.digest))
        XCTAssertNil(seal.unseal("x" + Base64.encode(sealed), digest: token.digest))
        XCTAssertNil(seal.unseal("u" + Base64.encode(sealed), digest: token.digest), "the text form of the same bytes")
        for value in [token.value, "abc"] {
            let t = Token(value: value)
            let legacy = seal.sealLegacy(t, digest: t.digest)
            XCTAssertTrue(TokenSeal.isLegacy(legacy))
            XCTAssertEqual(seal.unseal(legacy, digest: t.digest), t)
            XCTAssertNil(TokenSeal(secret: Array(repeating: 8, count: 40)).unseal(legacy, digest: t.digest))
        }
    }

    func testNamesCannotReachOtherKeys() {
        XCTAssertTrue(Names.isValidUsername("alice.o"))
        XCTAssertTrue(Names.isValidUsername("josé+tag@example.com"))
        for bad in ["", "a:b", "a b", "a\nb", "a*"] { XCTAssertFalse(Names.isValidUsername(bad), bad) }
        XCTAssertTrue(Names.isValidClientName("web-2.mobile_x"))
        for bad in ["", "a:b", "a b", String(repeating: "x", count: 65)] { XCTAssertFalse(Names.isValidClientName(bad), bad) }
    }
}
