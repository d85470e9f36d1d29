import CFastCGI
import Glibc
import Synchronization

/// Every FastCGI connection the responder holds. A thread gets a connection only
/// when its whole request is buffered, and a connection nginx keeps
/// (`fastcgi_keep_conn on`) goes back to an epoll set after each answer, so no
/// thread waits for its next request.
///
/// libfcgi reads a request with blocking reads, so a connection that sent half a
/// request (or nothing) would hold any thread that read it. Here nothing reads
/// until the request is there (a peek, MSG_PEEK, consumes nothing). Two lanes of
/// workers take connections:
/// - **Accepting** workers block in `accept` (the kernel wakes one per connection)
///   and peek. What nginx sends it sends at once, so the request is nearly always
///   there whole and served at once: accept, peek, libfcgi's read, the answer's
///   write, close. A request not whole yet goes to the epoll set.
/// - **Waiting** workers block in `epoll_wait` on the epoll set, which holds every
///   kept connection and every request still arriving, edge-triggered: an arrival
///   wakes one of them, which peeks and serves what is whole. A kept connection
///   costs its next request one `epoll_wait` and one peek, and no accept or close.
/// The listening socket is not in the epoll set: with one level-triggered socket
/// shared by many waiters, each connection would wake most of them.
///
/// Which connection may wait, and for how long, is `ConnectionTable`'s decision;
/// this type makes the system calls: accepts, peeks, epoll registrations, closes.
/// A watcher thread closes what waited past its deadline.
package final class ConnectionIntake: Sendable {
    /// A connection whose request is buffered (or whose params are, and whose large
    /// body still streams), handed to one thread until `finish`.
    package struct Connection: Sendable {
        package let fd: Int32
        /// Its admission's number in the table; 0 while it is in none (served at
        /// once after its accept).
        let seq: UInt32
        package let deadline: ContinuousClock.Instant
        /// The body is larger than the peek window: reads may wait for it, so the
        /// socket's read and write timeouts are set to the deadline (and the
        /// connection is closed after its answer).
        package let bodyStreams: Bool
    }

    /// Counts kept for metrics.
    package struct Counts: Sendable {
        /// Connections closed at their deadline with their request incomplete, or put
        /// out of the unproven budget to make room.
        package var timedOut = 0
        /// Connections closed for sending what no FastCGI web server sends.
        package var refused: [RequestFraming.Refusal: Int] = [:]
        /// Connections the peer closed before their request was whole.
        package var abandoned = 0
        /// Requests that had not arrived whole at the first look.
        package var waited = 0
        /// Connections accepted.
        package var accepted = 0
        /// Requests served on a connection that had served one before (kept).
        package var reused = 0
        /// Kept connections closed after `keptIdleLimit` without a request.
        package var idleClosed = 0
        /// Open now: proven (kept by nginx), and unproven ones waiting for their request.
        package var proven = 0
        package var unprovenWaiting = 0
        package init() {}
    }

    private struct State {
        var table: ConnectionTable
        var counts = Counts()
    }

    private let listenFD: Int32
    private let timeout: Duration
    private let keptIdleLimit: Duration
    private let epollFD: Int32
    /// Bumped to wake a waiting worker for the ready queue.
    private let wakeFD: Int32
    private let state: Mutex<State>
    /// Connections whose request became whole while a thread that does not serve
    /// them held them (a hasher, the watcher).
    private let ready = Mutex<[Connection]>([])
    private let readyCount = Atomic(0)
    // Counted outside the lock: the hot path takes none.
    private let accepted = Atomic(0)
    private let reused = Atomic(0)
    /// No more accepts: set by `stop`.
    private let stopped = Atomic(false)
    /// Set by the watcher once nothing waits any more: workers then end.
    private let drained = Atomic(false)
    private let stopDeadline = Mutex<ContinuousClock.Instant?>(nil)

    /// The wake-up eventfd's tag in the epoll set (a connection's tag is its seq and
    /// descriptor, and seq is never 0).
    private static let wakeTag: UInt64 = 1 << 32 - 1

    /// - Parameters:
    ///   - listenFD: the listening socket, blocking (accepting workers wait in accept).
    ///   - timeout: how long a peer has to send a whole request: from the accept,
    ///     or from its first byte on a kept connection.
    ///   - unprovenLimit: how many connections without a proven request may wait.
    ///   - keptIdleLimit: how long a kept connection may stay idle; above nginx's
    ///     upstream `keepalive_timeout` (60 s by default), so that nginx closes first.
    package init(listenFD: Int32, timeout: Duration, unprovenLimit: Int = 1024, keptIdleLimit: Duration = .seconds(300)) {
        self.listenFD = listenFD
        self.timeout = timeout
        self.keptIdleLimit = keptIdleLimit
        state = Mutex(
            State(table: ConnectionTable(unprovenLimit: unprovenLimit, requestTimeout: timeout, keptIdleLimit: keptIdleLimit)))
        epollFD = durin_epoll_create()
        wakeFD = durin_eventfd()
        precondition(epollFD >= 0 && wakeFD >= 0, "epoll or eventfd refused: errno \(errno)")
        precondition(durin_epoll_add(epollFD, wakeFD, Self.wakeTag) == 0, "epoll_ctl(eventfd): errno \(errno)")
    }

    package var snapshot: Counts {
        state.withLock { s in
            var counts = s.counts
            counts.proven = s.table.provenCount
            counts.unprovenWaiting = s.table.unprovenWaiting
            counts.reused = reused.load(ordering: .relaxed)
            counts.accepted = accepted.load(ordering: .relaxed)
            return counts
        }
    }

    /// Per thread that takes connections: its peek buffer, and a connection it found
    /// whole while letting go of it, which it serves next.
    package final class Seat {
        let buffer: UnsafeMutableRawBufferPointer
        /// A worker's: it serves what it finds whole when letting go. A hasher's hands
        /// that to the workers.
        let serves: Bool
        var carried: Connection?
        var tag: UInt64 = 0

        package init(serves: Bool) {
            self.serves = serves
            buffer = .allocate(byteCount: RequestFraming().window, alignment: 8)
        }
        deinit { buffer.deallocate() }

        enum Peeked {
            case progress(RequestFraming.Progress)
            case closed, nothingNew
        }

        /// Feeds what arrived past what `framing` has seen. With `fromStart`, the
        /// peek begins at byte 0 (no SO_PEEK_OFF) and the bytes already seen are skipped.
        func peek(_ fd: Int32, into framing: inout RequestFraming, fromStart: Bool) -> Peeked {
            let skip = fromStart ? framing.consumed : 0
            let room = min(buffer.count, framing.window + 8 - framing.consumed + skip)
            let n = durin_peek(fd, buffer.baseAddress, UInt(room))
            if n == -Int(EAGAIN) || n == -Int(EWOULDBLOCK) { return .nothingNew }
            if n <= 0 { return .closed }
            if n <= skip { return .nothingNew }
            return .progress(framing.feed(UnsafeRawBufferPointer(rebasing: buffer[skip..<n])))
        }
    }

    // MARK: Workers

    /// An accepting worker's next connection whose request has arrived whole; nil
    /// once the intake is stopped.
    package func nextAccepted(_ seat: Seat) -> Connection? {
        while true {
            if let connection = seat.carried {
                seat.carried = nil
                return connection
            }
            guard !stopped.load(ordering: .acquiring) else { return nil }
            let fd = durin_accept(listenFD)
            if fd < 0 {
                // EINTR: woken for shutdown (or a stray signal); ECONNABORTED and
                // kin: that one peer is gone. Anything else (out of descriptors, a
                // socket shut down) lasts a while: do not spin on it.
                if ![EINTR, ECONNABORTED, EPROTO, EAGAIN].contains(-fd) { usleep(10_000) }
                continue
            }
            accepted.add(1, ordering: .relaxed)
            // Not in the table (no lock) unless it must wait.
            let entry = ConnectionTable.Entry(seq: 0, holder: .thread, deadline: .now + timeout)
            if let connection = look(fd, entry, peekFirst: true, seat: seat) { return connection }
        }
    }

    /// A waiting worker's next connection from the epoll set (a kept connection's
    /// next request, or one that arrived in pieces); nil once the intake is stopped
    /// and nothing waits any more.
    package func nextWaiting(_ seat: Seat) -> Connection? {
        while true {
            if let connection = seat.carried {
                seat.carried = nil
                return connection
            }
            if readyCount.load(ordering: .relaxed) > 0, let connection = takeReady() { return connection }
            if drained.load(ordering: .acquiring) { return nil }
            // Stopping, a worker looks up now and then: woken by signals otherwise.
            let n = withUnsafeMutablePointer(to: &seat.tag) {
                durin_epoll_wait(epollFD, $0, 1, stopped.load(ordering: .relaxed) ? 20 : -1)
            }
            guard n == 1 else { continue }  // EINTR (a shutdown's wake-up) or a timeout
            if seat.tag == Self.wakeTag {
                durin_eventfd_reset(wakeFD)
                continue
            }
            let fd = Int32(truncatingIfNeeded: seat.tag & 0xFFFF_FFFF)
            let seq = UInt32(truncatingIfNeeded: seat.tag >> 32)
            guard case .held(let entry) = state.withLock({ $0.table.claim(fd, seq: seq) }) else { continue }
            if let connection = look(fd, entry, peekFirst: true, seat: seat) { return connection }
        }
    }

    /// The holder of a connection looks at what has arrived: a whole request is
    /// returned for the caller to serve; anything else is settled here (refused,
    /// closed, or into the epoll set to wait for more). `entry` is the connection's
    /// table entry, or (seq 0) what a connection in no table yet would have.
    private func look(_ fd: Int32, _ entry: ConnectionTable.Entry, peekFirst: Bool, seat: Seat) -> Connection? {
        var current = entry
        var framing = entry.framing
        var peekOffset = entry.peekOffset
        var peekNow = peekFirst
        while true {
            var outcome = Seat.Peeked.nothingNew
            if peekNow {
                // Edge-triggered: drain what arrived, however many peeks the window needs.
                repeat {
                    outcome = seat.peek(fd, into: &framing, fromStart: !peekOffset)
                } while peekOffset && { if case .progress(.incomplete) = outcome { true } else { false } }()
            }
            peekNow = true
            switch outcome {
            case .progress(.complete):
                return handOut(fd, current, bodyStreams: false)
            case .progress(.bodyStreaming):
                return handOut(fd, current, bodyStreams: true)
            case .progress(.refused(let why)):
                drop(fd, seq: current.seq) { $0.refused[why, default: 0] += 1 }
                return nil
            case .closed:
                // A kept connection's peer closing between two requests is no loss.
                let lost = current.served == 0 || framing.consumed > 0
                drop(fd, seq: current.seq) { if lost { $0.abandoned += 1 } }
                return nil
            case .nothingNew, .progress(.incomplete):
                break
            }
            // Waits for more. Each later peek starts where this one ended.
            if !peekOffset && framing.consumed > 0 { peekOffset = durin_set_peek_offset(fd, Int32(framing.consumed)) == 0 }
            if current.seq == 0 {
                // Into the table, then the epoll set: an event that comes before the
                // wait below finds it held, and the wait then says to look again.
                let admitted = state.withLock { $0.table.admit(fd, deadline: current.deadline, served: current.served) }
                current = admitted
                guard durin_epoll_add(epollFD, fd, UInt64(admitted.seq) << 32 | UInt64(UInt32(bitPattern: fd))) == 0 else {
                    drop(fd, seq: admitted.seq) { $0.abandoned += 1 }
                    return nil
                }
            }
            let wait = waitInTable(fd, seq: current.seq) {
                $0.wait(fd, seq: current.seq, framing: framing, peekOffset: peekOffset, now: .now)
            }
            guard case .lookAgain(let entry) = wait else { return nil }
            current = entry
            framing = entry.framing
        }
    }

    /// Hands a connection to the epoll set (`hand` is the table's decision), counting
    /// a first wait and closing what was put out to make room.
    private func waitInTable(_ fd: Int32, seq: UInt32, _ hand: (inout ConnectionTable) -> ConnectionTable.Wait)
        -> ConnectionTable.Wait
    {
        let (wait, evicted) = state.withLock { s -> (ConnectionTable.Wait, [Int32]) in
            let wait = hand(&s.table)
            if case .waiting(firstWait: true) = wait { s.counts.waited += 1 }
            let evicted = s.table.makeRoom()
            s.counts.timedOut += evicted.count
            return (wait, evicted)
        }
        for fd in evicted { close(fd) }
        return wait
    }

    /// A whole request for the caller, which holds its connection. A new
    /// connection's deadline runs from its accept, a kept one's from now.
    private func handOut(_ fd: Int32, _ entry: ConnectionTable.Entry, bodyStreams: Bool) -> Connection {
        guard entry.served > 0 else { return Connection(fd: fd, seq: entry.seq, deadline: entry.deadline, bodyStreams: bodyStreams) }
        reused.add(1, ordering: .relaxed)
        return Connection(fd: fd, seq: entry.seq, deadline: .now + timeout, bodyStreams: bodyStreams)
    }

    /// Takes a connection out of the table (seq 0: in none) and closes it, counted
    /// first: a peer that sees the close and asks for the metrics at once finds it
    /// counted.
    private func drop(_ fd: Int32, seq: UInt32, counting: (inout Counts) -> Void) {
        let removed = state.withLock { s -> Bool in
            guard seq == 0 || s.table.remove(fd, seq: seq) else { return false }
            counting(&s.counts)
            return true
        }
        if removed { close(fd) }
    }

    /// The end of a request a thread took from `nextAccepted` or `nextWaiting`: the
    /// request is finished, and its connection kept for the next one or closed.
    /// - Parameters:
    ///   - keep: its request carried the proxy key. The connection stays open only
    ///     if the peer asked (FCGI_KEEP_CONN), and not while stopping.
    ///   - seat: the calling thread's.
    package func finish(_ request: FastCGIRequest, keep: Bool, seat: Seat) {
        guard let connection = request.connection else { return }
        let (fd, seq) = (connection.fd, connection.seq)
        // A peer that asked to keep the connection owns it (FastCGI 3.5): closing it
        // after an answer races the next request nginx sends on it, and nginx answers
        // a POST that loses the race 502 (it never retries one). So a proven
        // connection is kept whatever its request was: a body that streamed, one too
        // large or cut short. Only a stop, an idle limit, or a peer without the key
        // ends one; libfcgi closes it when reading or writing failed.
        let keeping = keep && request.peerKeeps && !stopped.load(ordering: .relaxed)
        guard request.finish(keep: keeping) else {
            // libfcgi closed it (its peer was gone): the number may be reused already.
            if seq != 0 { _ = state.withLock { $0.table.remove(fd, seq: seq) } }
            return
        }
        guard keeping else {
            if seq != 0 { _ = state.withLock { $0.table.remove(fd, seq: seq) } }
            close(fd)
            return
        }
        // The streamed body's deadline was this request's, not the next one's.
        if connection.bodyStreams { durin_set_io_timeout(fd, 0) }
        let found: Connection?
        if seq == 0 {
            // Its first answer: into the table and the epoll set, without a peek
            // (nginx sends its next request later).
            let first = ConnectionTable.Entry(seq: 0, holder: .thread, deadline: .now + keptIdleLimit, served: 1)
            found = look(fd, first, peekFirst: false, seat: seat)
        } else {
            guard case .lookAgain(let entry) = waitInTable(fd, seq: seq, { $0.kept(fd, seq: seq, now: .now) }) else { return }
            found = look(fd, entry, peekFirst: true, seat: seat)
        }
        guard let found else { return }
        if seat.serves { seat.carried = found } else { handToWorkers(found) }
    }

    /// A connection whose request is whole, found by a thread that does not serve.
    private func handToWorkers(_ connection: Connection) {
        ready.withLock { $0.append(connection) }
        readyCount.add(1, ordering: .relaxed)
        durin_eventfd_bump(wakeFD)
    }

    /// A connection `begin` could not read (libfcgi closed it).
    package func lost(_ connection: Connection) {
        guard connection.seq != 0 else { return }
        _ = state.withLock { $0.table.remove(connection.fd, seq: connection.seq) }
    }

    private func takeReady() -> Connection? {
        let (connection, more) = ready.withLock { queue -> (Connection?, Bool) in
            guard !queue.isEmpty else { return (nil, false) }
            readyCount.subtract(1, ordering: .relaxed)
            return (queue.removeFirst(), !queue.isEmpty)
        }
        // The eventfd is edge-triggered: one bump may stand for several.
        if more { durin_eventfd_bump(wakeFD) }
        return connection
    }

    // MARK: Stopping and the watcher

    /// Stops accepting: `nextAccepted` returns nil from now on (workers blocked in
    /// accept still need a signal: ProcessSignals.wake). Connections already accepted
    /// are not dropped: those whose request is on its way get up to `grace` to arrive
    /// whole and are answered; kept connections with no request begun are closed
    /// (nginx sends their next request elsewhere). `nextWaiting` returns nil once
    /// that is done.
    package func stop(grace: Duration) {
        stopDeadline.withLock { $0 = ContinuousClock.now + grace }
        stopped.store(true, ordering: .releasing)
    }

    /// The watcher thread: closes what waited past its deadline, until the intake is
    /// stopped and drained.
    package func watch() {
        var closedIdle = false
        let seat = Seat(serves: false)
        while true {
            let stopping = stopped.load(ordering: .acquiring)
            usleep(stopping ? 10_000 : 50_000)
            let late = state.withLock { s -> [(fd: Int32, why: ConnectionTable.Expiry)] in
                let late = s.table.expire(now: .now)
                for (_, why) in late {
                    if why == .idle { s.counts.idleClosed += 1 } else { s.counts.timedOut += 1 }
                }
                return late
            }
            for (fd, _) in late { close(fd) }
            guard stopping else { continue }
            if !closedIdle {
                closedIdle = true
                closeIdle(seat)
            }
            let over = stopDeadline.withLock { $0.map { ContinuousClock.now >= $0 } ?? true }
            let left = state.withLock { s -> [Int32]? in
                guard over || s.table.noneWaiting else { return nil }
                let left = s.table.takeWaiting()
                s.counts.timedOut += left.count
                return left
            }
            guard let left else { continue }
            for fd in left { close(fd) }
            drained.store(true, ordering: .releasing)
            durin_eventfd_bump(wakeFD)
            return
        }
    }

    /// At a stop: closes the kept connections whose next request has not begun; one
    /// whose request is arriving goes on like any other.
    private func closeIdle(_ seat: Seat) {
        for (fd, entry) in state.withLock({ $0.table.claimIdle() }) {
            var framing = entry.framing
            if case .nothingNew = seat.peek(fd, into: &framing, fromStart: true) {
                drop(fd, seq: entry.seq) { _ in }
            } else if let found = look(fd, entry, peekFirst: true, seat: seat) {
                handToWorkers(found)
            }
        }
    }
}
