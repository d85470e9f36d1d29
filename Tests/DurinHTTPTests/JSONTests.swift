import XCTest

@testable import DurinHTTP

final class JSONTests: XCTestCase {
    func parse(_ s: String) throws -> JSONValue { try JSONParser.parse(Array(s.utf8)) }

    func testParsesObjectsInOrderAndLastDuplicateWins() throws {
        let v = try parse(#" {"b": 1, "a": [true, null, "x"], "b": 2.5e3} "#)
        XCTAssertEqual(v, .object([("b", .number("2.5e3")), ("a", .array([.bool(true), .null, .string("x")]))]))
        XCTAssertEqual(v["b"], .number("2.5e3"))
    }

    func testStringEscapesAndSurrogatePairs() throws {
        XCTAssertEqual(try parse(#""a\"\\\/\n\u00e9\ud83d\ude00""#), .string("a\"\\/\né😀"))
    }

    func testErrorsAreWordedLikePython() {
        func message(_ s: String) -> String? {
            do {
                _ = try JSONParser.parse(Array(s.utf8))
                return nil
            } catch { return error.message }
        }
        XCTAssertEqual(message(""), "Expecting value: line 1 column 1 (char 0)")
        XCTAssertEqual(message("{"), "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)")
        XCTAssertEqual(message(#"{"a" 1}"#), "Expecting ':' delimiter: line 1 column 6 (char 5)")
        XCTAssertEqual(message(#"{"a": 1,}"#), "Expecting property name enclosed in double quotes: line 1 column 9 (char 8)")
        XCTAssertEqual(message("[1] x"), "Extra data: line 1 column 5 (char 4)")
        XCTAssertEqual(message("{\n\"a\": tru}"), "Expecting value: line 2 column 6 (char 7)")
        XCTAssertEqual(message(#""abc"#), "Unterminated string starting at: line 1 column 1 (char 0)")
        XCTAssertEqual(message(#""\ud800""#), "Unpaired surrogate: line 1 column 2 (char 1)")
    }

    func testRejectsInvalidUTF8BeforeParsing() {
        XCTAssertThrowsError(try JSONParser.parse([0x7B, 0xFF, 0x7D])) { error in
            XCTAssertEqual(
                (error as? JSONParseError)?.message,
                "'utf-8' codec can't decode byte 0xff in position 1: invalid start byte")
        }
    }

    func testNestingIsBounded() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        XCTAssertThrowsError(try parse(deep))
        XCTAssertNoThrow(try parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)))
    }

    func testRendersCompactlyWithEscapes() {
        let v: JSONValue = ["detail": "Method \"GET\" not allowed.", "n": 5, "list": ["a\u{1}", nil, true]]
        XCTAssertEqual(v.rendered, #"{"detail":"Method \"GET\" not allowed.","n":5,"list":["a\u0001",null,true]}"#)
    }

    func testPythonTypeNames() throws {
        XCTAssertEqual(try parse("[1]").pythonTypeName, "list")
        XCTAssertEqual(try parse("1.5").pythonTypeName, "float")
        XCTAssertEqual(try parse("1").pythonTypeName, "int")
        XCTAssertEqual(try parse("\"s\"").pythonTypeName, "str")
    }
}
