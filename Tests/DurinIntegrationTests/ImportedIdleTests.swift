import Foundation
import XCTest

/// Idle timeouts hold for imported tokens (issue 23, 5): `durinctl import django`
/// wrote neither a last use nor the client's idle timeout, so at a switch from
/// Django every live token skipped its client's idle timeout. Both orders: the
/// timeout set before the import, and set after it (when `client set --idle`
/// expires the tokens already idle). A small dump made here in Django's dumpdata
/// form (DjangoImportTests runs the real Django); one server, as the import needs.
final class ImportedIdleTests: SharedStackTestCase {
    /// Checks write a token's last use once a second (so bea's check below counts).
    override class var settings: [String: String] { ["DURIN_LAST_USED_RESOLUTION": "1"] }
    override class func prepare(_ stack: Stack) throws {
        try stack.durinctl(["client", "add", "kiosk", "--idle", "3s"]).checked()
        try stack.durinctl(["client", "add", "tv"]).checked()
    }

    /// A token per (user, client), made an hour ago in Django and valid for a day.
    func dump(_ tokens: [(pk: Int, user: String, client: String, token: String)]) throws -> String {
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let now = Date()
        var records: [[String: Any]] = [
            ["model": "durin.client", "pk": 1, "fields": ["name": "kiosk", "token_ttl": "1 00:00:00", "throttle_rate": ""]],
            ["model": "durin.client", "pk": 2, "fields": ["name": "tv", "token_ttl": "1 00:00:00", "throttle_rate": ""]],
        ]
        for (i, t) in tokens.enumerated() {
            records.append([
                "model": "auth.user", "pk": 100 + i,
                "fields": ["username": t.user, "password": "!", "is_active": true],
            ])
            records.append([
                "model": "durin.authtoken", "pk": t.pk,
                "fields": [
                    "token": t.token, "user": 100 + i, "client": t.client == "kiosk" ? 1 : 2,
                    "created": iso.string(from: now.addingTimeInterval(-3600)),
                    "expiry": iso.string(from: now.addingTimeInterval(86400)),
                ],
            ])
        }
        let path = "\(stack.state)/dump-\(tokens[0].pk).json"
        try JSONSerialization.data(withJSONObject: records).write(to: URL(fileURLWithPath: path))
        return path
    }

    func token(_ seed: Character) -> String { String(repeating: seed, count: 64) }

    func check(_ token: String) throws -> HTTPResult { try http.call("GET", "/api/ping/", token: token) }

    func testAnImportedTokenKeepsItsClientsIdleTimeout() throws {
        let ada = token("a")
        let path = try dump([(pk: 10, user: "ada", client: "kiosk", token: ada)])
        try stack.durinctl(["import", "django", path]).checked()
        let stored = try stack.redisCLI("--scan", "--pattern", stack.keys.token("*")).split(separator: "\n")
        XCTAssertEqual(stored.count, 1, "\(stored)")
        let fields = try stack.redisCLI("HMGET", String(try XCTUnwrap(stored.first)), "d", "w").split(separator: "\n").map(String.init)
        XCTAssertEqual(fields.first, "3", "the client's idle timeout, stamped at the import")
        let lastUse = try XCTUnwrap(fields.count == 2 ? Double(fields[1]) : nil, "a last use, the import's time: \(fields)")
        XCTAssertLessThan(abs(lastUse / 1000 - Date().timeIntervalSince1970), 60)

        XCTAssertEqual(try check(ada).status, 200, "used at once: live")
        // Idle: 3 s, plus the write interval (a quarter of the timeout), and a margin.
        Thread.sleep(forTimeInterval: 4.5)
        let r = try check(ada)
        XCTAssertEqual(r.status, 401, r.text)
        XCTAssertEqual(r.detail, "The given token has expired.")
    }

    func testSettingAnIdleTimeoutAfterTheImportEndsTheTokensAlreadyIdle() throws {
        let bea = token("b")
        let cy = token("c")
        let path = try dump([(pk: 20, user: "bea", client: "tv", token: bea), (pk: 21, user: "cy", client: "tv", token: cy)])
        try stack.durinctl(["import", "django", path]).checked()
        XCTAssertEqual(try check(bea).status, 200)
        Thread.sleep(forTimeInterval: 4.5)
        XCTAssertEqual(try check(bea).status, 200, "no idle timeout yet; this check is bea's last use")
        // Now a 3 s timeout: cy has been unused since the import, 4.5 s ago.
        try stack.durinctl(["client", "set", "tv", "--idle", "3s"]).checked()
        XCTAssertEqual(try check(cy).status, 401, "dormant past the new timeout: ended when it was set")
        XCTAssertEqual(try check(bea).status, 200, "bea was used within it")
        let events = try stack.durinctl(["events", "--last", "50", "--json"]).checked()
        XCTAssertTrue(events.split(separator: "\n").contains { $0.contains(#""user":"cy""#) && $0.contains(#""reason":"idle""#) }, events)
    }
}
