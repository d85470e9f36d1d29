import RedisClient
import XCTest

/// The wire form the hot path sends its commands in: what hiredis's own
/// formatting (redisFormatCommandArgv) writes, byte for byte.
final class RESPCommandTests: XCTestCase {
    func testCommandsAreArraysOfBulkStrings() {
        XCTAssertEqual(
            String(decoding: RESPCommand.encode(["HMGET", "durin:t:ab", "u"]), as: UTF8.self),
            "*3\r\n$5\r\nHMGET\r\n$10\r\ndurin:t:ab\r\n$1\r\nu\r\n")
        XCTAssertEqual(
            String(decoding: RESPCommand.encode(["SET", "k", ""]), as: UTF8.self), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n",
            "an empty argument")
        let binary: [[UInt8]] = [Array("SET".utf8), [0x00, 0xFF, 0x0D, 0x0A]]
        XCTAssertEqual(
            RESPCommand.encode(binary), Array("*2\r\n$3\r\nSET\r\n$4\r\n".utf8) + [0x00, 0xFF, 0x0D, 0x0A, 0x0D, 0x0A],
            "binary-safe: lengths, not terminators")
        let twelve = (0..<12).map { String($0) }
        XCTAssertTrue(String(decoding: RESPCommand.encode(twelve), as: UTF8.self).hasPrefix("*12\r\n$1\r\n0\r\n"))
        XCTAssertEqual(RESPCommand.encode(["é"]), Array("*1\r\n$2\r\né\r\n".utf8), "lengths in bytes")
        XCTAssertEqual(RESPCommand.encode(twelve), RESPCommand.encode(twelve.map { Array($0.utf8) }))
    }

    func testLengthsOfEveryWidth() {
        for n in [0, 1, 9, 10, 99, 100, 101, 999, 1000, 65_535, 1_048_576, 123_456_789] {
            let encoded = String(decoding: RESPCommand.encode([String(repeating: "x", count: n % 2_000_000)]), as: UTF8.self)
            XCTAssertTrue(encoded.hasPrefix("*1\r\n$\(n % 2_000_000)\r\n"), "\(n)")
        }
    }
}
