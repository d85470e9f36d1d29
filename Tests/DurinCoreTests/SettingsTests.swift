import XCTest

@testable import DurinCore

final class SettingsTests: XCTestCase {
    func testDurations() {
        XCTAssertEqual(DurationSpec.parse("86400")?.seconds, 86400)
        XCTAssertEqual(DurationSpec.parse("30m")?.seconds, 1800)
        XCTAssertEqual(DurationSpec.parse("12h")?.seconds, 43200)
        XCTAssertEqual(DurationSpec.parse("7d")?.seconds, 604800)
        XCTAssertEqual(DurationSpec.parse("2s")?.seconds, 2)
        for bad in ["", "0", "-5", "5w", "1.5h", "h", "99999999999999999999"] { XCTAssertNil(DurationSpec.parse(bad), bad) }
        XCTAssertEqual(TokenTTL.parse("never"), .never)
        XCTAssertEqual(TokenTTL.parse("7d"), .seconds(604800))
        XCTAssertEqual(TokenTTL.seconds(90).description, "90s")
    }

    func testThrottleRates() {
        XCTAssertEqual(ThrottleRate.parse("10/m"), ThrottleRate(requests: 10, periodSeconds: 60))
        XCTAssertEqual(ThrottleRate.parse("100/minute"), ThrottleRate(requests: 100, periodSeconds: 60))
        XCTAssertEqual(ThrottleRate.parse("5/d")?.description, "5/d")
        for bad in ["", "10", "x/m", "0/m", "10/w", "10/"] { XCTAssertNil(ThrottleRate.parse(bad), bad) }
    }

    func testExpiryFormatMatchesDRF() {
        let f = ExpiryFormat()
        XCTAssertEqual(f.format(1_796_007_355_275), "2026-11-30T02:55:55.275000Z")
        XCTAssertEqual(f.format(1_796_007_355_000), "2026-11-30T02:55:55Z", "Python's isoformat drops zero microseconds")
        XCTAssertEqual(ExpiryFormat(pattern: "%Y-%m-%d %H:%M:%S.%f").format(1_796_007_355_275), "2026-11-30 02:55:55.275000")
    }

    /// Weak secrets are refused, naming the setting and never the value.
    func testWeakSecretsAreRefusedWithoutEchoingThem() throws {
        let weak = [
            "change-me-to-the-output-of-openssl-rand-hex-32",  // the old sample
            "generate-a-secret",  // the sample's placeholder
            "0123456789abcdef0123456789abcdef",  // 32 characters: 16 bytes of hex
            String(repeating: "ab", count: 40),  // long, but two distinct characters
            String(repeating: "abc1234", count: 10),  // seven distinct
        ]
        for secret in weak {
            XCTAssertThrowsError(try Configuration.fromEnvironment(["DURIN_SECRET_KEY": secret]), secret) { error in
                XCTAssertEqual((error as? Configuration.Invalid)?.variable, "DURIN_SECRET_KEY")
                XCTAssertFalse("\(error)".contains(secret), "\(error)")
            }
        }
        let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        XCTAssertEqual(try Configuration.fromEnvironment(["DURIN_SECRET_KEY": hex]).secretKey, Array(hex.utf8))
        let base64 = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="
        XCTAssertEqual(try Configuration.fromEnvironment(["DURIN_SECRET_KEY": base64]).secretKey, Array(base64.utf8))
        XCTAssertNil(try Configuration.fromEnvironment(["DURIN_SECRET_KEY": "  "]).secretKey, "blank is unset")
    }

    func testConfigurationValidatesAndNamesTheVariable() throws {
        XCTAssertThrowsError(try Configuration.fromEnvironment(["DURIN_THREADS": "zero"])) {
            XCTAssertEqual(($0 as? Configuration.Invalid)?.variable, "DURIN_THREADS")
        }
        XCTAssertThrowsError(try Configuration.fromEnvironment(["DURIN_DEFAULT_TOKEN_TTL": "never"]))
        XCTAssertThrowsError(try Configuration.fromEnvironment(["DURIN_THROTTLE_RATE": "fast"]))
        // The limits that may be switched off: a rate, `off`, or an error naming the variable.
        XCTAssertEqual(try Configuration.fromEnvironment([:]).introspectionRate, ThrottleRate(requests: 1000, periodSeconds: 1))
        XCTAssertEqual(
            try Configuration.fromEnvironment(["DURIN_INTROSPECTION_RATE": "50/m"]).introspectionRate,
            ThrottleRate(requests: 50, periodSeconds: 60))
        XCTAssertNil(try Configuration.fromEnvironment(["DURIN_INTROSPECTION_RATE": "OFF"]).introspectionRate)
        XCTAssertNil(try Configuration.fromEnvironment(["DURIN_LOGIN_RATE_PER_ADDRESS": "off"]).loginRatePerAddress)
        for name in [
            "DURIN_INTROSPECTION_RATE", "DURIN_LOGIN_FAILURE_RATE", "DURIN_LOGIN_FAILURE_RATE_PER_USER",
            "DURIN_LOGIN_RATE_PER_ADDRESS",
        ] {
            XCTAssertThrowsError(try Configuration.fromEnvironment([name: "fast"])) {
                XCTAssertEqual(($0 as? Configuration.Invalid)?.variable, name)
            }
        }
        XCTAssertThrowsError(try Configuration.fromEnvironment(["DURIN_SECRET_KEY": "short"]))
        XCTAssertThrowsError(try Configuration.fromEnvironment(["DURIN_REDIS_URL": "http://u:hunter2@host/"])) {
            XCTAssertFalse("\($0)".contains("hunter2"), "a password in the URL is never echoed: \($0)")
        }
        XCTAssertThrowsError(try Configuration.fromEnvironment(["DURIN_USER_FIELDS": "username,password"]))
        let c = try Configuration.fromEnvironment([
            "DURIN_DEFAULT_TOKEN_TTL": "12h", "DURIN_AUTH_HEADER_PREFIX": "Bearer", "DURIN_USER_FIELDS": "username, email",
            "DURIN_REFRESH_TOKEN_ON_LOGIN": "true", "DURIN_LOGIN_FAILURE_RATE": "off", "DURIN_EXPIRED_GRACE": "0",
        ])
        XCTAssertEqual(c.defaultTokenTTL, .seconds(43200))
        XCTAssertEqual(c.authSchemes, ["Bearer"])
        XCTAssertEqual(c.userFields, ["username", "email"])
        XCTAssertEqual(c.refreshTokenOnLogin, true)
        XCTAssertNil(c.loginFailureRate)
        XCTAssertEqual(c.expiredGraceSeconds, 0)
    }
}
