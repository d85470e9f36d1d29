import DurinCore
import DurinStore
import Foundation
import RedisClient
import DurinTestSupport
import XCTest

/// What a live token costs in Redis memory, every key it adds included (the token
/// hash and its entry in the user's index; the bounded event stream excluded):
/// 2,000 users with one token each. bench/memory.sh prints the same figure.
final class TokenMemoryTests: XCTestCase {
    func testALiveTokenCostsAtMost400Bytes() throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        var config = Configuration()
        config.eventsMaxLength = 0
        config.secretKey = Array("a-test-secret-of-enough-length-0123456789".utf8)
        let connection = redis.connection()
        let admin = AdminStore(connection: connection, configuration: config)
        try admin.addClient(ClientRecord(name: "web", tokenTTL: .seconds(86400), throttleRate: nil, created: 0))
        let hash = "pbkdf2_sha256$1000000$abcdefghijklmnopqrstuv$3d/tCZEz3TP05tjI6EZVrkYssRFIC4Y2xlciP/VNuP0="
        for i in 0..<2000 {
            try admin.addUser(UserRecord(username: "user\(i)", passwordHash: hash, isActive: true,
                                         profile: ["email": "user\(i)@example.com"]))
        }
        func usedMemory() throws -> Int {
            let info = try connection.send(["INFO", "memory"]).string ?? ""
            let line = try XCTUnwrap(info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("used_memory:") })
            return try XCTUnwrap(Int(line.dropFirst("used_memory:".count)))
        }
        let before = try usedMemory()
        let store = TokenStore(connection: connection, configuration: config)
        for i in 0..<2000 {
            guard case .success = try store.login(user: "user\(i)", client: "web", mode: .keep) else { return XCTFail("login") }
        }
        let perToken = Double(try usedMemory() - before) / 2000
        print("redis memory per live token: \(Int(perToken)) bytes")
        XCTAssertLessThanOrEqual(perToken, 400)
    }
}
