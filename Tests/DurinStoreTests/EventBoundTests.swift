import DurinCore
import DurinTestSupport
import RedisClient
import XCTest

@testable import DurinStore

/// The event streams' memory is bounded, whatever clients make durin record: each
/// event's fields are bounded (names are checked before anything is stored), and a
/// stream keeps about DURIN_EVENTS_MAXLEN of them on one server, a 4,096th of that
/// (at least 100) in each of a cluster's 4,096 streams. docs/capacity.md gives the bound.
final class EventBoundTests: XCTestCase {
    var redis: RedisServer!

    override func setUpWithError() throws { redis = try RedisServer() }
    override func tearDown() { redis?.stop() }

    func testEachStreamIsTrimmedToItsShareOfTheTotal() {
        let one = ScriptContext(keys: KeySpace(prefix: "durin:"), eventsMaxLength: 100_000)
        XCTAssertEqual(one.streamMaxLength, 100_000)
        let cluster = ScriptContext(keys: KeySpace(prefix: "durin:", cluster: true), eventsMaxLength: 100_000)
        XCTAssertEqual(cluster.streamMaxLength, 100, "a 4,096th, but at least a stream node")
        XCTAssertEqual(ScriptContext(keys: KeySpace(prefix: "durin:", cluster: true), eventsMaxLength: 4_096_000).streamMaxLength, 1000)
        XCTAssertEqual(
            ScriptContext(keys: KeySpace(prefix: "durin:", cluster: true), eventsMaxLength: 0).streamMaxLength, 0, "off stays off")
    }

    /// 5,000 failed logins for the longest names a login may name (150 four-byte
    /// code points) with DURIN_EVENTS_MAXLEN 1,000: the stream holds at most 1,000
    /// plus one node, and its memory stays within that many of the largest events.
    func testAStreamOfTheLargestEventsStaysWithinItsBound() throws {
        var config = Configuration()
        config.eventsMaxLength = 1000
        let store = TokenStore(connection: redis.connection(), configuration: config)
        let longest = String(repeating: "\u{1D49C}", count: Names.usernameMaxScalars)  // 𝒜, a letter of 4 bytes
        XCTAssertTrue(Names.isValidUsername(longest))
        XCTAssertFalse(Names.isValidUsername(longest + "a"), "one more code point is refused before anything is stored")
        for i in 0..<5000 {
            try store.loginFailed(
                username: String(longest.dropLast(3)) + String(i % 1000).padding(toLength: 3, withPad: "0", startingAt: 0))
        }
        let length = try XCTUnwrap(redis.connection().send("XLEN", "durin:events").int)
        XCTAssertLessThanOrEqual(length, 1000 + Int64(ScriptContext.streamNodeEntries))
        XCTAssertGreaterThanOrEqual(length, 1000)
        let bytes = try XCTUnwrap(redis.connection().send("MEMORY", "USAGE", "durin:events", "SAMPLES", "0").int)
        // The bound docs/capacity.md gives: an event's fields (type, a name of at most
        // 600 bytes, a client of 64, a session id, a time, a reason) and the stream's
        // per-entry overhead, at most 800 bytes an event.
        print("\(length) events of the largest kind: \(bytes) bytes, \(bytes / length) per event")
        XCTAssertLessThanOrEqual(bytes, (1000 + Int64(ScriptContext.streamNodeEntries)) * 800)
    }
}
