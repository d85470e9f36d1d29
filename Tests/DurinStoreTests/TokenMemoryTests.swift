import DurinCore
import DurinStore
import DurinTestSupport
import Foundation
import RedisClient
import XCTest

/// What a live token costs in Redis memory, every key it adds included (the token
/// hash and its entry in the user's index; the bounded event stream excluded):
/// 2,000 users with one token each, without and with session details (a browser's
/// user agent, an address and a label), in Redis's default settings.
/// bench/memory.sh prints the same figures.
///
/// The first tokens also pay for one-time allocations (the scripts' first runs, the
/// expiry table): 200 tokens of another client go first, unmeasured, so that the
/// figure is what each further token costs.
final class TokenMemoryTests: XCTestCase {
    func testALiveTokenCostsAtMost400Bytes() throws {
        try tokenCost(details: { _ in SessionDetails() })
    }

    /// A browser's details (the token hash grows from jemalloc's 128-byte class to its
    /// 224-byte one: docs/capacity.md) cost about 100 bytes more; an app's short
    /// agent and no label, less.
    func testALiveTokenWithABrowsersSessionDetailsCostsAtMost450Bytes() throws {
        let agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
        try tokenCost(
            bound: 450,
            details: { i in
                SessionDetails(address: "203.0.113.\(i % 250)", userAgent: agent, label: "Work laptop \(i % 10)")
            })
    }

    func testALiveTokenWithAnAppsSessionDetailsCostsAtMost400Bytes() throws {
        try tokenCost(details: { i in SessionDetails(address: "203.0.113.\(i % 250)", userAgent: "okhttp/4.12.0") })
    }

    func tokenCost(bound: Double = 400, details: (Int) -> SessionDetails, file: StaticString = #filePath, line: UInt = #line) throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        var config = Configuration()
        config.eventsMaxLength = 0
        config.secretKey = Array("a-test-secret-of-enough-length-0123456789".utf8)
        let connection = redis.connection()
        let admin = AdminStore(connection: connection, configuration: config)
        try admin.addClient(ClientRecord(name: "web", tokenTTL: .seconds(86400), throttleRate: nil, created: 0))
        try admin.addClient(ClientRecord(name: "warm", tokenTTL: .seconds(86400), throttleRate: nil, created: 0))
        let hash = "pbkdf2_sha256$1000000$abcdefghijklmnopqrstuv$3d/tCZEz3TP05tjI6EZVrkYssRFIC4Y2xlciP/VNuP0="
        for i in 0..<2000 {
            try admin.addUser(
                UserRecord(
                    username: "user\(i)", passwordHash: hash, isActive: true,
                    profile: ["email": "user\(i)@example.com"]))
        }
        func usedMemory() throws -> Int {
            let info = try connection.send(["INFO", "memory"]).string ?? ""
            let line = try XCTUnwrap(info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("used_memory:") })
            return try XCTUnwrap(Int(line.dropFirst("used_memory:".count)))
        }
        let store = TokenStore(connection: connection, configuration: config)
        for i in 0..<200 {
            guard case .success = try store.login(user: "user\(i)", client: "warm", mode: .keep, details: details(i)) else {
                return XCTFail("login", file: file, line: line)
            }
        }
        let before = try usedMemory()
        for i in 0..<2000 {
            guard case .success = try store.login(user: "user\(i)", client: "web", mode: .keep, details: details(i)) else {
                return XCTFail("login", file: file, line: line)
            }
        }
        let perToken = Double(try usedMemory() - before) / 2000
        print("redis memory per live token (\(details(0).isEmpty ? "no details" : "with details")): \(Int(perToken)) bytes")
        XCTAssertLessThanOrEqual(perToken, bound, file: file, line: line)
    }
}
