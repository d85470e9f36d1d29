import RedisClient
import XCTest

final class RedisEndpointTests: XCTestCase {
    func testRedisURLs() throws {
        XCTAssertEqual(try RedisEndpoint.parse("redis://127.0.0.1:6380/2"),
                       RedisEndpoint(address: .tcp(host: "127.0.0.1", port: 6380), database: 2))
        XCTAssertEqual(try RedisEndpoint.parse("redis://u:p%40ss@db.local"),
                       RedisEndpoint(address: .tcp(host: "db.local", port: 6379), username: "u", password: "p@ss"))
        XCTAssertEqual(try RedisEndpoint.parse("unix:///run/redis.sock?db=3"),
                       RedisEndpoint(address: .unix(path: "/run/redis.sock"), database: 3))
        XCTAssertEqual(try RedisEndpoint.parse("redis://:secret@h:1").description, "redis://h:1/0", "logs never show the password")
        for bad in ["http://x", "redis://h:0", "redis://h/x", "unix://relative"] {
            XCTAssertThrowsError(try RedisEndpoint.parse(bad), bad)
        }
    }

    func testSentinelURLs() throws {
        XCTAssertEqual(try RedisEndpoint.parse("redis-sentinel://:pw%2B@10.0.0.1:26379,[::1]:26380,s3/mymaster?db=2"),
                       RedisEndpoint(address: .sentinel(nodes: [.init(host: "10.0.0.1", port: 26379), .init(host: "::1", port: 26380),
                                                               .init(host: "s3", port: 26379)], service: "mymaster"),
                                     password: "pw+", database: 2))
        XCTAssertEqual(try RedisEndpoint.parse("redis-sentinel://u:secret@a:1,b:2/m").description,
                       "redis-sentinel://a:1,b:2/m?db=0", "logs never show the password")
        for bad in ["redis-sentinel://a:1", "redis-sentinel://a:1/", "redis-sentinel://a:1,/m", "redis-sentinel://a:0/m",
                    "redis-sentinel://a:1/m/x"] {
            XCTAssertThrowsError(try RedisEndpoint.parse(bad), bad)
        }
    }
}
