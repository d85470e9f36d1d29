import RedisClient
import XCTest

final class RedisEndpointTests: XCTestCase {
    func testRedisURLs() throws {
        XCTAssertEqual(
            try RedisEndpoint.parse("redis://127.0.0.1:6380/2"),
            RedisEndpoint(address: .tcp(host: "127.0.0.1", port: 6380), database: 2))
        XCTAssertEqual(
            try RedisEndpoint.parse("redis://u:p%40ss@db.local"),
            RedisEndpoint(address: .tcp(host: "db.local", port: 6379), username: "u", password: "p@ss"))
        XCTAssertEqual(
            try RedisEndpoint.parse("unix:///run/redis.sock?db=3"),
            RedisEndpoint(address: .unix(path: "/run/redis.sock"), database: 3))
        XCTAssertEqual(try RedisEndpoint.parse("redis://:secret@h:1").description, "redis://h:1/0", "logs never show the password")
        // User info without a colon is a user name (its password comes from elsewhere);
        // an empty password is none.
        XCTAssertEqual(
            try RedisEndpoint.parse("unix://mover@/run/old.sock"),
            RedisEndpoint(address: .unix(path: "/run/old.sock"), username: "mover"))
        XCTAssertEqual(try RedisEndpoint.parse("redis://durin:@h:1"), RedisEndpoint(address: .tcp(host: "h", port: 1), username: "durin"))
        for bad in ["http://x", "redis://h:0", "redis://h/x", "unix://relative"] {
            XCTAssertThrowsError(try RedisEndpoint.parse(bad), bad)
        }
    }

    func testSentinelURLs() throws {
        XCTAssertEqual(
            try RedisEndpoint.parse("redis-sentinel://:pw%2B@10.0.0.1:26379,[::1]:26380,s3/mymaster?db=2"),
            RedisEndpoint(
                address: .sentinel(
                    nodes: [
                        .init(host: "10.0.0.1", port: 26379), .init(host: "::1", port: 26380),
                        .init(host: "s3", port: 26379),
                    ], service: "mymaster"),
                password: "pw+", database: 2))
        XCTAssertEqual(
            try RedisEndpoint.parse("redis-sentinel://u:secret@a:1,b:2/m").description,
            "redis-sentinel://a:1,b:2/m?db=0", "logs never show the password")
        for bad in [
            "redis-sentinel://a:1", "redis-sentinel://a:1/", "redis-sentinel://a:1,/m", "redis-sentinel://a:0/m",
            "redis-sentinel://a:1/m/x", "redis://a:1/0?sentinel_password=x",
        ] {
            XCTAssertThrowsError(try RedisEndpoint.parse(bad), bad)
        }
        let guarded = try RedisEndpoint.parse("redis-sentinel://:pw@a:1/m?db=1&sentinel_password=s%40nt")
        XCTAssertEqual(guarded.sentinelPassword, "s@nt")
        XCTAssertEqual(guarded.password, "pw")
        XCTAssertEqual(guarded.description, "redis-sentinel://a:1/m?db=1", "logs never show either password")
    }

    func testClusterURLs() throws {
        XCTAssertEqual(
            try RedisEndpoint.parse("redis-cluster://u:p%40ss@10.0.0.1:7000,[::1]:7001,n3"),
            RedisEndpoint(
                address: .cluster(nodes: [
                    .init(host: "10.0.0.1", port: 7000), .init(host: "::1", port: 7001),
                    .init(host: "n3", port: 6379),
                ]),
                username: "u", password: "p@ss"))
        XCTAssertEqual(try RedisEndpoint.parse("redis-cluster://u:secret@a:1,b:2").description, "redis-cluster://a:1,b:2")
        for bad in ["redis-cluster://a:1/0", "redis-cluster://a:1?db=2", "redis-cluster://a:1,", "redis-cluster://a:0"] {
            XCTAssertThrowsError(try RedisEndpoint.parse(bad), bad)
        }
    }

    /// Redis's own values (CLUSTER KEYSLOT), and its hash-tag rules.
    func testHashSlots() {
        XCTAssertEqual(HashSlot.of("123456789"), 0x31C3 & 0x3FFF)
        XCTAssertEqual(HashSlot.of("foo"), 12182)
        XCTAssertEqual(HashSlot.of("{user1000}.following"), HashSlot.of("{user1000}.followers"))
        XCTAssertEqual(HashSlot.of("{user1000}.following"), HashSlot.of("user1000"))
        XCTAssertEqual(HashSlot.of("foo{}{bar}"), HashSlot.of("foo{}{bar}"), "an empty tag hashes the whole key")
        XCTAssertNotEqual(HashSlot.of("foo{}{bar}"), HashSlot.of("bar"))
        XCTAssertEqual(HashSlot.of("foo{{bar}}zap"), HashSlot.of("{bar"))
        XCTAssertEqual(HashSlot.of("foo{bar}{zap}"), HashSlot.of("bar"))
    }
}

/// hiredis takes hosts and socket paths as C strings, which end at the first NUL:
/// one with a NUL (from a sentinel's answer, a redirection, a settings file) is
/// refused before it reaches C, never cut short to another host or path.
final class RedisConnectNULTests: XCTestCase {
    func testAHostOrPathWithANULIsRefusedNotCut() {
        for address in [
            RedisEndpoint.Address.tcp(host: "127.0.0.1\u{0}.evil.example", port: 6379),
            .unix(path: "/run/redis/redis-server.sock\u{0}/elsewhere"),
        ] {
            let connection = RedisConnection(endpoint: RedisEndpoint(address: address), timeoutMilliseconds: 200)
            XCTAssertThrowsError(try connection.send(["PING"])) { error in
                XCTAssertEqual(error as? RedisError, .invalidURL("a Redis host or socket path holds a NUL byte"))
            }
        }
    }
}
