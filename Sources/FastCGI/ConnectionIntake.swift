import CFastCGI
import Dispatch
import Glibc
import Synchronization

/// Accepts FastCGI connections and lets a worker thread have one only when its
/// whole request is already buffered in the socket, so that no peer can hold a
/// worker by sending slowly or not at all.
///
/// libfcgi reads a request with blocking reads: a connection that sends half a
/// request (or nothing) would keep a worker waiting for as long as it stays open,
/// and sixteen of them would stop every token check. Here a worker accepts and
/// peeks (MSG_PEEK: nothing is consumed). What nginx sends, it sends at once, so
/// the request is nearly always there whole and the worker serves it at once.
/// Anything else is handed to the watcher thread, which waits for the rest of
/// the request with epoll under the connection's deadline (DURIN_FASTCGI_TIMEOUT
/// from the accept), and then puts it on the ready queue that the slow lane (and
/// every worker between two requests) serves. Past the deadline the connection
/// is closed unanswered and counted.
package final class ConnectionIntake: Sendable {
    /// An accepted connection whose request is buffered (or whose params are, and
    /// whose large body still streams), with the time it must be done by.
    package struct Connection: Sendable {
        package let fd: Int32
        package let deadline: ContinuousClock.Instant
        /// The body is larger than the peek window: reads may wait for it, so the
        /// socket's read and write timeouts are set to the deadline.
        package let bodyStreams: Bool
    }

    /// Counts kept for metrics.
    package struct Counts: Sendable {
        /// Connections closed at their deadline with their request incomplete.
        package var timedOut = 0
        /// Connections closed for sending what no FastCGI web server sends.
        package var refused: [RequestFraming.Refusal: Int] = [:]
        /// Connections the peer closed before its request was complete.
        package var abandoned = 0
        /// Connections whose request was not buffered at the accept (the slow path).
        package var waited = 0
        package init() {}
    }

    private let listenFD: Int32
    private let timeout: Duration
    /// How many incomplete connections the watcher keeps. Past it, the oldest is
    /// closed (counted as timed out), never the newcomer: a process that fills the
    /// waiting room with silent connections only pushes out its own, while nginx's
    /// requests, whose bytes merely raced the accept, arrive whole within
    /// milliseconds of theirs.
    private let pendingLimit: Int
    private let epollFD: Int32

    private struct Pending {
        var framing: RequestFraming
        let deadline: ContinuousClock.Instant
        /// SO_PEEK_OFF was accepted: each peek starts where the last one ended.
        let peekOffset: Bool
        /// Its admission's number: a descriptor number is reused once closed, and an
        /// entry is only ever updated or removed by whoever read it with this number.
        var seq: UInt64 = 0
    }

    /// The connections the watcher waits for, in the order they came. Full, it lets
    /// the newcomer in and closes the oldest: workers admit, the watcher advances,
    /// expires and closes, each under the lock.
    private struct WaitingRoom {
        var table: [Int32: Pending] = [:]
        /// Admissions, oldest first from `head`; an entry whose descriptor has left
        /// the table (or was reused: another number) is skipped.
        private var order: [(fd: Int32, seq: UInt64)] = []
        private var head = 0
        private var nextSeq: UInt64 = 1
        /// Put out to make room, still open: the watcher takes them out of its epoll
        /// set and closes them (a peek of theirs may be under way).
        var evicted: [Int32] = []

        var isEmpty: Bool { table.isEmpty }

        /// Lets `fd` in; past `limit`, the oldest is put out (into `evicted`).
        mutating func admit(_ fd: Int32, _ entry: Pending, limit: Int) -> UInt64 {
            var entry = entry
            entry.seq = nextSeq
            nextSeq += 1
            table[fd] = entry
            order.append((fd, entry.seq))
            while table.count > limit, head < order.count {
                let oldest = order[head]
                head += 1
                if table[oldest.fd]?.seq == oldest.seq {
                    table.removeValue(forKey: oldest.fd)
                    evicted.append(oldest.fd)
                }
            }
            // Skipped entries are dropped once they are half the queue.
            if head > 1024 && head * 2 > order.count {
                order.removeFirst(head)
                head = 0
            }
            return entry.seq
        }

        /// Removes the entry if it is still the one admitted with `seq`.
        mutating func remove(_ fd: Int32, seq: UInt64) -> Bool {
            guard table[fd]?.seq == seq else { return false }
            table.removeValue(forKey: fd)
            return true
        }
    }

    private let pending = Mutex(WaitingRoom())
    private let ready = Mutex<[Connection]>([])
    private let readyCount = Atomic(0)
    private let readySignal = DispatchSemaphore(value: 0)
    /// No more accepts: set by `stop`.
    private let stopped = Atomic(false)
    /// Set by the watcher once it has handed on or closed every connection it held:
    /// nothing more will be queued, so the slow lane may end.
    private let drained = Atomic(false)
    /// At a stop, how long the watcher still waits for requests it holds to arrive whole.
    private let stopDeadline = Mutex<ContinuousClock.Instant?>(nil)
    private let counts = Mutex(Counts())

    /// - Parameters:
    ///   - listenFD: the listening socket, blocking (workers wait in accept).
    ///   - timeout: from the accept, how long a peer has to send its whole request.
    package init(listenFD: Int32, timeout: Duration, pendingLimit: Int = 4096) {
        self.listenFD = listenFD
        self.timeout = timeout
        self.pendingLimit = pendingLimit
        epollFD = durin_epoll_create()
        precondition(epollFD >= 0, "epoll_create1 failed: errno \(errno)")
    }

    package var snapshot: Counts { counts.withLock { $0 } }

    /// Per worker thread: the buffer its peeks copy into.
    package final class Reader {
        let buffer: UnsafeMutableRawBufferPointer
        package init(size: Int = RequestFraming().window) {
            buffer = .allocate(byteCount: size, alignment: 8)
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

    /// A worker's next connection: one from the ready queue if any waits, else the
    /// next accepted one whose request has arrived. nil once the intake is stopped.
    package func next(reader: Reader) -> Connection? {
        while !stopped.load(ordering: .acquiring) {
            if readyCount.load(ordering: .relaxed) > 0, let connection = takeReady() { return connection }
            let fd = durin_accept(listenFD)
            if fd < 0 {
                // EINTR: woken for shutdown (or a stray signal); ECONNABORTED and
                // kin: that one peer is gone. Anything else (out of descriptors, a
                // socket shut down) lasts a while: do not spin on it.
                if ![EINTR, ECONNABORTED, EPROTO, EAGAIN].contains(-fd) { usleep(10_000) }
                continue
            }
            let deadline = ContinuousClock.now + timeout
            var framing = RequestFraming()
            switch reader.peek(fd, into: &framing, fromStart: false) {
            case .progress(.complete): return Connection(fd: fd, deadline: deadline, bodyStreams: false)
            case .progress(.bodyStreaming): return Connection(fd: fd, deadline: deadline, bodyStreams: true)
            case .progress(.refused(let why)): drop(fd, refused: why)
            case .closed: drop(fd, abandoned: true)
            case .progress(.incomplete), .nothingNew: adopt(fd, framing: framing, deadline: deadline)
            }
        }
        return nil
    }

    /// The slow lane's next connection from the ready queue; nil once the intake is
    /// stopped and drained (every connection it accepted answered or closed).
    package func nextReady() -> Connection? {
        while true {
            readySignal.wait()
            if let connection = takeReady() { return connection }
            if drained.load(ordering: .acquiring) { return nil }
        }
    }

    private func takeReady() -> Connection? {
        ready.withLock { queue in
            guard !queue.isEmpty else { return nil }
            readyCount.subtract(1, ordering: .relaxed)
            return queue.removeFirst()
        }
    }

    /// Stops accepting: `next` returns nil from now on (workers blocked in accept()
    /// still need the listening socket shut down or a signal: ProcessSignals.wake).
    /// Connections already accepted are not dropped: the watcher waits up to `grace`
    /// for those it holds to arrive whole, the slow lane serves the ready queue, and
    /// `nextReady` returns nil once all that is done.
    package func stop(grace: Duration) {
        stopDeadline.withLock { $0 = ContinuousClock.now + grace }
        stopped.store(true, ordering: .releasing)
    }

    // MARK: The watcher

    /// Hands an incomplete connection to the watcher thread.
    private func adopt(_ fd: Int32, framing: RequestFraming, deadline: ContinuousClock.Instant) {
        counts.withLock { $0.waited += 1 }
        let peekOffset = durin_set_peek_offset(fd, Int32(framing.consumed)) == 0
        let seq = pending.withLock { room in
            room.admit(fd, Pending(framing: framing, deadline: deadline, peekOffset: peekOffset), limit: pendingLimit)
        }
        // Reported at once if bytes arrived since the peek (epoll checks at ADD).
        if durin_epoll_add(epollFD, fd) != 0, pending.withLock({ $0.remove(fd, seq: seq) }) {
            drop(fd, abandoned: true)
        }
    }

    /// The watcher thread, on a thread of its own: runs until `stop`, and then until
    /// every connection it holds is handed on or past the stop's grace.
    package func watch(slowLaneThreads: Int) {
        let reader = Reader()
        var fds = [Int32](repeating: 0, count: 64)
        while true {
            if stopped.load(ordering: .acquiring) {
                let over = stopDeadline.withLock { $0.map { ContinuousClock.now >= $0 } ?? true }
                if over || pending.withLock({ $0.isEmpty && $0.evicted.isEmpty }) { break }
            }
            let n = fds.withUnsafeMutableBufferPointer { durin_epoll_wait(epollFD, $0.baseAddress, 64, 20) }
            for i in 0..<max(0, Int(n)) { advance(fds[i], reader: reader) }
            expire()
            closeEvicted()
        }
        let left = pending.withLock { room -> [Int32] in
            defer {
                room.table.removeAll()
                room.evicted.removeAll()
            }
            return Array(room.table.keys) + room.evicted
        }
        for fd in left { drop(fd, timedOut: true) }
        drained.store(true, ordering: .releasing)
        for _ in 0..<slowLaneThreads { readySignal.signal() }
    }

    /// Peeks at a watched connection that woke: ready, refused, closed or still waiting.
    private func advance(_ fd: Int32, reader: Reader) {
        guard var entry = pending.withLock({ $0.table[fd] }) else { return }
        // Edge-triggered: drain what arrived, however many peeks the window needs.
        var outcome = ConnectionIntake.Reader.Peeked.nothingNew
        while true {
            let peeked = reader.peek(fd, into: &entry.framing, fromStart: !entry.peekOffset)
            guard case .progress(.incomplete) = peeked, entry.peekOffset else {
                outcome = peeked
                break
            }
        }
        switch outcome {
        case .nothingNew, .progress(.incomplete):
            // Unless it was put out meanwhile (then it is closed with the evicted).
            pending.withLock { room in
                if room.table[fd]?.seq == entry.seq { room.table[fd] = entry }
            }
            return
        default: break
        }
        guard pending.withLock({ $0.remove(fd, seq: entry.seq) }) else { return }
        _ = durin_epoll_remove(epollFD, fd)
        switch outcome {
        case .progress(.complete): enqueue(Connection(fd: fd, deadline: entry.deadline, bodyStreams: false))
        case .progress(.bodyStreaming): enqueue(Connection(fd: fd, deadline: entry.deadline, bodyStreams: true))
        case .progress(.refused(let why)): drop(fd, refused: why)
        default: drop(fd, abandoned: true)
        }
    }

    private func enqueue(_ connection: Connection) {
        ready.withLock { $0.append(connection) }
        readyCount.add(1, ordering: .relaxed)
        readySignal.signal()
    }

    /// Closes every watched connection past its deadline.
    private func expire() {
        let now = ContinuousClock.now
        let late = pending.withLock { room -> [Int32] in
            let late = room.table.filter { $0.value.deadline <= now }.map(\.key)
            for fd in late { room.table.removeValue(forKey: fd) }
            return late
        }
        for fd in late { drop(fd, timedOut: true) }
    }

    /// Closes the connections put out to make room (`WaitingRoom.admit`). On the
    /// watcher's thread, like `advance`: none is closed under a peek.
    private func closeEvicted() {
        let evicted = pending.withLock { room -> [Int32] in
            defer { room.evicted.removeAll() }
            return room.evicted
        }
        for fd in evicted {
            _ = durin_epoll_remove(epollFD, fd)
            drop(fd, timedOut: true)
        }
    }

    /// Counts the connection, then closes it: a peer that sees the close and asks for
    /// the metrics at once (a monitor, a test) finds it counted.
    private func drop(_ fd: Int32, refused: RequestFraming.Refusal? = nil, abandoned: Bool = false, timedOut: Bool = false) {
        counts.withLock { c in
            if let refused { c.refused[refused, default: 0] += 1 }
            if abandoned { c.abandoned += 1 }
            if timedOut { c.timedOut += 1 }
        }
        close(fd)  // also leaves the epoll set
    }
}
