import Codecs
import Foundation
import XCTest

final class HexTests: XCTestCase {
    func testRoundTripsAndRefusesWhatIsNotHex() {
        let bytes: [UInt8] = [0x00, 0x0f, 0x10, 0xab, 0xff]
        XCTAssertEqual(Hex.encode(bytes), "000f10abff")
        XCTAssertEqual(Hex.decode("000f10abff"), bytes)
        XCTAssertEqual(Hex.decode("000F10ABFF"), bytes, "either case decodes")
        XCTAssertNil(Hex.decode("abc"), "odd length")
        XCTAssertNil(Hex.decode("zz"))
        XCTAssertNil(Hex.decode("+f"), "a sign is not a digit")
        XCTAssertEqual(Hex.decode(""), [])
    }
}

final class Base64Tests: XCTestCase {
    /// The URL-safe form (every token digest is one) is the standard form with `-`
    /// and `_` for `+` and `/`, unpadded: checked against it for every length a few times.
    func testURLSafeIsTheStandardFormRewritten() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...48 {
            for _ in 0..<8 {
                let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
                let expected = Base64.encode(bytes).replacingOccurrences(of: "+", with: "-")
                    .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
                XCTAssertEqual(Base64.encodeURLSafe(bytes), expected, "\(bytes)")
            }
        }
        XCTAssertEqual(Base64.encodeURLSafe([0xFB, 0xFF]), "-_8")
    }

    func testDjangosStrictStandardAlphabet() {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            XCTAssertEqual(Base64.decode(Base64.encode(bytes)), bytes)
        }
        XCTAssertEqual(Base64.encode(Array("hello".utf8)), "aGVsbG8=")
        XCTAssertNil(Base64.decode("aGVsbG8"), "padding is required")
        XCTAssertNil(Base64.decode("a=VsbG8="), "padding only at the end")
        XCTAssertNil(Base64.decode("aGVs bG8="), "no white space")
        XCTAssertNil(Base64.decode("aGVs-G8="), "not the URL-safe alphabet")
    }
}

final class PercentEncodingTests: XCTestCase {
    private func decode(_ text: String, plus: Bool = false) -> String {
        String(decoding: PercentEncoding.decode(Array(text.utf8), plusIsSpace: plus), as: UTF8.self)
    }

    func testEscapesAreExactlyTwoHexDigits() {
        XCTAssertEqual(decode("p%40ss%2Fw%3a"), "p@ss/w:")
        XCTAssertEqual(decode("%+f"), "%+f", "a sign is not a hex digit (UInt8(\"+f\", radix: 16) would take it)")
        XCTAssertEqual(decode("%-1"), "%-1")
        XCTAssertEqual(decode("100%"), "100%")
        XCTAssertEqual(decode("%4"), "%4")
        XCTAssertEqual(decode("%zz%41"), "%zzA")
    }

    func testPlusIsASpaceOnlyInForms() {
        XCTAssertEqual(decode("a+b%2B", plus: true), "a b+")
        XCTAssertEqual(decode("a+b%2B", plus: false), "a+b+")
    }

    func testASCIITrimming() {
        XCTAssertEqual(" \t value \r\n".trimmingASCIIWhitespace(), "value")
        XCTAssertEqual("\u{00A0}x".trimmingASCIIWhitespace(), "\u{00A0}x", "only ASCII white space")
    }
}
