import DurinCore
import XCTest

/// What a login's details become before they are stored: bounded, plain text.
final class SessionDetailsTests: XCTestCase {
    func testUserAgentsLoseWhatEveryBrowserSendsAndStayShort() {
        let cases: [(String, String?)] = [
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "(Windows NT 10.0; Win64; x64) Chrome/131.0.0.0"
            ),
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "(X11; Linux x86_64; rv:133.0) Firefox/133.0"
            ),
            (
                "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "(Linux; Android 10; K) Chrome/131.0.0.0 Mobile"
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
                "(iPhone; CPU iPhone OS 17_1 like Mac OS X)"
            ),
            ("curl/8.1.2", "curl/8.1.2"),
            ("okhttp/4.12.0", "okhttp/4.12.0"),
            ("", nil),
            ("   \t ", nil),
            ("Mozilla/5.0", nil),
        ]
        for (raw, stored) in cases {
            XCTAssertEqual(SessionDetails.userAgent(raw), stored, raw)
        }
    }

    func testUserAgentsCannotCarryControlCharactersOrGrowPastTheLimit() throws {
        let hostile = "a\u{1B}[2J\u{7}b\nc\u{202E}d\u{0}e" + String(repeating: "é", count: 200)
        let stored = try XCTUnwrap(SessionDetails.userAgent(hostile))
        XCTAssertTrue(stored.hasPrefix("a [2J b c d e"), stored)
        XCTAssertFalse(
            stored.unicodeScalars.contains { $0.properties.generalCategory == .control || $0.properties.generalCategory == .format })
        XCTAssertLessThanOrEqual(stored.utf8.count, SessionDetails.userAgentLimit)
        XCTAssertEqual(stored.utf8.count, SessionDetails.userAgentLimit - 1, "cut on a character boundary (é is 2 bytes)")
        XCTAssertNotNil(String(validating: Array(stored.utf8), as: UTF8.self))
    }

    func testAddressesAreKeptOnlyWhenTheyAreAddresses() {
        XCTAssertEqual(SessionDetails(address: "203.0.113.7").address, "203.0.113.7")
        XCTAssertEqual(SessionDetails(address: "2001:db8::1").address, "2001:db8::1")
        XCTAssertEqual(SessionDetails(address: "::ffff:192.0.2.128").address, "::ffff:192.0.2.128")
        XCTAssertNil(SessionDetails(address: "").address)
        XCTAssertNil(SessionDetails(address: "unix:").address)
        XCTAssertNil(SessionDetails(address: "1.2.3.4\r\nX: y").address)
        XCTAssertNil(SessionDetails(address: String(repeating: "1", count: 46)).address)
    }

    func testLabelsAreShortDisplayText() {
        XCTAssertNil(SessionDetails.labelProblem("Alice's phone"))
        XCTAssertNil(SessionDetails.labelProblem(String(repeating: "ü", count: 32)))
        XCTAssertEqual(SessionDetails.labelProblem(String(repeating: "x", count: 33)), "Ensure this field has no more than 32 characters.")
        XCTAssertEqual(SessionDetails.labelProblem("a\u{0}b"), "Null characters are not allowed.")
        XCTAssertNotNil(SessionDetails.labelProblem("tab\there"))
        XCTAssertNotNil(SessionDetails.labelProblem("bidi\u{202E}"))
    }
}
