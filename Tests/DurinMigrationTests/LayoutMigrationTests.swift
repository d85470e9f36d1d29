import DurinMigration
import DurinStore
import DurinTestSupport
import Foundation
import RedisClient
import XCTest

@testable import DurinCore

/// Layout 1 (a release before this one) moved to layout 2 by LayoutMigration:
/// live tokens keep verifying, with the same user, client, expiry and session id;
/// re-login hands back the same token; an expired one still answers "expired" once.
final class LayoutMigrationTests: XCTestCase {
    var redis: RedisServer!
    var config = Configuration()
    let secret: [UInt8] = Array("a-test-secret-of-enough-length-0123456789".utf8)

    override func setUpWithError() throws {
        redis = try RedisServer()
        config.secretKey = secret
        config.expiredGraceSeconds = 60
    }

    override func tearDown() { redis?.stop() }

    @discardableResult
    func send(_ args: String...) throws -> RedisReply { try redis.connection().send(args) }

    /// Writes one token as layout 1 did (`token:<sha256>`, tombstone, per-user index).
    func writeLayout1(_ token: Token, user: String, client: String, id: Int, expiry: Int64) throws {
        let sha = Token.sha256Hex(of: token.value)
        let sealed = TokenSeal(secret: secret).sealLayout1(token, sha256Hex: sha)
        try send(
            "HSET", "durin:token:\(sha)", "user", user, "client", client, "created", "1700000000000",
            "expiry", String(expiry), "id", String(id), "sealed", sealed)
        try send("PEXPIREAT", "durin:token:\(sha)", String(expiry))
        try send("SET", "durin:expired:\(sha)", "\(user)\t\(client)\t\(id)", "PXAT", String(expiry + 60_000))
        try send("HSET", "durin:user:\(user):tokens", client, sha)
    }

    func testLayout1TokensMoveAndKeepWorking() throws {
        let admin = AdminStore(connection: redis.connection(), configuration: config)
        try admin.addClient(ClientRecord(name: "web", tokenTTL: .seconds(3600), throttleRate: nil, created: 0))
        for user in ["alice", "bob"] { try admin.addUser(UserRecord(username: user, passwordHash: "!", isActive: true)) }
        let now = WallClock.nowMillis()
        let live = Token.generate(length: 64)
        try writeLayout1(live, user: "alice", client: "web", id: 7, expiry: now + 3_600_000)
        // bob's token expired 1 s ago: only its tombstone is left, for the grace period.
        let expired = Token.generate(length: 64)
        let shaExpired = Token.sha256Hex(of: expired.value)
        try send("SET", "durin:expired:\(shaExpired)", "bob\tweb\t8", "PXAT", String(now - 1000 + 60_000))
        try send("HSET", "durin:user:bob:tokens", "web", shaExpired)
        try send("SET", "durin:seq:token", "8")

        let migration = LayoutMigration(connection: redis.connection(), configuration: config)
        XCTAssertFalse(try migration.isCurrent())
        XCTAssertEqual(try migration.run(dryRun: true).tokens, 1)
        XCTAssertEqual(try send("EXISTS", "durin:layout").int, 0, "a dry run writes nothing")
        let report = try migration.run()
        XCTAssertEqual(report.tokens, 1)
        XCTAssertEqual(report.expiredTokens, 1)
        XCTAssertEqual(report.unsealable, 0)
        XCTAssertTrue(try migration.isCurrent())

        let store = TokenStore(connection: redis.connection(), configuration: config)
        guard case .valid(let record) = try store.authenticate(digest: live.digest) else {
            return XCTFail("the live token no longer verifies")
        }
        XCTAssertEqual(
            record,
            TokenRecord(
                digest: live.digest, user: "alice", client: "web", created: 1_700_000_000_000,
                expiry: now + 3_600_000, id: 7, lastUsed: record.lastUsed))
        XCTAssertEqual(try store.sessions(user: "alice").map(\.record.id), [7])
        guard case .success(let again) = try store.login(user: "alice", client: "web", mode: .keep) else { return XCTFail("login") }
        XCTAssertEqual(again.token, live, "re-login hands back the same token: it was sealed again under the new digest")
        XCTAssertEqual(try store.authenticate(digest: expired.digest), .expired, "an expired token still answers expired once")
        XCTAssertEqual(try store.authenticate(digest: expired.digest), .invalid)

        for pattern in ["durin:token:*", "durin:expired:*", "durin:user:*:tokens"] {
            XCTAssertEqual(try send("KEYS", pattern).array?.count, 0, "\(pattern) left behind")
        }
        guard case .success(let next) = try store.login(user: "bob", client: "web", mode: .keep) else { return XCTFail("login") }
        XCTAssertEqual(next.record.id, 9, "session ids go on from layout 1's counter")
        XCTAssertTrue(try migration.run().alreadyDone, "a second run only reads the layout key")
    }

    func testAnInterruptedMigrationFinishesOnTheNextRun() throws {
        let admin = AdminStore(connection: redis.connection(), configuration: config)
        try admin.addClient(ClientRecord(name: "web", tokenTTL: .seconds(3600), throttleRate: nil, created: 0))
        let now = WallClock.nowMillis()
        var tokens: [Token] = []
        for i in 0..<20 {
            try admin.addUser(UserRecord(username: "u\(i)", passwordHash: "!", isActive: true))
            let t = Token.generate(length: 64)
            tokens.append(t)
            try writeLayout1(t, user: "u\(i)", client: "web", id: i + 1, expiry: now + 3_600_000)
        }
        // As if a run had stopped after moving some: the moved ones are skipped, the rest move.
        let migration = LayoutMigration(connection: redis.connection(), configuration: config)
        _ = try migration.run()
        try send("DEL", "durin:layout")
        XCTAssertEqual(try migration.run().tokens, 0, "nothing moves twice")
        let store = TokenStore(connection: redis.connection(), configuration: config)
        for t in tokens {
            guard case .valid = try store.authenticate(digest: t.digest) else { return XCTFail("a token was lost") }
        }
    }

    /// Layout 2 to 3 on a keyspace as a release before this one left it: password
    /// hashes in the user hashes, tokens sealed with the XOR pad. Afterwards each
    /// hash has its own key, each sealed copy is the AEAD's, and users keep their
    /// passwords and tokens (re-login hands back the same token).
    func testLayout2MovesPasswordsAndSealsTheTokensAgain() throws {
        let admin = AdminStore(connection: redis.connection(), configuration: config)
        let store = TokenStore(connection: redis.connection(), configuration: config)
        try admin.addClient(ClientRecord(name: "web", tokenTTL: .seconds(3600), throttleRate: nil, created: 0))
        let keys = KeySpace(prefix: "durin:")
        var issued: [String: Token] = [:]
        for name in ["ada", "bo"] {
            let hash = PasswordHasher(iterations: 1000).hash("\(name)-pw")
            try admin.addUser(UserRecord(username: name, passwordHash: hash, isActive: true))
            guard case .success(let login) = try store.login(user: name, client: "web", mode: .keep) else { return XCTFail("login") }
            issued[name] = login.token
            // Back to layout 2.
            try send("HSET", keys.user(name), "password", hash)
            try send("DEL", keys.password(name))
            try send(
                "HSET", keys.token(login.token.digest), "s", TokenSeal(secret: secret).sealLegacy(login.token, digest: login.token.digest))
        }
        // A copy sealed under another secret cannot be opened: it stays, as before.
        let stranger = Token.generate(length: 64)
        try send(
            "HSET", keys.token(stranger.digest), "u", "ada", "c", "web", "t", "1", "e", "never", "i", "99",
            "s", TokenSeal(secret: Array(repeating: 9, count: 44)).sealLegacy(stranger, digest: stranger.digest))
        try send("SET", "durin:layout", "2")

        let migration = LayoutMigration(connection: redis.connection(), configuration: config)
        XCTAssertFalse(try migration.isCurrent())
        let dry = try migration.run(dryRun: true)
        XCTAssertEqual([dry.passwords, dry.resealed, dry.unsealable], [2, 2, 1])
        XCTAssertEqual(try send("GET", "durin:layout").string, "2", "a dry run writes nothing")
        XCTAssertEqual(try send("EXISTS", keys.password("ada")).int, 0)
        let report = try migration.run()
        XCTAssertEqual([report.passwords, report.resealed, report.unsealable], [2, 2, 1])
        XCTAssertTrue(try migration.isCurrent())
        XCTAssertEqual(try send("GET", "durin:layout").string, "3")

        for name in ["ada", "bo"] {
            XCTAssertNil(try send("HGET", keys.user(name), "password").string, "no hash left in \(name)'s user hash")
            XCTAssertTrue(PasswordHasher.verify("\(name)-pw", against: try XCTUnwrap(try admin.passwordHash(of: name))))
            let token = try XCTUnwrap(issued[name])
            let sealed = try XCTUnwrap(try send("HGET", keys.token(token.digest), "s").string)
            XCTAssertFalse(TokenSeal.isLegacy(sealed), sealed)
            XCTAssertEqual(sealed.count, 64)
            guard case .valid = try store.authenticate(digest: token.digest) else { return XCTFail("\(name)'s token") }
            guard case .success(let again) = try store.login(user: name, client: "web", mode: .keep) else { return XCTFail("login") }
            XCTAssertEqual(again.token, token, "re-login hands back the same token, opened from the AEAD's copy")
            guard case .proceed(let user?) = try store.loginPrecheck(username: name, addressGroup: "g", pairRate: nil, userRate: nil)
            else { return XCTFail("precheck") }
            XCTAssertTrue(PasswordHasher.verify("\(name)-pw", against: user.passwordHash), "the login check reads the moved hash")
        }
        XCTAssertTrue(TokenSeal.isLegacy(try XCTUnwrap(try send("HGET", keys.token(stranger.digest), "s").string)))
        XCTAssertTrue(try migration.run().alreadyDone, "a second run only reads the layout key")
    }
}
