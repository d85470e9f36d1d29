import DurinCore
import DurinStore
import DurinTestSupport
import Foundation
import RedisClient
import XCTest

/// Every store operation and script against a real redis-server, without nginx or
/// the responder: atomicity under concurrent callers, native expiry, the
/// once-only "expired" answer, revocations, limits, issuers, and the invalidations
/// that client tracking sends.
final class TokenStoreTests: XCTestCase {
    var redis: RedisServer!
    var config = Configuration()

    override func setUpWithError() throws {
        redis = try RedisServer()
        config.passwordIterations = 1000
    }

    override func tearDown() {
        redis?.stop()
    }

    func store() -> TokenStore { TokenStore(connection: redis.connection(), configuration: config) }
    func admin() -> AdminStore { AdminStore(connection: redis.connection(), configuration: config) }

    func seed(client: String = "web", ttl: TokenTTL = .seconds(3600), user: String = "alice") throws {
        let admin = admin()
        try? admin.addClient(ClientRecord(name: client, tokenTTL: ttl, throttleRate: nil, created: 0))
        try? admin.addUser(UserRecord(username: user, passwordHash: "!", isActive: true))
    }

    func issued(_ result: Result<IssuedToken, LoginFailure>, file: StaticString = #filePath, line: UInt = #line) throws -> IssuedToken {
        switch result {
        case .success(let t): return t
        case .failure(let f):
            XCTFail("login failed: \(f)", file: file, line: line)
            throw f
        }
    }

    func testConcurrentFirstLoginsYieldExactlyOneTokenSeenByAll() throws {
        try seed()
        let tokens = ConcurrentBox<[String]>([])
        let group = DispatchGroup()
        for _ in 0..<50 {
            group.enter()
            let (redis, config) = (self.redis!, self.config)
            Thread {
                let store = TokenStore(connection: redis.connection(), configuration: config)
                if case .success(let t)? = try? store.login(user: "alice", client: "web", mode: .keep) {
                    tokens.update { $0.append(t.token.value) }
                }
                group.leave()
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        let seen = tokens.value
        XCTAssertEqual(seen.count, 50, "every caller got an answer")
        XCTAssertEqual(Set(seen).count, 1, "all fifty got the same token")
        let keys = try redis.connection().send("KEYS", "durin:t:*").array ?? []
        XCTAssertEqual(keys.count, 1)
        let index = (try redis.connection().send("HKEYS", "durin:user:alice").array ?? []).compactMap(\.string).filter {
            $0.hasPrefix("t:")
        }
        XCTAssertEqual(index, ["t:web"])
    }

    func testTokensExpireNativelyAndAnswerExpiredOnce() throws {
        config.expiredGraceSeconds = 60
        try seed(client: "short", ttl: .seconds(1))
        let store = store()
        let token = try issued(store.login(user: "alice", client: "short", mode: .keep))
        guard case .valid(let record) = try store.authenticate(digest: token.token.digest) else { return XCTFail("not valid") }
        XCTAssertEqual(record.user, "alice")
        let pttl = try redis.connection().send("PTTL", "durin:t:\(token.token.digest)").int ?? -2
        XCTAssertTrue((60_000...61_000).contains(pttl), "native expiry: the expiry plus the grace period: \(pttl)")
        // Polls (a read never renews) until the token has expired; generous for a busy machine.
        let deadline = Date().addingTimeInterval(30)
        var answer = try store.authenticate(digest: token.token.digest)
        while case .valid = answer, Date() < deadline {
            usleep(20_000)
            answer = try store.authenticate(digest: token.token.digest)
        }
        XCTAssertEqual(answer, .expired)
        XCTAssertEqual(try store.authenticate(digest: token.token.digest), .invalid, "expired is said once")
    }

    func testRevocationsRemoveTokensAndEmitEvents() throws {
        try seed()
        try seed(client: "cli")
        let store = store()
        let web = try issued(store.login(user: "alice", client: "web", mode: .keep, event: "login"))
        let cli = try issued(store.login(user: "alice", client: "cli", mode: .keep))
        XCTAssertEqual(try store.sessions(user: "alice").map(\.record.client), ["web", "cli"])
        XCTAssertEqual(try store.revoke(digest: web.token.digest, reason: "logout")?.client, "web")
        XCTAssertNil(try store.revoke(digest: web.token.digest, reason: "logout"), "already gone")
        XCTAssertEqual(try store.revokeAll(user: "alice", reason: "logoutall").map(\.client), ["cli"])
        XCTAssertEqual(try store.authenticate(digest: cli.token.digest), .invalid)
        XCTAssertEqual(try store.sessions(user: "alice").count, 0)

        let events = try admin().recentEvents(count: 10)
        let kinds = events.map { $0["type"] ?? "" }
        XCTAssertEqual(kinds, ["token_created", "login", "token_created", "token_revoked", "token_revoked"])
        let reasons = events.compactMap { $0["reason"] }
        XCTAssertEqual(reasons, ["logout", "logoutall"])
    }

    func testRefreshKeepsTheTokenAndMovesItsExpiry() throws {
        try seed(ttl: .seconds(100))
        let store = store()
        let t = try issued(store.login(user: "alice", client: "web", mode: .keep))
        _ = try redis.connection().send("HSET", "durin:t:\(t.token.digest)", "e", String(WallClock.nowMillis() + 5000))
        let renewed = try XCTUnwrap(store.refresh(digest: t.token.digest)?.record)
        XCTAssertEqual(renewed.digest, t.token.digest)
        XCTAssertGreaterThan(try XCTUnwrap(renewed.expiry) - WallClock.nowMillis(), 90_000)
        let pttl = try redis.connection().send("PTTL", "durin:t:\(t.token.digest)").int ?? 0
        XCTAssertGreaterThan(pttl, 90_000)
        let again = try issued(store.login(user: "alice", client: "web", mode: .keep))
        XCTAssertEqual(again.token, t.token, "re-login returns the same token (unsealed from Redis)")
    }

    func testThrottleCountsOnlyAcceptedRequests() throws {
        try seed()
        let store = store()
        let t = try issued(store.login(user: "alice", client: "web", mode: .keep))
        let rules = AccessRules(throttle: true, defaultRate: ThrottleRate.parse("3/m"))
        for _ in 0..<3 {
            guard case .valid = try store.authenticate(digest: t.token.digest, rules: rules) else { return XCTFail("throttled early") }
        }
        guard case .throttled(let wait, _, _) = try store.authenticate(digest: t.token.digest, rules: rules) else { return XCTFail() }
        XCTAssertTrue((1...60).contains(wait))
        XCTAssertEqual(try redis.connection().send("ZCARD", "durin:throttle:alice:web").int, 3, "refusals are not counted")
        XCTAssertEqual(
            try store.authenticate(digest: t.token.digest, rules: AccessRules(denyClients: ["web"])), .denied(user: "alice", client: "web"))
    }

    func testLoginAttemptsAreCountedBeforeHashingUnderConcurrency() throws {
        try seed()
        let proceeded = ConcurrentBox(0)
        let group = DispatchGroup()
        for _ in 0..<20 {
            group.enter()
            let (redis, config) = (self.redis!, self.config)
            Thread {
                let store = TokenStore(connection: redis.connection(), configuration: config)
                if case .proceed? = try? store.loginPrecheck(
                    username: "alice", addressGroup: "v4:192.0.2.9",
                    pairRate: ThrottleRate.parse("5/m"), userRate: nil)
                {
                    proceeded.update { $0 += 1 }
                }
                group.leave()
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(proceeded.value, 5)
        let store = store()
        XCTAssertEqual(try store.loginAddressCheck(addressGroup: "v4:192.0.2.1", rate: ThrottleRate.parse("2/m")!), nil)
        XCTAssertEqual(try store.loginAddressCheck(addressGroup: "v4:192.0.2.1", rate: ThrottleRate.parse("2/m")!), nil)
        XCTAssertNotNil(try store.loginAddressCheck(addressGroup: "v4:192.0.2.1", rate: ThrottleRate.parse("2/m")!))
        XCTAssertNil(try store.loginAddressCheck(addressGroup: "v4:192.0.2.2", rate: ThrottleRate.parse("2/m")!), "per address")
    }

    func testIssuersAreStoredByDigestAndRemovable() throws {
        let admin = admin()
        let key = try admin.addIssuer("portal", clients: ["web"])
        XCTAssertThrowsError(try admin.addIssuer("portal", clients: []))
        let found = try XCTUnwrap(store().issuer(key: key.value))
        XCTAssertEqual(found.name, "portal")
        XCTAssertTrue(found.mayIssue(for: "web"))
        XCTAssertFalse(found.mayIssue(for: "cli"))
        let raw = try redis.connection().send("KEYS", "*").array?.compactMap(\.string) ?? []
        XCTAssertFalse(raw.contains { $0.contains(key.value) }, "only the digest is stored")
        try admin.removeIssuer("portal")
        XCTAssertNil(try store().issuer(key: key.value))
    }

    /// Client tracking: a tracked read, then any change to the key, reaches the
    /// subscriber that the reading connection redirects to.
    func testTrackedReadsAreInvalidatedWhenTheTokenChanges() throws {
        try seed()
        let store = store()
        let t = try issued(store.login(user: "alice", client: "web", mode: .keep))
        nonisolated(unsafe) let subscriber = redis.connection(readTimeout: false)
        let id = try XCTUnwrap(subscriber.send("CLIENT", "ID").int)
        XCTAssertEqual(try subscriber.send("SUBSCRIBE", "__redis__:invalidate").array?.first?.string, "subscribe")
        try store.enableTracking(redirect: id)
        XCTAssertEqual(try store.trackedLookup(digest: t.token.digest)?.user, "alice")
        let received = ConcurrentBox<[String]>([])
        let done = DispatchSemaphore(value: 0)
        Thread {
            if let message = try? subscriber.readPush(), let keys = message.array?.last?.array {
                received.update { $0 = keys.compactMap(\.string) }
            }
            done.signal()
        }.start()
        _ = try self.store().revoke(digest: t.token.digest, reason: "logout")
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success, "no invalidation arrived")
        XCTAssertTrue(received.value.contains("durin:t:\(t.token.digest)"), "\(received.value)")
    }

    func testTheRightsCheckPassesForAFullUser() throws {
        XCTAssertNoThrow(try RedisRights.check(redis.connection(), keys: KeySpace(prefix: "durin:"), tracking: true))
        XCTAssertEqual(try redis.connection().send("KEYS", "durin:rights-check:*").array?.count, 0, "it cleans up")
    }
}

/// A value shared between test threads.
final class ConcurrentBox<T>: @unchecked Sendable {
    private var stored: T
    private let lock = NSLock()
    init(_ value: T) { stored = value }
    var value: T {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }
    func update(_ body: (inout T) -> Void) {
        lock.lock()
        body(&stored)
        lock.unlock()
    }
}
