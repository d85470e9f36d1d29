import Crypto
import Foundation
import XCTest

/// An upgrade from a release that wrote layout 1: durin-fcgi moves the data when it
/// starts, and the tokens users hold keep working through nginx, unchanged.
final class UpgradeTests: SharedStackTestCase {
    override class func prepare(_ stack: Stack) throws {
        try stack.addClient("web")
        try stack.addUser("olga", password: "olga-pw")
    }

    /// A token as layout 1 stored it: `token:<sha256>` with long field names and the
    /// sealed copy as hex, a tombstone and a per-user index.
    private func writeLayout1(_ token: String, user: String, client: String, id: Int, expiry: Int64) throws {
        let secret = Array((stack.stackEnv["DURIN_SECRET_KEY"] ?? "").utf8)
        let sha = sha256Hex(token)
        var pad: [UInt8] = []
        var counter: UInt8 = 0
        while pad.count < token.utf8.count {
            var mac = HMAC<SHA256>(key: SymmetricKey(data: secret))
            mac.update(data: Array("durin-seal".utf8) + Array(sha.utf8) + [counter])
            pad += Array(mac.finalize())
            counter += 1
        }
        let sealed = zip(Array(token.utf8), pad).map { String(format: "%02x", $0 ^ $1) }.joined()
        try stack.redisCLI(
            "HSET", "durin:token:\(sha)", "user", user, "client", client, "created", "1700000000000",
            "expiry", String(expiry), "id", String(id), "sealed", sealed)
        try stack.redisCLI("PEXPIREAT", "durin:token:\(sha)", String(expiry))
        try stack.redisCLI("SET", "durin:expired:\(sha)", "\(user)\t\(client)\t\(id)", "PXAT", String(expiry + 86_400_000))
        try stack.redisCLI("HSET", "durin:user:\(user):tokens", client, sha)
    }

    func testTokensOfTheOldLayoutKeepWorkingAfterAnUpgrade() throws {
        try stack.devstack("durin-stop")
        let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let expiry = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
        try writeLayout1(token, user: "olga", client: "web", id: 41, expiry: expiry)
        try stack.redisCLI("DEL", "durin:layout")
        try stack.redisCLI("SET", "durin:seq:token", "41")
        try stack.devstack("durin-start")

        XCTAssertEqual(try stack.redisCLI("GET", "durin:layout"), "3", "durin-fcgi moved the data at start")
        let r = try http.call("GET", "/api/ping/", token: token)
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(r.text, #"{"user":"olga","client":"web"}"#)
        XCTAssertEqual(try stack.redisCLI("HGET", tokenKey(token), "e"), String(expiry), "the same expiry, to the millisecond")
        let sessions = try http.call("GET", "/api/auth/sessions/", token: token)
        XCTAssertEqual((sessions.json as? [[String: Any]])?.first?["id"] as? Int, 41, "the same session id")
        XCTAssertEqual(try stack.login("olga", "olga-pw", client: "web"), token, "re-login hands back the same token")
        XCTAssertEqual(try stack.redisCLI("--scan", "--pattern", "durin:token:*"), "", "nothing of layout 1 is left")
        let report = try stack.durinctl(["migrate", "--json"]).checked()
        XCTAssertTrue(report.contains(#""already_current":true"#), report)
    }

    /// `durinctl import django` before durin-fcgi has started on the upgraded release:
    /// the import moves layout 1 first, so that the old token keeps its pair's index
    /// entry and the imported one is stored beside it in layout 2.
    func testAnImportBeforeTheFirstStartMovesTheOldLayoutFirst() throws {
        try stack.devstack("durin-stop")
        try stack.addUser("ivan", password: "ivan-pw")
        func randomToken() -> String { (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined() }
        let old = randomToken()
        let imported = randomToken()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        try writeLayout1(old, user: "ivan", client: "web", id: 61, expiry: now + 3_600_000)
        try stack.redisCLI("DEL", "durin:layout")
        let iso = ISO8601DateFormatter()
        let dump = """
            [{"model": "durin.client", "pk": 1, "fields": {"name": "tv", "token_ttl": "1 00:00:00", "throttle_rate": ""}},
             {"model": "durin.authtoken", "pk": 62, "fields": {"token": "\(imported)", "user": ["ivan"], "client": 1,
              "created": "\(iso.string(from: Date()))", "expiry": "\(iso.string(from: Date().addingTimeInterval(3600)))"}}]
            """
        let dry = try stack.durinctl(["import", "django", "-", "--dry-run"], stdin: dump)
        XCTAssertTrue(dry.stderr.contains("1 tokens and 1 expired tokens are in an older Redis layout"), dry.stderr)
        XCTAssertEqual(try stack.redisCLI("EXISTS", "durin:layout"), "0", "a dry run moves nothing")
        let out = try stack.durinctl(["import", "django", "-", "--reserve-ids", "100"], stdin: dump)
        XCTAssertEqual(out.status, 0, out.stderr)
        XCTAssertGreaterThanOrEqual(Int(try stack.redisCLI("GET", "durin:seq:token")) ?? 0, 162, "ids up to pk + 100 kept free")
        XCTAssertTrue(out.stderr.contains("note: moved 1 tokens and 0 expired tokens to layout 2"), out.stderr)
        XCTAssertTrue(out.stdout.contains("tokens: 1 created"), out.stdout)
        XCTAssertEqual(try stack.redisCLI("GET", "durin:layout"), "3")
        XCTAssertEqual("durin:t:" + (try stack.redisCLI("HGET", "durin:user:ivan", "t:web")), tokenKey(old))
        XCTAssertEqual("durin:t:" + (try stack.redisCLI("HGET", "durin:user:ivan", "t:tv")), tokenKey(imported))
        try stack.devstack("durin-start")

        for (token, client) in [(old, "web"), (imported, "tv")] {
            let r = try http.call("GET", "/api/ping/", token: token)
            XCTAssertEqual(r.text, #"{"user":"ivan","client":"\#(client)"}"#)
        }
        let sessions = try http.call("GET", "/api/auth/sessions/", token: old)
        XCTAssertEqual((sessions.json as? [[String: Any]])?.map { $0["id"] as? Int }, [61, 62])
    }
}
