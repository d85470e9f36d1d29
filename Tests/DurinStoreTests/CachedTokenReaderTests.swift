import DurinCore
@testable import DurinStore
import Foundation
import RedisClient
import XCTest

/// The cached read: bypassed while tracking is down, a tracked fetch then hits, and
/// an invalidation from Redis removes the entry.
final class CachedTokenReaderTests: XCTestCase {
    var redis: RedisServer!

    override func setUpWithError() throws { redis = try RedisServer() }
    override func tearDown() { redis?.stop() }

    func testHitsAfterAFetchAndForgetsWhatRedisInvalidates() throws {
        let config = Configuration()
        let admin = AdminStore(connection: redis.connection(), configuration: config)
        try admin.addClient(ClientRecord(name: "web", tokenTTL: .seconds(3600), throttleRate: nil, created: 0))
        try admin.addUser(UserRecord(username: "alice", passwordHash: "!", isActive: true))
        let store = TokenStore(connection: redis.connection(), configuration: config)
        guard case .success(let issued) = try store.login(user: "alice", client: "web", mode: .keep) else { return XCTFail() }
        let digest = issued.token.digest

        let cache = VerificationCache(timeoutSeconds: 60, keys: KeySpace(prefix: config.keyPrefix))
        let reader = CachedTokenReader(store: store, cache: cache)
        XCTAssertEqual(reader.record(digest: digest), .bypassed, "no invalidation listener yet")

        // What the listener does: subscribe, then tell the cache where to redirect.
        let subscriber = redis.connection(readTimeout: false)
        let id = try XCTUnwrap(subscriber.send("CLIENT", "ID").int)
        _ = try subscriber.send("SUBSCRIBE", "__redis__:invalidate")
        cache.trackingStarted(redirectID: id)

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
}
