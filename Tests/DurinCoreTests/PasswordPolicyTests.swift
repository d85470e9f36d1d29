import XCTest

@testable import DurinCore

/// Django's four default validators, with Django's texts and Django's arithmetic.
final class PasswordPolicyTests: XCTestCase {
    /// `difflib.SequenceMatcher(a=, b=).quick_ratio()`, computed by Python 3.11.
    func testQuickRatioIsPythons() {
        let vectors: [(String, String, Double)] = [
            ("johndoe1", "johndoe", 0.9333333333333333), ("pennylane.example", "penny.lane@example.com", 0.8717948717948718),
            ("abcdefgh", "hgfedcba", 1.0), ("xyz", "abc", 0.0), ("aab", "abb", 0.6666666666666666), ("", "", 1.0),
        ]
        for (a, b, expected) in vectors {
            XCTAssertEqual(
                PasswordPolicy.quickRatio(Array(a.unicodeScalars), Array(b.unicodeScalars)), expected, accuracy: 1e-12, "\(a) \(b)")
        }
    }

    func testSplittingIsPythonsReSplit() {
        XCTAssertEqual(
            PasswordPolicy.splitAtNonWord("john.doe@example.com").map { String(String.UnicodeScalarView($0)) },
            ["john", "doe", "example", "com"])
        XCTAssertEqual(PasswordPolicy.splitAtNonWord("@a").map { String(String.UnicodeScalarView($0)) }, ["", "a"])
    }

    func testEachRuleInDjangosOrder() {
        let policy = PasswordPolicy(minimumLength: 8, denied: ["password123"])
        let user = ["username": "johndoe", "email": "john.doe@example.com", "first_name": "John"]
        XCTAssertEqual(policy.problems("correct horse battery", attributes: user), [])
        XCTAssertEqual(policy.problems("johndoe1", attributes: user), ["The password is too similar to the username."])
        XCTAssertEqual(policy.problems("Password123 ", attributes: user), ["This password is too common."])
        XCTAssertEqual(
            policy.problems("1234", attributes: user),
            ["This password is too short. It must contain at least 8 characters.", "This password is entirely numeric."])
        XCTAssertEqual(
            policy.problems("doe.example", attributes: ["email": "john.doe@example.com"]),
            ["The password is too similar to the email address."])
        XCTAssertEqual(
            PasswordPolicy(minimumLength: 1).problems("", attributes: [:]),
            ["This password is too short. It must contain at least 1 character."])
        // A short part is no reason against a long password (exceeds_maximum_length_ratio).
        XCTAssertEqual(policy.problems("a-long-passphrase-with-jo-in-it", attributes: ["first_name": "Jo"]), [])
    }
}
