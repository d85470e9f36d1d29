import Codecs
import Foundation
import XCTest

/// QR codes read back by an independent decoder (ZBar's zbarimg, Debian's
/// zbar-tools), from one module to several hundred bytes: every version a second
/// factor's URI can need, both levels. Without zbarimg the test fails: CI installs it.
final class QRCodeTests: XCTestCase {
    func decode(_ code: QRCode) throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("durin-qr-\(UUID().uuidString).pbm").path
        try code.pbm().write(toFile: file, atomically: true, encoding: .ascii)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/zbarimg")
        process.arguments = ["--raw", "-q", "-Sbinary", file]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "zbarimg found no code (version \(code.version))")
        return String(decoding: data, as: UTF8.self)
    }

    func testDecodersReadEveryLengthBack() throws {
        let uri =
            "otpauth://totp/durin:ann%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=durin&algorithm=SHA1&digits=6&period=30"
        var versions = Set<Int>()
        for length in [1, 10, 17, 30, 60, 90, uri.utf8.count, 150, 200, 260, 400, 700, 1200] {
            let text = length == uri.utf8.count ? uri : String((0..<length).map { i in Character(UnicodeScalar(UInt8(33 + (i * 7) % 90))) })
            for correction in [QRCode.ErrorCorrection.low, .medium] {
                let code = try XCTUnwrap(QRCode(Array(text.utf8), correction: correction))
                XCTAssertEqual(code.size, code.version * 4 + 17)
                XCTAssertEqual(try decode(code), text, "length \(length), version \(code.version), \(correction)")
                versions.insert(code.version)
            }
        }
        XCTAssertTrue(versions.isSuperset(of: [1, 2, 5, 7, 10, 15]), "versions tried: \(versions.sorted())")
        XCTAssertNil(QRCode([UInt8](repeating: 65, count: 3000)), "beyond version 40")
    }

    func testTheTerminalFormKeepsTheQuietZone() throws {
        let code = try XCTUnwrap(QRCode(Array("durin".utf8)))
        let lines = code.terminalLines()
        XCTAssertEqual(lines.count, (code.size + 8 + 1) / 2)
        XCTAssertTrue(lines.allSatisfy { $0.count == code.size + 8 })
        XCTAssertEqual(lines[0], String(repeating: "\u{2588}", count: code.size + 8), "the quiet zone is light")
    }
}
