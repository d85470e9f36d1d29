/// Every connection the responder has accepted and not closed, who holds each, and
/// what each has proved.
///
/// A connection is held either by the epoll set (it waits for bytes: its first
/// request, the rest of a request, or a kept connection's next one) or by exactly
/// one thread (peeking at it, serving its request, or a hasher answering a login).
/// Only its holder touches its descriptor; the watcher closes only what the epoll
/// set holds. A descriptor number is reused once closed, so each admission gets a
/// number (`seq`) that every event and every hand-over names: whatever names an
/// older one is ignored.
///
/// Two budgets, so that peers without nginx's key cannot crowd out nginx:
/// - **Unproven** connections (none of their requests has carried the proxy key yet)
///   that wait for their request: at most `unprovenLimit`. Past it the oldest one
///   waiting is put out, never the newcomer, never one a thread holds, and never a
///   proven one. Each has `requestTimeout` from its accept to send its request whole.
/// - **Proven** connections (the last request carried the key: nginx's) are kept
///   between requests when their peer asks for it (FCGI_KEEP_CONN), up to
///   `keptIdleLimit` idle, and are never put out to make room.
///
/// Pure bookkeeping, without a system call: `ConnectionIntake` makes the calls this
/// decides on, under one lock, and the decisions are tested without sockets.
package struct ConnectionTable {
    package typealias Instant = ContinuousClock.Instant

    package enum Holder: Equatable, Sendable { case epoll, thread }

    package struct Entry: Sendable {
        package let seq: UInt32
        package var holder: Holder
        /// The last request it carried held the proxy key.
        package var proven = false
        /// Requests answered on it.
        package var served = 0
        /// In the epoll set (added at its first wait, left there until it is closed).
        package var registered = false
        /// What has arrived of the request it waits for.
        package var framing = RequestFraming()
        /// SO_PEEK_OFF is on: each peek starts where the last ended.
        package var peekOffset = false
        /// When it is closed if it is still waiting: its request's deadline, or, idle
        /// between two requests, the end of its idle time.
        package var deadline: Instant
        /// Bytes arrived while a thread held it: that thread looks again before it
        /// lets go, since the epoll set reported them to no one who could act.
        var woken = false
        /// Counted among the unproven waiting (`unprovenWaiting`): only ever while the
        /// epoll set holds it, so what is put out to make room is never under a thread.
        var inRoom = false
        /// This request has been counted as waited for.
        var waitCounted = false

        /// Idle between two requests: nothing of the next one has arrived.
        package var isIdle: Bool { served > 0 && framing.consumed == 0 }
    }

    package let unprovenLimit: Int
    package let requestTimeout: Duration
    package let keptIdleLimit: Duration

    package private(set) var entries: [Int32: Entry] = [:]
    /// Unproven connections waiting in the epoll set, oldest first from `head`;
    /// entries that left (or whose descriptor was reused: another seq) are skipped.
    private var room: [(fd: Int32, seq: UInt32)] = []
    private var head = 0
    package private(set) var unprovenWaiting = 0
    private var nextSeq: UInt32 = 1

    package init(unprovenLimit: Int, requestTimeout: Duration, keptIdleLimit: Duration) {
        precondition(unprovenLimit > 0)
        self.unprovenLimit = unprovenLimit
        self.requestTimeout = requestTimeout
        self.keptIdleLimit = keptIdleLimit
    }

    package var count: Int { entries.count }
    package var provenCount: Int { entries.values.reduce(0) { $0 + ($1.proven ? 1 : 0) } }

    package func entry(_ fd: Int32, seq: UInt32) -> Entry? {
        guard let entry = entries[fd], entry.seq == seq else { return nil }
        return entry
    }

    // MARK: Arrivals

    /// A connection just accepted, held by the thread that accepted it. Its request
    /// is due `requestTimeout` from now.
    package mutating func accepted(_ fd: Int32, now: Instant) -> UInt32 {
        // An entry left under this number belonged to a descriptor libfcgi closed
        // (a failed write) before its thread let go: that thread's release will not
        // find it, and it leaves nothing behind.
        if let stale = entries.removeValue(forKey: fd), stale.inRoom { unprovenWaiting -= 1 }
        let seq = nextSeq
        nextSeq = nextSeq == .max ? 1 : nextSeq + 1
        entries[fd] = Entry(seq: seq, holder: .thread, deadline: now + requestTimeout)
        return seq
    }

    package enum Claim {
        /// The caller holds it now: peek at it.
        case held(Entry)
        /// Another thread holds it, and will look again before it lets go.
        case busy
        /// Closed since (or another connection under the same number).
        case gone
    }

    /// An epoll event for a connection: the caller takes it over, unless a thread
    /// holds it already.
    package mutating func claim(_ fd: Int32, seq: UInt32) -> Claim {
        guard var entry = entries[fd], entry.seq == seq else { return .gone }
        guard entry.holder == .epoll else {
            entry.woken = true
            entries[fd] = entry
            return .busy
        }
        entry.holder = .thread
        leaveRoom(&entry)
        entries[fd] = entry
        return .held(entry)
    }

    package enum Wait {
        /// In the epoll set's hands now. `firstWait`: the first time this request
        /// (or, new, this connection) waits: counted as waited for.
        case waiting(firstWait: Bool)
        /// Bytes came while the caller held it: the caller peeks again, still holding it.
        case lookAgain(Entry)
        case gone
    }

    /// The holder found the request incomplete (or, kept, not begun): the connection
    /// goes back to the epoll set, which it must already be registered with. What has
    /// arrived is in `framing`; a kept connection's request begun now is due from now.
    package mutating func wait(
        _ fd: Int32, seq: UInt32, framing: RequestFraming, peekOffset: Bool, now: Instant
    ) -> Wait {
        guard var entry = entries[fd], entry.seq == seq else { return .gone }
        if entry.served > 0 && entry.framing.consumed == 0 && framing.consumed > 0 { entry.deadline = now + requestTimeout }
        entry.framing = framing
        entry.peekOffset = peekOffset
        entry.registered = true
        if entry.woken {
            entry.woken = false
            entries[fd] = entry
            return .lookAgain(entry)
        }
        entry.holder = .epoll
        if !entry.proven && !entry.inRoom {
            entry.inRoom = true
            unprovenWaiting += 1
            room.append((fd, seq))
        }
        // A kept connection idle between two requests is not waiting for anything.
        let firstWait = !entry.waitCounted && (entry.served == 0 || framing.consumed > 0)
        if firstWait { entry.waitCounted = true }
        entries[fd] = entry
        return .waiting(firstWait: firstWait)
    }

    /// Puts out the oldest unproven connections waiting until at most `unprovenLimit`
    /// wait; returns those to close.
    package mutating func makeRoom() -> [Int32] {
        var out: [Int32] = []
        while unprovenWaiting > unprovenLimit && head < room.count {
            let oldest = room[head]
            head += 1
            guard let entry = entries[oldest.fd], entry.seq == oldest.seq, entry.inRoom else { continue }
            unprovenWaiting -= 1
            entries.removeValue(forKey: oldest.fd)
            out.append(oldest.fd)
        }
        // Skipped places are dropped once they are half the queue.
        if head > 1024 && head * 2 > room.count {
            room.removeFirst(head)
            head = 0
        }
        return out
    }

    private mutating func leaveRoom(_ entry: inout Entry) {
        guard entry.inRoom else { return }
        entry.inRoom = false
        unprovenWaiting -= 1
    }

    // MARK: Answers

    package enum Release {
        /// Kept: the caller hands it to the epoll set (`wait`) for its next request.
        case keep(Entry)
        /// The caller closes it.
        case close
        /// libfcgi closed it, or it was taken from the table: nothing to do.
        case gone
    }

    /// Its request was answered. `keep`: the peer asked for the connection to stay
    /// open, its request carried the proxy key, and libfcgi left it open.
    package mutating func answered(_ fd: Int32, seq: UInt32, keep: Bool, now: Instant) -> Release {
        guard var entry = entries[fd], entry.seq == seq else { return .gone }
        guard keep else {
            entries.removeValue(forKey: fd)
            return .close
        }
        leaveRoom(&entry)
        entry.proven = true
        entry.served += 1
        entry.framing = RequestFraming()
        entry.waitCounted = false
        entry.deadline = now + keptIdleLimit
        entries[fd] = entry
        return .keep(entry)
    }

    /// Forgets a connection its holder closes (refused, abandoned, or libfcgi's).
    @discardableResult
    package mutating func remove(_ fd: Int32, seq: UInt32) -> Bool {
        guard var entry = entries[fd], entry.seq == seq else { return false }
        leaveRoom(&entry)
        entries.removeValue(forKey: fd)
        return true
    }

    // MARK: The watcher

    package enum Expiry: Equatable {
        /// Its request did not arrive whole in time.
        case timedOut
        /// Kept, and idle past `keptIdleLimit`.
        case idle
    }

    /// Takes out every connection the epoll set holds past its deadline; the caller
    /// closes them.
    package mutating func expire(now: Instant) -> [(fd: Int32, why: Expiry)] {
        var out: [(fd: Int32, why: Expiry)] = []
        for (fd, entry) in entries where entry.holder == .epoll && entry.deadline <= now {
            out.append((fd, entry.isIdle ? .idle : .timedOut))
        }
        for (fd, _) in out {
            var entry = entries[fd]!
            leaveRoom(&entry)
            entries.removeValue(forKey: fd)
        }
        return out
    }

    /// The kept connections idle in the epoll set, taken over by the caller (at a
    /// stop, to close those whose next request has not begun).
    package mutating func claimIdle() -> [(fd: Int32, entry: Entry)] {
        var out: [(fd: Int32, entry: Entry)] = []
        for (fd, var entry) in entries where entry.holder == .epoll && entry.isIdle {
            entry.holder = .thread
            entries[fd] = entry
            out.append((fd, entry))
        }
        return out
    }

    /// Takes out everything the epoll set holds (the end of a stop's grace).
    package mutating func takeWaiting() -> [Int32] {
        let out = entries.filter { $0.value.holder == .epoll }.map(\.key)
        for fd in out {
            var entry = entries[fd]!
            leaveRoom(&entry)
            entries.removeValue(forKey: fd)
        }
        return out
    }

    /// Nothing waits in the epoll set (threads may still hold connections).
    package var noneWaiting: Bool { !entries.values.contains { $0.holder == .epoll } }
}
