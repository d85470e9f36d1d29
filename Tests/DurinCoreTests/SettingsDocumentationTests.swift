import DurinCore
import Foundation
import XCTest

/// docs/configuration.md and the settings' declarations (`Configuration.settings`)
/// say the same: every variable durin reads is in its section of the manual with the
/// declared default, and the manual's sections list no variable that is not read.
final class SettingsDocumentationTests: XCTestCase {
    /// The manual's rows, by section: variable → default cell.
    func documented() throws -> [String: [String: String]] {
        let manual = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/configuration.md")
        let text = try String(contentsOf: manual, encoding: .utf8)
        var sections: [String: [String: String]] = [:]
        var section = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## ") {
                section = String(line.dropFirst(3))
                continue
            }
            guard line.hasPrefix("| `DURIN_") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4 else { continue }
            sections[section, default: [:]][cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = cells[2]
        }
        return sections
    }

    func testTheManualDocumentsEverySettingWithItsDefault() throws {
        let manual = try documented()
        let names = Configuration.settings.map(\.name)
        XCTAssertEqual(Set(names).count, names.count, "each variable declared once")
        for setting in Configuration.settings {
            XCTAssertEqual(
                manual[setting.section.rawValue]?[setting.name], setting.defaultText,
                "\(setting.name): in \"## \(setting.section.rawValue)\" with its default")
            XCTAssertFalse(setting.summary.isEmpty || setting.summary.contains("\n"), setting.name)
        }
        for section in Configuration.Setting.Section.allCases {
            let listed = Set(manual[section.rawValue, default: [:]].keys)
            let declared = Set(Configuration.settings.filter { $0.section == section }.map(\.name))
            XCTAssertEqual(listed.subtracting(declared), [], "documented in \"## \(section.rawValue)\" but never read")
        }
    }

    /// The declared defaults are the values an empty environment gives.
    func testAnEmptyEnvironmentGivesTheDocumentedDefaults() throws {
        let c = try Configuration.fromEnvironment([:])
        XCTAssertEqual(c.redisURL, "redis://127.0.0.1:6379/0")
        XCTAssertEqual(c.keyPrefix, "durin:")
        XCTAssertEqual(c.redisTimeoutMillis, 2000)
        XCTAssertEqual(c.threads, 8)
        XCTAssertEqual(c.fastcgiTimeoutMillis, 5000)
        XCTAssertEqual(c.maxBodyBytes, 1_048_576)
        XCTAssertEqual(c.lastUsedResolutionMillis, 60_000)
        XCTAssertEqual(c.defaultTokenTTL, .seconds(86400))
        XCTAssertEqual(c.tokenCharacterLength, 64)
        XCTAssertEqual(c.authSchemes, ["Token"])
        XCTAssertEqual(c.expiredGraceSeconds, 86400)
        XCTAssertEqual(c.tokenCacheTimeout, 60)
        XCTAssertEqual(c.eventsMaxLength, 100_000)
        XCTAssertEqual(c.passwordIterations, 1_000_000)
        XCTAssertEqual(c.passwordIterationsMax, 2_000_000)
        XCTAssertEqual(c.loginQueueLimit, 512)
        XCTAssertEqual(c.loginDeadlineSeconds, 20)
        XCTAssertEqual(c.loginFailureRate, ThrottleRate.parse("10/m"))
        XCTAssertEqual(c.loginFailureRatePerUser, ThrottleRate.parse("1000/h"))
        XCTAssertEqual(c.loginRatePerAddress, ThrottleRate.parse("30/m"))
        XCTAssertEqual(c.introspectionRate, ThrottleRate.parse("1000/s"))
        XCTAssertEqual(c.socketMode, 0o660)
        XCTAssertEqual(c.consoleClientName, "console")
        XCTAssertNil(c.secretKey)
        XCTAssertNil(c.proxyKey)
        XCTAssertNil(c.throttleRate)
        XCTAssertNil(c.apiAccessClientName)
    }
}
