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

    /// Accepts a connection and leaves it waiting in the epoll set, as the intake
    /// does with one whose request has not arrived.
    @discardableResult
    func acceptWaiting(_ t: inout ConnectionTable, _ fd: Int32, at offset: Duration = .zero) -> (seq: UInt32, evicted: [Int32]) {
        let seq = t.accepted(fd, now: start + offset)
        guard case .waiting = t.wait(fd, seq: seq, framing: RequestFraming(), peekOffset: false, now: start + offset) else {
            XCTFail("not waiting")
            return (seq, [])
        }
        return (seq, t.makeRoom())
    }

    /// Serves a request on a connection and keeps it, as a worker does with nginx's.
    func serveAndKeep(_ t: inout ConnectionTable, _ fd: Int32, seq: UInt32, at offset: Duration = .zero) {
        guard case .keep = t.answered(fd, seq: seq, keep: true, now: start + offset) else { return XCTFail("not kept") }
        guard case .waiting(let first) = t.wait(fd, seq: seq, framing: RequestFraming(), peekOffset: false, now: start + offset)
        else { return XCTFail("not waiting") }
        XCTAssertFalse(first, "an idle kept connection waits for nothing")
    }

    func testPastTheBudgetTheOldestUnprovenIsPutOutNeverTheNewcomer() {
        var t = table(unproven: 4)
        for fd in Int32(10)..<14 { XCTAssertEqual(acceptWaiting(&t, fd).evicted, []) }
        XCTAssertEqual(acceptWaiting(&t, 14).evicted, [10])
        XCTAssertEqual(acceptWaiting(&t, 15).evicted, [11])
        XCTAssertEqual(t.unprovenWaiting, 4)
        XCTAssertNil(t.entries[10])
        XCTAssertNotNil(t.entries[15])
    }

    func testAProvenConnectionIsNeverPutOutToMakeRoom() {
        var t = table(unproven: 2)
        let seq = t.accepted(5, now: start)
        serveAndKeep(&t, 5, seq: seq)
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
        let seq = t.accepted(3, now: start)
        // A worker serves it; meanwhile the epoll set reports new bytes to another.
        guard case .busy = t.claim(3, seq: seq) else { return XCTFail("a held connection was claimed twice") }
        guard case .keep = t.answered(3, seq: seq, keep: true, now: start) else { return XCTFail("not kept") }
        guard case .lookAgain = t.wait(3, seq: seq, framing: RequestFraming(), peekOffset: false, now: start) else {
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
        let kept = t.accepted(21, now: start)
        serveAndKeep(&t, 21, seq: kept)
        // ...unless its next request has begun: that one is due in the request timeout.
        let busy = t.accepted(22, now: start)
        serveAndKeep(&t, 22, seq: busy)
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

    func testARequestWithoutTheKeyIsNotKept() {
        var t = table()
        let seq = t.accepted(4, now: start)
        guard case .close = t.answered(4, seq: seq, keep: false, now: start) else { return XCTFail("kept without the key") }
        XCTAssertEqual(t.count, 0)
    }

    func testAStopTakesOverOnlyIdleKeptConnections() {
        var t = table()
        let idle = t.accepted(30, now: start)
        serveAndKeep(&t, 30, seq: idle)
        let arriving = t.accepted(31, now: start)
        serveAndKeep(&t, 31, seq: arriving)
        guard case .held = t.claim(31, seq: arriving) else { return XCTFail("not claimed") }
        _ = t.wait(31, seq: arriving, framing: partial, peekOffset: true, now: start)
        acceptWaiting(&t, 32)
        XCTAssertEqual(t.claimIdle().map(\.fd), [30])
        XCTAssertFalse(t.noneWaiting)
        XCTAssertEqual(Set(t.takeWaiting()), [31, 32])
        XCTAssertTrue(t.noneWaiting)
    }
}
