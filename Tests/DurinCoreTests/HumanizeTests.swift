import Foundation
import XCTest

@testable import DurinCore

final class HumanizeTests: XCTestCase {
    func testContractExamples() {
        XCTAssertEqual(Humanize.naturalDelta(milliseconds: 86_399_990), "a day", "a fresh one-day token")
        XCTAssertEqual(Humanize.naturalDelta(milliseconds: 6 * 86_400_000 + 5000), "6 days")
        XCTAssertEqual(Humanize.naturalDelta(milliseconds: 30 * 86_400_000), "a month")
        XCTAssertEqual(Humanize.naturalDelta(milliseconds: 1500), "a second")
        XCTAssertEqual(Humanize.naturalDelta(milliseconds: 365 * 86_400_000), "a year")
    }

    /// Every vector was produced by python humanize 4.17 (see the file's header).
    func testMatchesPythonHumanize() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("naturaldelta-vectors.txt").path
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").filter { !$0.hasPrefix("#") }
        XCTAssertGreaterThan(lines.count, 300)
        for line in lines {
            let parts = line.split(separator: "|", maxSplits: 1)
            XCTAssertEqual(Humanize.naturalDelta(milliseconds: Int64(parts[0])!), String(parts[1]), "for \(parts[0]) ms")
        }
    }
}
