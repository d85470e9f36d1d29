import DurinCore
import DurinTestSupport
import Foundation
import RedisClient
import XCTest

@testable import DurinStore

/// Last use, idle timeouts and session details in the store, on a clock the test
/// sets (`now:`): the rules in Swift and in Lua agree, a check writes the last use
/// at most once per interval, an idle token goes, and a client's new idle timeout
/// reaches its live tokens.
final class LastUseTests: XCTestCase {
    var redis: RedisServer!
    var config = Configuration()
    let t0: EpochMillis = 1_800_000_000_000

    override func setUpWithError() throws {
        redis = try RedisServer()
        config.passwordIterations = 1000
        config.lastUsedResolutionMillis = 60_000
    }

    override func tearDown() { redis?.stop() }

    func store() -> TokenStore { TokenStore(connection: redis.connection(), configuration: config) }
    func admin() -> AdminStore { AdminStore(connection: redis.connection(), configuration: config) }
    func field(_ digest: String, _ name: String) throws -> String? {
        try redis.connection().send("HGET", "durin:t:\(digest)", name).string
    }

    func seed(idle: Int64?) throws {
        try admin().addClient(ClientRecord(name: "kiosk", tokenTTL: .seconds(86400), throttleRate: nil, created: 0, idleTimeout: idle))
        try admin().addUser(UserRecord(username: "kim", passwordHash: "!", isActive: true))
    }

    func login(at now: EpochMillis, details: SessionDetails = SessionDetails()) throws -> IssuedToken {
        guard case .success(let issued) = try store().login(user: "kim", client: "kiosk", mode: .keep, details: details, now: now) else {
            struct LoginFailed: Error {}
            XCTFail("login failed")
            throw LoginFailed()
        }
        return issued
    }

    func testTheLuaRulesAreTheSwiftRules() throws {
        let probe = Script(
            parameters: ["w", "t", "d", "resolution"],
            #"""
            if w == '' then w = false end
            if d == '' then d = false end
            return {idleOut(w, t, d, resolution) and 1 or 0, stale(w, d, resolution) and 1 or 0}
            """#)
        let context = ScriptContext(keys: KeySpace(prefix: "durin:"), eventsMaxLength: 0)
        let connection = redis.connection()
        let now: EpochMillis = t0
        var compared = 0
        for resolution in [nil, 1000, 60_000] as [Int64?] {
            for idle in [nil, 1, 4, 60, 7200] as [Int64?] {
                for age in [
                    nil, 0, 1, 249, 250, 999, 1000, 1001, 4999, 5000, 5001, 15_000, 60_000, 75_000, 75_001,
                    7_200_000, 7_260_000, 7_260_001,
                ] as [Int64?] {
                    let w = age.map { now - $0 }
                    // Never used (no w): the token counts from its creation, here 6,000 ms ago.
                    let created = now - 6000
                    let reply = try connection.run(
                        probe,
                        args: context.header(group: .global, now: now)
                            + [
                                w.map(String.init) ?? "", String(created), idle.map(String.init) ?? "",
                                resolution.map(String.init) ?? "",
                            ])
                    let lua = (reply.array ?? []).compactMap(\.int)
                    let swift = [
                        LastUse.isIdle(lastUsed: w, created: created, idleSeconds: idle, resolution: resolution, now: now) ? 1 : 0,
                        LastUse.isStale(lastUsed: w, idleSeconds: idle, resolution: resolution, now: now) ? 1 : 0,
                    ]
                    XCTAssertEqual(
                        lua, swift.map(Int64.init),
                        "w age \(String(describing: age)), idle \(String(describing: idle)), resolution \(String(describing: resolution))")
                    compared += 1
                }
            }
        }
        XCTAssertEqual(compared, 3 * 5 * 18)
        // The bounds the docs state: never early, at most the write interval late.
        XCTAssertFalse(LastUse.isIdle(lastUsed: now - 60_000, created: 0, idleSeconds: 60, resolution: 60_000, now: now))
        XCTAssertFalse(LastUse.isIdle(lastUsed: now - 75_000, created: 0, idleSeconds: 60, resolution: 60_000, now: now))
        XCTAssertTrue(LastUse.isIdle(lastUsed: now - 75_001, created: 0, idleSeconds: 60, resolution: 60_000, now: now))
        // Never used: idle from its creation, like a token used then.
        XCTAssertFalse(LastUse.isIdle(lastUsed: nil, created: now - 75_000, idleSeconds: 60, resolution: 60_000, now: now))
        XCTAssertTrue(LastUse.isIdle(lastUsed: nil, created: now - 75_001, idleSeconds: 60, resolution: 60_000, now: now))
        XCTAssertTrue(LastUse.isIdle(lastUsed: nil, created: now - 60_001, idleSeconds: 60, resolution: nil, now: now))
        XCTAssertEqual(LastUse.writeInterval(resolution: 60_000, idleSeconds: 7200), 60_000)
        XCTAssertEqual(LastUse.writeInterval(resolution: 60_000, idleSeconds: 4), 1000)
        XCTAssertNil(LastUse.writeInterval(resolution: nil, idleSeconds: 4))
    }

    func testAChecksWritesTheLastUseAtMostOncePerInterval() throws {
        try seed(idle: nil)
        let digest = try login(at: t0).record.digest
        XCTAssertEqual(try field(digest, "w"), String(t0), "a login is a use")
        for (offset, written) in [(10_000, t0), (59_999, t0), (60_000, t0 + 60_000), (61_000, t0 + 60_000)] as [(Int64, EpochMillis)] {
            guard case .valid(let record) = try store().authenticate(digest: digest, now: t0 + offset) else { return XCTFail("check") }
            XCTAssertEqual(try field(digest, "w"), String(written), "check at +\(offset) ms")
            XCTAssertEqual(record.lastUsed, written)
        }
        // The script's path (a throttled location) writes it the same way.
        let throttled = AccessRules(allowClients: [], denyClients: [], throttle: true, defaultRate: nil)
        guard case .valid = try store().authenticate(digest: digest, rules: throttled, now: t0 + 100_000) else { return XCTFail("check") }
        XCTAssertEqual(try field(digest, "w"), String(t0 + 60_000), "40 s since the last write")
        guard case .valid = try store().authenticate(digest: digest, rules: throttled, now: t0 + 120_000) else { return XCTFail("check") }
        XCTAssertEqual(try field(digest, "w"), String(t0 + 120_000))
        XCTAssertNotNil(try store().refresh(digest: digest, now: t0 + 130_000))
        XCTAssertEqual(try field(digest, "w"), String(t0 + 130_000), "a refresh is a use")

        // Off: checks never write it.
        config.lastUsedResolutionMillis = nil
        guard case .valid = try store().authenticate(digest: digest, now: t0 + 10_000_000) else { return XCTFail("check") }
        XCTAssertEqual(try field(digest, "w"), String(t0 + 130_000))
    }

    func testAnIdleTokenExpiresOnceAndItsPairGetsANewOne() throws {
        try seed(idle: 60)
        let first = try login(at: t0).record.digest
        XCTAssertEqual(try field(first, "d"), "60")
        // Used within its idle time: valid, however long it lives.
        for minute in 1...5 {
            guard case .valid = try store().authenticate(digest: first, now: t0 + EpochMillis(minute) * 50_000) else {
                return XCTFail("used every 50 s, at \(minute)")
            }
        }
        let lastUse = t0 + 250_000
        // The write interval is 15 s (a quarter of 60 s): idle after 75 s unused, never before.
        guard case .valid = try store().authenticate(digest: first, now: lastUse + 75_000) else { return XCTFail("not yet idle") }
        XCTAssertEqual(try store().authenticate(digest: first, now: lastUse + 75_000 + 75_001), .expired)
        XCTAssertEqual(try store().authenticate(digest: first, now: lastUse + 75_000 + 75_002), .invalid, "reported once, then gone")
        let events = try redis.connection().send("XREVRANGE", "durin:events", "+", "-", "COUNT", "1").array ?? []
        let fields = (events.first?.array?.last?.array ?? []).compactMap(\.string)
        XCTAssertTrue(fields.starts(with: ["type", "token_expired"]) && fields.contains("idle"), "\(fields)")

        // A login finds the pair's idle token, removes it and issues a new one.
        let third = try login(at: t0 + 1_000_000).record.digest
        let fourth = try login(at: t0 + 1_000_000 + 80_000).record.digest
        XCTAssertNotEqual(fourth, third)
        XCTAssertNil(try field(third, "u"), "the idle token went")
        XCTAssertEqual(try redis.connection().send("HGET", "durin:user:kim", "t:kiosk").string, fourth)
    }

    func testAClientsNewIdleTimeoutReachesItsLiveTokens() throws {
        try seed(idle: nil)
        let digest = try login(at: t0).record.digest
        XCTAssertNil(try field(digest, "d"))
        XCTAssertEqual(try admin().updateClient("kiosk", ttl: nil, throttle: nil, idle: .some(120)), 1)
        XCTAssertEqual(try field(digest, "d"), "120")
        XCTAssertEqual(try store().authenticate(digest: digest, now: t0 + 200_000), .expired)

        let again = try login(at: t0 + 300_000).record.digest
        XCTAssertEqual(try admin().updateClient("kiosk", ttl: nil, throttle: nil, idle: .some(nil)), 1)
        XCTAssertNil(try field(again, "d"))
        guard case .valid = try store().authenticate(digest: again, now: t0 + 80_000_000) else { return XCTFail("no idle timeout now") }
    }

    func testALoginKeepsWhereItCameFrom() throws {
        try seed(idle: nil)
        let digest = try login(at: t0, details: SessionDetails(address: "203.0.113.7", userAgent: "curl/8.1.2", label: "build box")).record
            .digest
        XCTAssertEqual(try field(digest, "a"), "203.0.113.7")
        XCTAssertEqual(try field(digest, "g"), "curl/8.1.2")
        XCTAssertEqual(try field(digest, "l"), "build box")
        // The pair's next login (the same token): the latest address and agent, the label until another is given.
        XCTAssertEqual(try login(at: t0 + 1000, details: SessionDetails(address: "2001:db8::1")).record.digest, digest)
        XCTAssertEqual(try field(digest, "a"), "2001:db8::1")
        XCTAssertNil(try field(digest, "g"))
        XCTAssertEqual(try field(digest, "l"), "build box")
        let listed = try XCTUnwrap(try admin().tokens(user: "kim").first)
        XCTAssertEqual(listed.details, SessionDetails(address: "2001:db8::1", label: "build box"))
        XCTAssertEqual(listed.lastUsed, t0 + 1000)
    }
}
