import RedisClient
import XCTest

/// Redis Cluster's routing rules as a pure state machine, without a server:
/// redirections (IPv6 included), slot maps, the retry and ASK rules for commands and
/// scripts, failures, and how errors are classified. The live-cluster tests
/// (ClusterTests) prove the same through real nodes.
final class ClusterRouteTests: XCTestCase {
    func bytes(_ args: String...) -> [[UInt8]] { args.map { Array($0.utf8) } }

    func testRedirectionsParseIPv4AndIPv6() {
        XCTAssertEqual(Redirection("MOVED 3999 127.0.0.1:6381"), .moved(slot: 3999, address: "127.0.0.1:6381"))
        XCTAssertEqual(Redirection("ASK 3999 10.0.0.2:7000"), .ask(address: "10.0.0.2:7000"))
        // Redis writes IPv6 nodes without brackets; the address is kept bracketed.
        XCTAssertEqual(Redirection("MOVED 1 ::1:7001"), .moved(slot: 1, address: "[::1]:7001"))
        XCTAssertEqual(Redirection("ASK 2 2001:db8::5:7002"), .ask(address: "[2001:db8::5]:7002"))
        XCTAssertEqual(Redirection("MOVED 1 [fe80::1]:7003"), .moved(slot: 1, address: "[fe80::1]:7003"))
        XCTAssertEqual(Redirection("TRYAGAIN Multiple keys request during rehashing of slot"), .retryLater)
        XCTAssertEqual(Redirection("CLUSTERDOWN The cluster is down"), .retryLater)
        XCTAssertEqual(Redirection("ERR Script attempted to access a non local key in a cluster node script"), .retryLater)
        for bad in [
            "MOVED", "MOVED x 1.2.3.4:5", "MOVED 16384 1.2.3.4:5", "MOVED 1 host", "MOVED 1 :6379", "ASK 1 h:0",
            "ERR unknown command", "WRONGTYPE Operation against a key",
        ] {
            XCTAssertNil(Redirection(bad), bad)
        }
    }

    func testMovedGoesThereAndTeachesTheMap() {
        var route = ClusterRoute(bytes("HGET", "k", "f"), owner: "a:1")
        XCTAssertEqual(
            route.received(.error("MOVED \(route.slot!) b:2")),
            .resend(learned: .init(slot: route.slot!, node: "b:2")))
        XCTAssertEqual(route.target, "b:2")
        XCTAssertFalse(route.asking)
        XCTAssertEqual(route.received(.bulk(Array("v".utf8))), .deliver)
        XCTAssertEqual(route.attempt, 2)
    }

    func testAskSendsOneCommandAfterAskingButAScriptWaits() {
        var command = ClusterRoute(bytes("HGET", "k", "f"), owner: "a:1")
        XCTAssertEqual(command.received(.error("ASK 5 b:2")), .resend(learned: nil))
        XCTAssertEqual(command.target, "b:2")
        XCTAssertTrue(command.asking)
        // The next redirection ends the asking.
        XCTAssertEqual(command.received(.error("MOVED 5 c:3")), .resend(learned: .init(slot: 5, node: "c:3")))
        XCTAssertFalse(command.asking)

        var script = ClusterRoute(bytes("EVALSHA", "abc", "1", "k", "x"), owner: "a:1")
        XCTAssertTrue(script.isScript)
        XCTAssertEqual(script.received(.error("ASK 5 b:2")), .retryLater(refreshMap: false))
        XCTAssertEqual(script.target, "a:1", "a script never goes to the importing node")
        XCTAssertFalse(script.asking)
        XCTAssertTrue(script.reroute(to: "b:2"), "after the pause, to the slot's owner")
        XCTAssertEqual(script.target, "b:2")
    }

    func testRetriesWaitAndClusterDownRereadsTheMap() {
        var route = ClusterRoute(bytes("GET", "k"), owner: "a:1")
        XCTAssertEqual(route.received(.error("TRYAGAIN Multiple keys request during rehashing")), .retryLater(refreshMap: false))
        XCTAssertEqual(route.received(.error("CLUSTERDOWN Hash slot not served")), .retryLater(refreshMap: true))
        XCTAssertEqual(ClusterRoute.pause(attempt: 1), .milliseconds(20))
        XCTAssertEqual(ClusterRoute.pause(attempt: 50), .milliseconds(200), "bounded")
    }

    func testAttemptsAreBounded() {
        var route = ClusterRoute(bytes("GET", "k"), owner: "a:1")
        var sends = 1
        while case .retryLater = route.received(.error("TRYAGAIN")) { sends += 1 }
        XCTAssertEqual(sends, ClusterRoute.maxAttempts)
        XCTAssertEqual(route.received(.error("TRYAGAIN")), .deliver, "the last answer stands")
    }

    func testAFailureIsRetriedOnlyWhereTheSlotMovedAndNeverAfterATimeoutOrAsking() {
        var route = ClusterRoute(bytes("GET", "k"), owner: "a:1")
        XCTAssertEqual(route.failed(timedOut: false), .rerouteAfterFailure)
        XCTAssertFalse(route.reroute(to: "a:1", afterFailure: true), "the map still names the dead node: give up")
        XCTAssertTrue(route.reroute(to: "b:2", afterFailure: true), "a failover moved the slot")
        XCTAssertEqual(route.target, "b:2")

        var timedOut = ClusterRoute(bytes("GET", "k"), owner: "a:1")
        XCTAssertEqual(timedOut.failed(timedOut: true), .fail, "the command may have run")

        var asked = ClusterRoute(bytes("GET", "k"), owner: "a:1")
        _ = asked.received(.error("ASK 1 b:2"))
        XCTAssertEqual(asked.failed(timedOut: false), .fail)

        var keyless = ClusterRoute(bytes("PING"), owner: "a:1")
        XCTAssertNil(keyless.slot)
        XCTAssertEqual(keyless.failed(timedOut: false), .fail, "no slot to find another owner for")
    }

    func testRoutingKeys() {
        XCTAssertEqual(ClusterRoute.routingKey(bytes("EVALSHA", "sha", "1", "durin:{ab}user:x", "a")), Array("durin:{ab}user:x".utf8))
        XCTAssertNil(ClusterRoute.routingKey(bytes("EVALSHA", "sha", "0", "a")))
        XCTAssertEqual(ClusterRoute.routingKey(bytes("XREAD", "COUNT", "1", "STREAMS", "s", "0")), Array("s".utf8))
        for keyless in ["PING", "WAIT", "CLIENT", "SCRIPT", "CLUSTER", "TIME", "SCAN"] {
            XCTAssertNil(ClusterRoute.routingKey(bytes(keyless, "x")))
        }
        XCTAssertEqual(ClusterRoute.routingKey(bytes("hget", "k", "f")), Array("k".utf8))
        XCTAssertTrue(ClusterRoute.isScript(bytes("eval", "return 1", "0")))
        XCTAssertFalse(ClusterRoute.isScript(bytes("GET", "k")))
    }

    func testSlotMaps() {
        func node(_ host: String, _ port: Int64) -> RedisReply {
            .array([.bulk(Array(host.utf8)), .integer(port), .bulk(Array("id".utf8))])
        }
        let full = RedisReply.array([
            .array([.integer(0), .integer(5460), node("10.0.0.1", 7000)]),
            .array([.integer(5461), .integer(10922), node("::1", 7001)]),
            .array([.integer(10923), .integer(16383), node("", 7002)]),
        ])
        let map = ClusterRoute.slotMap(full, queried: "10.0.0.9:7005")
        XCTAssertEqual(map?.count, HashSlot.count)
        XCTAssertEqual(map?[0], "10.0.0.1:7000")
        XCTAssertEqual(map?[5461], "[::1]:7001")
        XCTAssertEqual(map?[16383], "10.0.0.9:7002", "an empty address is the node asked")
        let partial = RedisReply.array([.array([.integer(0), .integer(100), node("a", 1)])])
        XCTAssertNil(ClusterRoute.slotMap(partial, queried: "a:1"), "a slot not served: no map")
        XCTAssertNil(ClusterRoute.slotMap(.array([.array([.integer(0), .integer(16384), node("a", 1)])]), queried: "a:1"))
        XCTAssertNil(ClusterRoute.slotMap(.error("ERR"), queried: "a:1"))
    }

    func testErrorsAreClassifiedOnce() {
        for transient in [
            "LOADING Redis is loading", "BUSY Redis is busy", "MASTERDOWN Link down", "READONLY You can't write",
            "OOM command not allowed", "NOREPLICAS Not enough good replicas", "TRYAGAIN x", "CLUSTERDOWN x",
            "MOVED 1 a:1", "ASK 1 a:1", "ERR Script attempted to access a non local key in a cluster node script",
        ] {
            XCTAssertEqual(ClusterRoute.classify(transient), .transient, transient)
        }
        for other in ["ERR wrong number of arguments", "WRONGTYPE Operation", "NOSCRIPT No matching script", "NOPERM no"] {
            XCTAssertEqual(ClusterRoute.classify(other), .other, other)
        }
    }
}
