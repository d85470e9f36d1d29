import Codecs
import DurinCore
import XCTest

/// RFC 6238's own test vectors (Appendix B, SHA-1), and what authenticator apps read.
final class TOTPTests: XCTestCase {
    let secret = Array("12345678901234567890".utf8)

    func testRFC6238Vectors() {
        let vectors: [(Int64, String)] = [
            (59, "94287082"), (1_111_111_109, "07081804"), (1_111_111_111, "14050471"), (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"), (20_000_000_000, "65353130"),
        ]
        for (time, expected) in vectors {
            XCTAssertEqual(TOTP.code(secret: secret, counter: TOTP.step(at: time * 1000), digits: 8), expected, "T=\(time)")
        }
        XCTAssertEqual(TOTP.code(secret: secret, counter: TOTP.step(at: 59_000)), "287082", "six digits: the last six")
    }

    func testACodeMatchesItsStepAndItsNeighboursOnly() {
        let now: EpochMillis = 1_111_111_111_000
        let step = TOTP.step(at: now)
        for offset in [-1, 0, 1] as [Int64] {
            XCTAssertEqual(TOTP.matchingStep(TOTP.code(secret: secret, counter: step + offset), secret: secret, at: now), step + offset)
        }
        XCTAssertNil(TOTP.matchingStep(TOTP.code(secret: secret, counter: step + 2), secret: secret, at: now))
        XCTAssertNil(TOTP.matchingStep("12345", secret: secret, at: now))
        XCTAssertNil(TOTP.matchingStep("12345a", secret: secret, at: now))
        XCTAssertNil(TOTP.matchingStep("1234567", secret: secret, at: now))
    }

    func testTheURIAppsRead() {
        XCTAssertEqual(Base32.encode(secret), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")
        XCTAssertEqual(Base32.encode([0xFF]), "74")
        XCTAssertEqual(
            TOTP.uri(secret: secret, account: "ann@example.com", issuer: "My Site"),
            "otpauth://totp/My%20Site:ann%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=My%20Site"
                + "&algorithm=SHA1&digits=6&period=30")
    }
}
