import DurinCore
import DurinTestSupport
import Foundation
import RedisClient
import XCTest

@testable import DurinCache
@testable import DurinStore

/// The cached read: bypassed while tracking is down, a tracked fetch then hits, and
/// an invalidation from Redis removes the entry.
final class CachedTokenReaderTests: XCTestCase {
    var redis: RedisServer!

    override func setUpWithError() throws { redis = try RedisServer() }
    override func tearDown() { redis?.stop() }

    func testHitsAfterAFetchAndForgetsWhatRedisInvalidates() throws {
        let config = Configuration()
        let (store, issued) = try aliceLoggedIn(config)
        let digest = issued.token.digest

        let cache = VerificationCache(timeoutSeconds: 60, keys: KeySpace(prefix: config.keyPrefix))
        let reader = CachedTokenReader(store: store, cache: cache)
        XCTAssertEqual(reader.record(digest: digest), .bypassed, "no invalidation listener yet")

        // What the listener does: subscribe, then tell the cache where to redirect.
        let subscriber = redis.connection(readTimeout: false)
        let id = try XCTUnwrap(subscriber.send("CLIENT", "ID").int)
        let server = try XCTUnwrap(subscriber.send("CLIENT", "INFO").serverAddress)
        _ = try subscriber.send("SUBSCRIBE", "__redis__:invalidate")
        cache.trackingStarted(redirectID: id, server: server)

        XCTAssertEqual(reader.record(digest: digest), .fetched(issued.record))
        XCTAssertEqual(reader.record(digest: digest), .hit(issued.record))
        XCTAssertEqual(reader.record(digest: String(repeating: "A", count: 20)), .miss)

        _ = try TokenStore(connection: redis.connection(), configuration: config).revoke(digest: digest, reason: "logout")
        let message = try subscriber.readPush()
        let keys = message.array?.last?.array?.compactMap(\.string)
        XCTAssertEqual(keys, ["durin:t:\(digest)"])
        cache.invalidate(keys: keys)
        XCTAssertEqual(reader.record(digest: digest), .miss, "the revoked token is no longer served from memory")

        cache.trackingLost()
        XCTAssertEqual(reader.record(digest: digest), .bypassed)
    }

    /// A worker connected to another server than the subscriber (after a failover,
    /// before the subscriber follows) must not redirect its tracking there: the id
    /// would name another client, or none, and revocations would never arrive.
    func testAConnectionToAnotherServerIsNeverCached() throws {
        let config = Configuration()
        let (store, issued) = try aliceLoggedIn(config)

        let cache = VerificationCache(timeoutSeconds: 60, keys: KeySpace(prefix: config.keyPrefix))
        let reader = CachedTokenReader(store: store, cache: cache)
        let subscriber = redis.connection(readTimeout: false)
        let id = try XCTUnwrap(subscriber.send("CLIENT", "ID").int)
        _ = try subscriber.send("SUBSCRIBE", "__redis__:invalidate")
        cache.trackingStarted(redirectID: id, server: "10.9.9.9:6379")
        XCTAssertEqual(reader.record(digest: issued.token.digest), .miss)
        XCTAssertEqual(reader.record(digest: issued.token.digest), .miss, "and nothing was cached")
        XCTAssertEqual(cache.count, 0)
    }

    /// The cache is trusted only while its subscriber hears from Redis: a server that
    /// froze with its sockets open must not keep serving entries nobody can revoke.
    func testTheCacheLapsesWhenItsSubscriberHearsNothing() throws {
        let record = TokenRecord(digest: "d", user: "u", client: "c", created: 0, expiry: nil, id: 1)
        let cache = VerificationCache(timeoutSeconds: 60, keys: KeySpace(prefix: "durin:"), silenceMillis: 500)
        cache.trackingStarted(redirectID: 7, server: "s", now: 1_000)
        let ticket = try XCTUnwrap(cache.ticket(now: 1_400))
        cache.store(record, ticket: ticket, now: 1_400)
        XCTAssertEqual(cache.lookup("d", now: 1_450), record)
        XCTAssertNil(cache.ticket(now: 1_501), "silent past the bound")
        XCTAssertNil(cache.lookup("d", now: 1_501))
        cache.heard(now: 1_600)
        XCTAssertNotNil(cache.ticket(now: 1_700), "heard again")
    }

    /// The listener pings a quiet subscription and gives up on a server that froze
    /// (SIGSTOP: its socket stays open), emptying the cache.
    func testTheListenerNoticesAFrozenServer() throws {
        let config = Configuration()
        // A silence bound well above any scheduling delay of a busy machine: the
        // healthy half of the test must not depend on the listener thread running
        // within a few hundred milliseconds.
        let cache = VerificationCache(timeoutSeconds: 60, keys: KeySpace(prefix: config.keyPrefix), silenceMillis: 1500)
        let lostCount = Locked(0)
        let listener = InvalidationListener(
            endpoint: redis.endpoint, cache: cache, restored: {}, lost: { _ in lostCount.update { $0 += 1 } })
        Thread { listener.run() }.start()
        XCTAssertTrue(waitFor { cache.ticket() != nil }, "subscribed")
        // Deliberately a wait for time to pass: twice the silence bound, so the cache
        // stays trusted only because the listener's pings were answered.
        Thread.sleep(forTimeInterval: 3.0)
        XCTAssertNotNil(cache.ticket(), "an idle but healthy server keeps the cache trusted (pings)")
        XCTAssertEqual(lostCount.value, 0)
        kill(redis.pid, SIGSTOP)
        defer { kill(redis.pid, SIGCONT) }
        XCTAssertTrue(waitFor(timeout: 10) { cache.ticket() == nil }, "the cache lapses while Redis is frozen")
        XCTAssertTrue(waitFor(timeout: 10) { lostCount.value > 0 }, "and the listener gives the connection up")
        kill(redis.pid, SIGCONT)
        XCTAssertTrue(waitFor(timeout: 10) { cache.ticket() != nil }, "and subscribes again when Redis answers")
    }

    /// alice, logged in for the client web: the store and her token.
    private func aliceLoggedIn(_ config: Configuration) throws -> (TokenStore, IssuedToken) {
        let admin = AdminStore(connection: redis.connection(), configuration: config)
        try admin.addClient(ClientRecord(name: "web", tokenTTL: .seconds(3600), throttleRate: nil, created: 0))
        try admin.addUser(UserRecord(username: "alice", passwordHash: "!", isActive: true))
        let store = TokenStore(connection: redis.connection(), configuration: config)
        guard case .success(let issued) = try store.login(user: "alice", client: "web", mode: .keep) else {
            throw NSError(domain: "CachedTokenReaderTests", code: 1, userInfo: [NSLocalizedDescriptionKey: "alice's login failed"])
        }
        return (store, issued)
    }

    private func waitFor(timeout: TimeInterval = 5, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return condition()
    }
}

/// A value shared with a listener thread.
private final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func update(_ change: (inout Value) -> Void) { lock.withLock { change(&stored) } }
}
