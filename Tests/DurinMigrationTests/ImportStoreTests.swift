import DurinCore
import DurinMigration
import DurinStore
import DurinTestSupport
import Foundation
import RedisClient
import XCTest

/// The import scripts (durinctl import django) against a real redis-server: tokens
/// stored as login stores its own, idempotent re-runs, dry runs that write nothing,
/// and the rules for a pair's slot and for tokens gone here since an earlier import.
final class ImportStoreTests: XCTestCase {
    var redis: RedisServer!
    var config = Configuration()

    override func setUpWithError() throws {
        redis = try RedisServer()
        config.passwordIterations = 1000
        config.secretKey = Array(repeating: 7, count: 32) + [1, 2, 3, 4, 5, 6, 8, 9]
    }

    override func tearDown() {
        redis?.stop()
    }

    func store() -> TokenStore { TokenStore(connection: redis.connection(), configuration: config) }
    func admin() -> AdminStore { AdminStore(connection: redis.connection(), configuration: config) }
    func redisCall(_ args: String...) throws -> RedisReply { try redis.connection().send(args) }

    let web = ClientRecord(name: "web", tokenTTL: .seconds(86400), throttleRate: nil, created: 1)
    let mobile = ClientRecord(
        name: "mobile", tokenTTL: .seconds(3600), throttleRate: ThrottleRate(requests: 100, periodSeconds: 60), created: 1)
    let hash = PasswordHasher.encode(password: "pw", salt: "salt", iterations: 1000)

    func user(_ name: String, active: Bool = true, hash: String? = nil) -> (user: UserRecord, created: EpochMillis) {
        (UserRecord(username: name, passwordHash: hash ?? self.hash, isActive: active, profile: ["email": "\(name)@example.com"]), 1000)
    }

    func token(_ user: String, _ client: String, id: Int64, expiresIn: Int64 = 3_600_000) -> ImportedToken {
        let now = WallClock.nowMillis()
        return ImportedToken(
            token: Token.generate(length: 64), user: user, client: client, created: now - 1000,
            expiry: now + expiresIn, id: id)
    }

    func outcomes<T>(_ results: [Result<T, StoreError>]) throws -> [T] { try results.map { try $0.get() } }

    func seed() throws {
        XCTAssertEqual(try outcomes(admin().importClients([web, mobile], dryRun: false)), [.created, .created])
        XCTAssertEqual(try outcomes(admin().importUsers([user("alice"), user("bob")], dryRun: false)), [.created, .created])
    }

    func testImportedTokensAreStoredAsLoginStoresThem() throws {
        try seed()
        let t = token("alice", "web", id: 41)
        XCTAssertEqual(try outcomes(store().importTokens([t], dryRun: false)), [.created(id: 41, renumbered: false, replacedID: nil)])
        guard case .valid(let record) = try store().authenticate(digest: t.token.digest) else { return XCTFail("not valid") }
        // Django kept no last use: the import's time stands for it (`w`), so that an
        // idle timeout counts from the import.
        XCTAssertEqual(
            record,
            TokenRecord(
                digest: t.token.digest, user: "alice", client: "web", created: t.created, expiry: t.expiry, id: 41,
                lastUsed: record.lastUsed))
        XCTAssertNotNil(record.lastUsed)
        // Layout 3: `t:<digest>` with one-letter fields, sealed as login seals (the AEAD,
        // hex packed: 64 characters, no kind letter), living for its expiry plus the
        // grace period; the index is a field of the user hash; no tombstone, no layout-1 key.
        let key = "durin:t:\(t.token.digest)"
        XCTAssertEqual(t.token.digest.count, 20)
        let fields = try redisCall("HGETALL", key).fieldMap
        XCTAssertEqual(Set(fields.keys), ["u", "c", "t", "e", "i", "s", "w"])
        XCTAssertEqual(
            [fields["u"], fields["c"], fields["t"], fields["e"], fields["i"]],
            ["alice", "web", String(t.created), String(t.expiry), "41"])
        XCTAssertEqual(fields["s"]?.count, 64)
        XCTAssertFalse(TokenSeal.isLegacy(fields["s"] ?? ""))
        XCTAssertEqual(try store().unseal(fields["s"] ?? "", digest: t.token.digest), t.token)
        let pexpireat = try redisCall("PEXPIRETIME", key).int ?? 0
        XCTAssertEqual(pexpireat, t.expiry + config.expiredGraceSeconds * 1000, "native expiry: durin's plus the grace period")
        XCTAssertEqual(try redisCall("HGET", "durin:user:alice", "t:web").string, t.token.digest)
        XCTAssertEqual(try redisCall("GET", "durin:imported:\(t.token.digest)").string, "41")
        XCTAssertEqual(try redisCall("KEYS", "durin:token:*").array?.count, 0)
        XCTAssertEqual(try redisCall("EXISTS", "durin:user:alice:tokens", "durin:expired:\(t.token.digest)").int, 0)
        XCTAssertEqual(
            try admin().user(named: "alice")?.profile, ["email": "alice@example.com", "created": "1000"],
            "neither the index nor import_digest is profile")
        // Login finds the pair's token and hands back the very same one (it is sealed).
        guard case .success(let issued) = try store().login(user: "alice", client: "web", mode: .keep) else { return XCTFail() }
        XCTAssertEqual(issued.token, t.token)
        XCTAssertEqual(issued.outcome, .existing)
        // New tokens get ids above every imported one.
        XCTAssertEqual(try redisCall("GET", "durin:seq:token").string, "41")
        guard case .success(let fresh) = try store().login(user: "alice", client: "mobile", mode: .keep) else { return XCTFail() }
        XCTAssertEqual(fresh.record.id, 42)
        XCTAssertEqual(try store().sessions(user: "alice").map(\.record.id), [41, 42])
        let events = try admin().recentEvents(count: 10).map { $0["type"] ?? "" }
        XCTAssertTrue(events.contains("token_imported"), "\(events)")
    }

    func testASecondImportChangesNothingAndADryRunWritesNothing() throws {
        let tokens = [token("alice", "web", id: 1), token("bob", "mobile", id: 2)]
        // Dry run on an empty store: what an import would do, and nothing written.
        XCTAssertEqual(try outcomes(admin().importClients([web, mobile], dryRun: true)), [.created, .created])
        XCTAssertEqual(try outcomes(admin().importUsers([user("alice"), user("bob")], dryRun: true)), [.created, .created])
        var pending = tokens
        for i in pending.indices {
            pending[i].userPending = true
            pending[i].clientPending = true
        }
        XCTAssertEqual(
            try outcomes(store().importTokens(pending, dryRun: true)),
            [.created(id: 1, renumbered: false, replacedID: nil), .created(id: 2, renumbered: false, replacedID: nil)])
        XCTAssertEqual(try redisCall("DBSIZE").int, 0, "a dry run writes nothing")

        try seed()
        XCTAssertEqual(try outcomes(store().importTokens(tokens, idFloor: 1002, dryRun: false)).count, 2)
        XCTAssertEqual(try redisCall("GET", "durin:seq:token").string, "1002", "the floor asked for")
        let keys = try redisCall("DBSIZE").int
        let events = try redisCall("XLEN", "durin:events").int
        XCTAssertEqual(try outcomes(admin().importClients([web, mobile], dryRun: false)), [.unchanged, .unchanged])
        XCTAssertEqual(try outcomes(admin().importUsers([user("alice"), user("bob")], dryRun: false)), [.unchanged, .unchanged])
        XCTAssertEqual(try outcomes(store().importTokens(tokens, dryRun: false)), [.unchanged(id: 1), .unchanged(id: 2)])
        XCTAssertEqual(try redisCall("DBSIZE").int, keys)
        XCTAssertEqual(try redisCall("XLEN", "durin:events").int, events, "nothing happened, so nothing is reported")
    }

    func testChangesMadeHereSurviveAndChangesMadeInDjangoArrive() throws {
        try seed()
        let t = token("alice", "web", id: 5)
        _ = try store().importTokens([t], dryRun: false)
        // Here: login upgraded alice's hash, an operator changed web's TTL.
        try admin().setPasswordHash("alice", hash: "pbkdf2_sha256$2000$x$upgraded=")
        try admin().updateClient("web", ttl: .seconds(60), throttle: nil)
        XCTAssertEqual(try outcomes(admin().importUsers([user("alice")], dryRun: false)), [.unchanged])
        XCTAssertEqual(try outcomes(admin().importClients([web], dryRun: false)), [.unchanged])
        XCTAssertEqual(try admin().passwordHash(of: "alice"), "pbkdf2_sha256$2000$x$upgraded=")
        XCTAssertEqual(try admin().client(named: "web")?.tokenTTL, .seconds(60))
        // In Django: alice was deactivated and the token refreshed.
        XCTAssertEqual(try outcomes(admin().importUsers([user("alice", active: false)], dryRun: true)), [.updated])
        XCTAssertEqual(try admin().user(named: "alice")?.isActive, true, "not in a dry run")
        XCTAssertEqual(try outcomes(admin().importUsers([user("alice", active: false)], dryRun: false)), [.updated])
        XCTAssertEqual(try admin().passwordHash(of: "alice"), hash)
        XCTAssertEqual(try store().authenticate(digest: t.token.digest), .userInactive, "her tokens are marked")
        XCTAssertEqual(try redisCall("HGET", "durin:t:\(t.token.digest)", "x").string, "1")
        var refreshed = t
        refreshed.expiry += 60_000
        XCTAssertEqual(try outcomes(store().importTokens([refreshed], dryRun: false)), [.updated(id: 5)])
        var older = t
        older.expiry -= 60_000
        XCTAssertEqual(try outcomes(store().importTokens([older], dryRun: false)), [.unchanged(id: 5)], "the later expiry wins")
        XCTAssertEqual(try outcomes(admin().importUsers([user("alice")], dryRun: false)), [.updated])
        XCTAssertNil(try redisCall("HGET", "durin:t:\(t.token.digest)", "x").string, "reactivated: unmarked")
        guard case .valid(let record) = try store().authenticate(digest: t.token.digest) else { return XCTFail() }
        XCTAssertEqual(record.expiry, refreshed.expiry)
        XCTAssertEqual(try redisCall("PEXPIRETIME", "durin:t:\(t.token.digest)").int, refreshed.expiry + config.expiredGraceSeconds * 1000)
        // durinctl user deactivate marks the imported token the same way (the shared helper).
        try admin().setActive("alice", false)
        XCTAssertEqual(try redisCall("HGET", "durin:t:\(t.token.digest)", "x").string, "1")
        try admin().setActive("alice", true)
        XCTAssertNil(try redisCall("HGET", "durin:t:\(t.token.digest)", "x").string)
    }

    func testATokenGoneHereIsNeverBroughtBack() throws {
        try seed()
        let t = token("alice", "web", id: 3)
        _ = try store().importTokens([t], dryRun: false)
        XCTAssertNotNil(try store().revoke(digest: t.token.digest, reason: "logout"))
        XCTAssertEqual(try outcomes(store().importTokens([t], dryRun: false)), [.goneHere])
        XCTAssertEqual(try store().authenticate(digest: t.token.digest), .invalid)
        XCTAssertEqual(try outcomes(store().importTokens([token("bob", "web", id: 4, expiresIn: -1)], dryRun: false)), [.expired])
        XCTAssertEqual(try store().sessions(user: "bob").count, 0)
    }

    /// Layout 2 keeps an expired token's hash for the grace period (to answer "The given
    /// token has expired." once); to an import, as to every reader, it is gone.
    func testATokenExpiredHereIsGoneThoughItsHashStays() throws {
        try seed()
        var t = token("bob", "web", id: 8, expiresIn: 300)
        _ = try store().importTokens([t], dryRun: false)
        let deadline = Date().addingTimeInterval(5)
        while try store().trackedLookup(digest: t.token.digest) != nil, Date() < deadline { usleep(20_000) }
        XCTAssertEqual(try redisCall("EXISTS", "durin:t:\(t.token.digest)").int, 1, "kept for the grace period")
        t.expiry = WallClock.nowMillis() + 3_600_000  // refreshed in Django meanwhile
        XCTAssertEqual(try outcomes(store().importTokens([t], dryRun: true)), [.goneHere])
        XCTAssertEqual(try outcomes(store().importTokens([t], dryRun: false)), [.goneHere])
        XCTAssertEqual(try store().authenticate(digest: t.token.digest), .expired, "still reported once")
        // The pair's expired token does not hold its slot: a newer one from Django is stored.
        let newer = token("bob", "web", id: 9)
        XCTAssertEqual(try outcomes(store().importTokens([newer], dryRun: false)), [.created(id: 9, renumbered: false, replacedID: nil)])
        XCTAssertEqual(try redisCall("HGET", "durin:user:bob", "t:web").string, newer.token.digest)
    }

    /// What an imported token costs in Redis memory, as TokenMemoryTests measures a
    /// login's (2,000 users, one token each, after 200 unmeasured; under 400 bytes):
    /// the same token hash and index field, and its `imported:<digest>` marker (about
    /// 70 bytes more).
    func testAnImportedTokenCostsLittleMoreThanALoginsToken() throws {
        config.eventsMaxLength = 0
        try seed()
        let users = (0..<2000).map { user("user\($0)") }
        _ = try admin().importUsers(users, dryRun: false)
        func usedMemory() throws -> Int {
            let info = try redisCall("INFO", "memory").string ?? ""
            let line = try XCTUnwrap(info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("used_memory:") })
            return try XCTUnwrap(Int(line.dropFirst("used_memory:".count)))
        }
        _ = try store().importTokens((0..<200).map { token("user\($0)", "mobile", id: Int64(3000 + $0)) }, dryRun: false)
        let before = try usedMemory()
        let tokens = (0..<2000).map { token("user\($0)", "web", id: Int64($0 + 1)) }
        XCTAssertEqual(try outcomes(store().importTokens(tokens, dryRun: false)).count, 2000)
        let perToken = Double(try usedMemory() - before) / 2000
        print("redis memory per imported token: \(Int(perToken)) bytes")
        XCTAssertLessThanOrEqual(perToken, 500)
    }

    func testThePairsSlot() throws {
        try seed()
        // A token issued here is kept; the imported one is skipped.
        guard case .success(let here) = try store().login(user: "bob", client: "web", mode: .keep) else { return XCTFail() }
        let late = token("bob", "web", id: 90)
        XCTAssertEqual(try outcomes(store().importTokens([late], dryRun: false)), [.superseded(byID: here.record.id)])
        XCTAssertEqual(try store().authenticate(digest: late.token.digest), .invalid)
        // A token from an earlier import is replaced: Django replaced it since.
        let first = token("alice", "web", id: 10)
        let second = token("alice", "web", id: 11)
        _ = try store().importTokens([first], dryRun: false)
        XCTAssertEqual(try outcomes(store().importTokens([second], dryRun: false)), [.created(id: 11, renumbered: false, replacedID: 10)])
        XCTAssertEqual(try store().authenticate(digest: first.token.digest), .invalid)
        XCTAssertEqual(try store().sessions(user: "alice").map(\.record.id), [11])
        // An id another of the user's tokens holds here: a fresh one.
        guard case .success(let mine) = try store().login(user: "alice", client: "mobile", mode: .keep) else { return XCTFail() }
        var clash = token("alice", "tv", id: mine.record.id)
        try admin().addClient(ClientRecord(name: "tv", tokenTTL: .seconds(60), throttleRate: nil, created: 1))
        guard case .created(let id, true, nil) = try outcomes(store().importTokens([clash], dryRun: false))[0] else { return XCTFail() }
        XCTAssertNotEqual(id, mine.record.id)
        XCTAssertEqual(Set(try store().sessions(user: "alice").map(\.record.id)).count, 3)
        // Unknown owners, and a token that is someone else's here.
        clash.user = "zoe"
        XCTAssertEqual(try outcomes(store().importTokens([token("zoe", "web", id: 70)], dryRun: false)), [.noUser])
        XCTAssertEqual(try outcomes(store().importTokens([token("alice", "kiosk", id: 71)], dryRun: false)), [.noClient])
        var stolen = second
        stolen.user = "bob"
        XCTAssertEqual(try outcomes(store().importTokens([stolen], dryRun: false)), [.conflict(user: "alice", client: "web")])
    }
}
