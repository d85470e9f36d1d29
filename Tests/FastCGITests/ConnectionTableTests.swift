import XCTest

@testable import FastCGI

/// The intake's bookkeeping, without sockets: who holds each connection, which may
/// be put out to make room, and when each is closed.
final class ConnectionTableTests: XCTestCase {
    let start = ContinuousClock.now

    func table(unproven: Int = 4) -> ConnectionTable {
        ConnectionTable(unprovenLimit: unproven, requestTimeout: .seconds(5), keptIdleLimit: .seconds(300))
    }

    /// Some bytes of a request: enough to count as begun, not whole.
    var partial: RequestFraming {
        var framing = RequestFraming()
        framing.feed([1, 1, 0, 1, 0, 8, 0, 0])
        return framing
    }

    /// A connection whose request has not arrived at its accept: admitted, then left
    /// waiting in the epoll set, as the intake does.
    @discardableResult
    func acceptWaiting(_ t: inout ConnectionTable, _ fd: Int32, at offset: Duration = .zero) -> (seq: UInt32, evicted: [Int32]) {
        let seq = t.admit(fd, deadline: start + offset + .seconds(5), served: 0).seq
        guard case .waiting = t.wait(fd, seq: seq, framing: RequestFraming(), peekOffset: false, now: start + offset) else {
            XCTFail("not waiting")
            return (seq, [])
        }
        return (seq, t.makeRoom())
    }

    /// A connection kept after its first answer (its request carried the key), as a
    /// worker keeps nginx's: admitted, then waiting idle in the epoll set.
    @discardableResult
    func keptConnection(_ t: inout ConnectionTable, _ fd: Int32) -> UInt32 {
        let seq = t.admit(fd, deadline: start + .seconds(300), served: 1).seq
        guard case .waiting(let first) = t.wait(fd, seq: seq, framing: RequestFraming(), peekOffset: false, now: start) else {
            XCTFail("not waiting")
            return seq
        }
        XCTAssertFalse(first, "an idle kept connection waits for nothing")
        return seq
    }

    func testPastTheBudgetTheOldestUnprovenIsPutOutNeverTheNewcomer() {
        var t = table(unproven: 4)
        for fd in Int32(10)..<14 { XCTAssertEqual(acceptWaiting(&t, fd).evicted, []) }
        XCTAssertEqual(acceptWaiting(&t, 14).evicted, [10])
        XCTAssertEqual(acceptWaiting(&t, 15).evicted, [11])
        XCTAssertEqual(t.unprovenWaiting, 4)
        XCTAssertNil(t[10])
        XCTAssertNotNil(t[15])
    }

    func testAProvenConnectionIsNeverPutOutToMakeRoom() {
        var t = table(unproven: 2)
        let seq = keptConnection(&t, 5)
        for fd in Int32(100)..<200 { acceptWaiting(&t, fd) }
        XCTAssertEqual(t.entry(5, seq: seq)?.proven, true, "nginx's kept connection stays")
        XCTAssertEqual(t.unprovenWaiting, 2)
        XCTAssertEqual(t.provenCount, 1)
    }

    func testAConnectionAThreadHoldsIsNotPutOut() {
        var t = table(unproven: 1)
        let (held, _) = acceptWaiting(&t, 7)
        // A worker peeks at it (its event came) while newcomers arrive.
        guard case .held = t.claim(7, seq: held) else { return XCTFail("not claimed") }
        XCTAssertEqual(acceptWaiting(&t, 8).evicted, [])
        XCTAssertEqual(acceptWaiting(&t, 9).evicted, [8], "the one waiting goes, not the one under a thread")
        XCTAssertNotNil(t.entry(7, seq: held))
        // Back to waiting, it is the newest: the one before it goes.
        guard case .waiting = t.wait(7, seq: held, framing: partial, peekOffset: true, now: start) else {
            return XCTFail("not waiting")
        }
        XCTAssertEqual(t.makeRoom(), [9])
    }

    func testAnEventForAnOlderConnectionUnderTheSameNumberIsIgnored() {
        var t = table()
        let (first, _) = acceptWaiting(&t, 9)
        XCTAssertTrue(t.remove(9, seq: first))
        let (second, _) = acceptWaiting(&t, 9)
        XCTAssertNotEqual(first, second)
        guard case .gone = t.claim(9, seq: first) else { return XCTFail("a stale event took the new connection") }
        guard case .held = t.claim(9, seq: second) else { return XCTFail("the new connection's own event") }
        XCTAssertFalse(t.remove(9, seq: first))
    }

    func testBytesArrivingWhileAThreadHoldsItAreLookedAtByThatThread() {
        var t = table()
        let seq = keptConnection(&t, 3)
        guard case .held = t.claim(3, seq: seq) else { return XCTFail("not claimed") }
        // A worker serves its request; meanwhile the epoll set reports the next one's
        // bytes to another worker.
        guard case .busy = t.claim(3, seq: seq) else { return XCTFail("a held connection was claimed twice") }
        guard case .lookAgain = t.kept(3, seq: seq, now: start) else {
            return XCTFail("the holder must look again: no one else will be told")
        }
        guard case .waiting = t.wait(3, seq: seq, framing: RequestFraming(), peekOffset: false, now: start) else {
            return XCTFail("then it waits")
        }
    }

    func testDeadlines() {
        var t = table()
        // A new connection has the request timeout from its accept.
        let (silent, _) = acceptWaiting(&t, 20)
        // A kept one is idle for up to keptIdleLimit...
        keptConnection(&t, 21)
        // ...unless its next request has begun: that one is due in the request timeout.
        let busy = keptConnection(&t, 22)
        guard case .held = t.claim(22, seq: busy) else { return XCTFail("not claimed") }
        _ = t.wait(22, seq: busy, framing: partial, peekOffset: true, now: start + .seconds(100))
        XCTAssertTrue(t.expire(now: start + .seconds(4)).isEmpty)
        XCTAssertEqual(t.expire(now: start + .seconds(6)).map(\.fd), [20])
        XCTAssertTrue(t.expire(now: start + .seconds(104)).isEmpty)
        XCTAssertEqual(t.expire(now: start + .seconds(106)).map { $0.why }, [.timedOut])
        XCTAssertTrue(t.expire(now: start + .seconds(299)).isEmpty)
        XCTAssertEqual(t.expire(now: start + .seconds(301)).map { $0.why }, [.idle])
        XCTAssertEqual(t.count, 0)
        _ = silent
    }

    func testAKeptConnectionIsIdleAgainAfterEachRequest() {
        var t = table()
        let seq = keptConnection(&t, 4)
        for served in 2...4 {
            guard case .held = t.claim(4, seq: seq) else { return XCTFail("not claimed") }
            guard case .waiting(firstWait: false) = t.kept(4, seq: seq, now: start + .seconds(served)) else {
                return XCTFail("not idle")
            }
            XCTAssertEqual(t.entry(4, seq: seq)?.served, served)
            XCTAssertEqual(t.entry(4, seq: seq)?.deadline, start + .seconds(served) + .seconds(300))
        }
        XCTAssertEqual(t.provenCount, 1)
        XCTAssertEqual(t.unprovenWaiting, 0)
    }

    func testAStopTakesOverOnlyIdleKeptConnections() {
        var t = table()
        keptConnection(&t, 30)
        let arriving = keptConnection(&t, 31)
        guard case .held = t.claim(31, seq: arriving) else { return XCTFail("not claimed") }
        _ = t.wait(31, seq: arriving, framing: partial, peekOffset: true, now: start)
        acceptWaiting(&t, 32)
        XCTAssertEqual(t.claimIdle().map(\.fd), [30])
        XCTAssertFalse(t.noneWaiting)
        XCTAssertEqual(Set(t.takeWaiting()), [31, 32])
        XCTAssertTrue(t.noneWaiting)
    }
}
