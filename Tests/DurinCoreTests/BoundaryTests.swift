import DurinCore
import XCTest

/// The domain's defences at the service's boundaries: names measured as Django
/// measures them, client addresses grouped for the login limits, the proxy key, the
/// settings that bound them, and the env file durinctl reads.
final class BoundaryTests: XCTestCase {
    func testUsernamesAreMeasuredInCodePointsWithPythonsWordRule() {
        XCTAssertTrue(Names.isValidUsername("alice"))
        XCTAssertTrue(Names.isValidUsername("José.o'b".replacingOccurrences(of: "'", with: "")))
        XCTAssertTrue(Names.isValidUsername("名前_1@x.y+z-w"))
        XCTAssertTrue(Names.isValidUsername(String(repeating: "a", count: 150)))
        XCTAssertFalse(Names.isValidUsername(String(repeating: "a", count: 151)))
        // One grapheme, 301 code points: a letter and 300 combining marks (U+0345 is
        // alphabetic, but a mark: not a word character for Python's \w).
        let combining = "a" + String(repeating: "\u{0345}", count: 300)
        XCTAssertEqual(combining.count, 1)
        XCTAssertFalse(Names.isValidUsername(combining))
        XCTAssertFalse(Names.isValidUsername("a\u{0301}"), "a combining accent is not \\w either")
        XCTAssertTrue(Names.isValidUsername("\u{00E1}"), "the precomposed letter is")
        XCTAssertFalse(Names.isValidUsername(""))
        XCTAssertFalse(Names.isValidUsername("a b"))
        XCTAssertFalse(Names.isValidUsername("a:b"))
        XCTAssertFalse(Names.isValidUsername("a\u{1B}b"))
        XCTAssertTrue(Names.isValidUsername("Ⅻ٣"), "numbers of every script")
    }

    func testClientAddressesAreGroupedForTheLoginLimits() {
        XCTAssertEqual(ClientAddress.group("203.0.113.7"), "v4:203.0.113.7")
        XCTAssertEqual(ClientAddress.group("::ffff:203.0.113.7"), "v4:203.0.113.7", "an IPv4-mapped address is its IPv4")
        XCTAssertEqual(ClientAddress.group("2001:db8:0:7::1"), "v6:2001:db8:0:7::/64")
        XCTAssertEqual(ClientAddress.group("2001:db8:0:7:ffff:ffff:ffff:ffff"), "v6:2001:db8:0:7::/64", "one /64, one group")
        XCTAssertNotEqual(ClientAddress.group("2001:db8:0:8::1"), ClientAddress.group("2001:db8:0:7::1"))
        for none in [nil, "", "unix:", "not an address", String(repeating: "9", count: 100), "1.2.3.4.5"] {
            XCTAssertEqual(ClientAddress.group(none), "other", "\(String(describing: none)) still counts, in one group")
        }
        // inet_pton stops at a NUL; the group is decided from every byte (issue 28's input).
        let cut = String(decoding: Array("2.0.3.7".utf8) + [0, 0, 1, 0] + Array("tail".utf8), as: UTF8.self)
        XCTAssertEqual(ClientAddress.group(cut), "other")
        XCTAssertEqual(ClientAddress.group("2001:db8::1\u{0}x"), "other")
        XCTAssertEqual(ClientAddress.group("::ffff:203.0.113.7\u{0}"), "other")
    }

    /// A settings file line with a NUL is not a setting: C would read it cut short.
    func testAnEnvironmentFileValueWithANULIsNoSetting() {
        let parsed = EnvironmentFile.parse("DURIN_LISTEN=/run/durin/x.sock\u{0}/elsewhere\nDURIN_THREADS=4\n")
        XCTAssertNil(parsed["DURIN_LISTEN"])
        XCTAssertEqual(parsed["DURIN_THREADS"], "4")
    }

    func testTheProxyKey() throws {
        let key = String(repeating: "ab01", count: 16)
        XCTAssertTrue(ProxyKey.isWellFormed(key))
        XCTAssertFalse(ProxyKey.isWellFormed("short"))
        XCTAssertFalse(ProxyKey.isWellFormed(key + "\""), "nothing nginx reads as syntax")
        XCTAssertFalse(ProxyKey.isWellFormed(key + "$x"))
        XCTAssertTrue(ProxyKey.admits(Array(key.utf8), key: Array(key.utf8)))
        XCTAssertFalse(ProxyKey.admits(Array(key.dropLast().utf8) + [0x63], key: Array(key.utf8)))
        XCTAssertFalse(ProxyKey.admits(nil, key: Array(key.utf8)))
        XCTAssertEqual(ProxyKey.fromNginxInclude(ProxyKey.nginxInclude(key: key)), key)
        XCTAssertEqual(ProxyKey.fromNginxInclude("fastcgi_param DURIN_PROXY_KEY \(key);"), key, "unquoted too")
        XCTAssertNil(ProxyKey.fromNginxInclude("# fastcgi_param DURIN_PROXY_KEY \"x\";"))
        var env = ["DURIN_PROXY_KEY": key]
        XCTAssertEqual(try Configuration.fromEnvironment(env).proxyKey, Array(key.utf8))
        env["DURIN_PROXY_KEY"] = "generate-a-key"
        XCTAssertThrowsError(try Configuration.fromEnvironment(env)) { error in
            XCTAssertFalse("\(error)".contains("generate-a-key"), "a secret's value is never shown")
        }
    }

    func testBoundsInTheSettings() throws {
        let c = try Configuration.fromEnvironment([:])
        XCTAssertEqual(c.fastcgiTimeoutMillis, 5000)
        XCTAssertEqual(c.loginFailureRate, ThrottleRate(requests: 10, periodSeconds: 60))
        XCTAssertEqual(c.loginFailureRatePerUser, ThrottleRate(requests: 1000, periodSeconds: 3600))
        XCTAssertEqual(c.passwordIterationsMax, 2_000_000)
        XCTAssertEqual(try Configuration.fromEnvironment(["DURIN_FASTCGI_TIMEOUT": "1m"]).fastcgiTimeoutMillis, 60_000)
        XCTAssertThrowsError(try Configuration.fromEnvironment(["DURIN_FASTCGI_TIMEOUT": "2h"]))
        XCTAssertNil(try Configuration.fromEnvironment(["DURIN_LOGIN_FAILURE_RATE_PER_USER": "off"]).loginFailureRatePerUser)
        XCTAssertEqual(
            try Configuration.fromEnvironment(["DURIN_PASSWORD_ITERATIONS": "3000000"]).passwordIterationsMax, 6_000_000,
            "the cap follows a count raised above it")
        XCTAssertThrowsError(
            try Configuration.fromEnvironment([
                "DURIN_PASSWORD_ITERATIONS": "3000000",
                "DURIN_PASSWORD_ITERATIONS_MAX": "2000000",
            ]))
    }

    func testEnvironmentFilesAreReadAsSystemdReadsThem() {
        let parsed = EnvironmentFile.parse(
            """
            # a comment
            ; another
            DURIN_REDIS_URL=unix:///run/redis/redis-server.sock

            DURIN_KEY_PREFIX = "durin:"
            DURIN_LOG_LEVEL='info'
            not a setting
            =nokey
            BAD-NAME=x
            """)
        XCTAssertEqual(
            parsed,
            [
                "DURIN_REDIS_URL": "unix:///run/redis/redis-server.sock", "DURIN_KEY_PREFIX": "durin:",
                "DURIN_LOG_LEVEL": "info",
            ])
    }
}
