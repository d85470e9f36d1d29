/// Every connection the responder lets wait, who holds each, and what each has proved.
///
/// A connection whose request is whole at its accept and that is not kept never
/// comes here: the thread that accepted it serves and closes it. Every other one is
/// admitted the first time it must wait (its request still arriving, or kept for
/// the next one), and is then held either by the epoll set (it waits for bytes) or
/// by exactly one thread (peeking at it, serving its request, or a hasher answering
/// a login).
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

        init(seq: UInt32, holder: Holder, deadline: Instant, served: Int = 0) {
            self.seq = seq
            self.holder = holder
            self.deadline = deadline
            self.served = served
        }
    }

    package let unprovenLimit: Int
    package let requestTimeout: Duration
    package let keptIdleLimit: Duration

    /// By descriptor number: the kernel gives out the lowest free numbers, so this
    /// stays as long as the most connections open at once, and a lookup is an index.
    private var slots: [Entry?] = []
    package private(set) var count = 0
    package private(set) var provenCount = 0
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

    package func entry(_ fd: Int32, seq: UInt32) -> Entry? {
        guard let entry = self[fd], entry.seq == seq else { return nil }
        return entry
    }

    /// The entry under a descriptor number, whatever its admission.
    package subscript(fd: Int32) -> Entry? {
        get { Int(fd) < slots.count && fd >= 0 ? slots[Int(fd)] : nil }
        set {
            let i = Int(fd)
            if i >= slots.count { slots.append(contentsOf: repeatElement(nil, count: i + 1 - slots.count)) }
            let old = slots[i]
            count += (newValue == nil ? 0 : 1) - (old == nil ? 0 : 1)
            provenCount += (newValue?.proven == true ? 1 : 0) - (old?.proven == true ? 1 : 0)
            slots[i] = newValue
        }
    }

    /// Every entry, with its descriptor.
    private var all: [(fd: Int32, entry: Entry)] {
        slots.indices.compactMap { i in slots[i].map { (Int32(i), $0) } }
    }

    // MARK: Arrivals

    /// Takes in a connection that must wait, held by its thread until `wait`: a new
    /// one whose request has not arrived whole (`deadline`: its accept's, plus the
    /// request timeout; `served` 0), or one kept after its first answer (`served` 1:
    /// its request carried the proxy key). Its thread then adds it to the epoll set.
    package mutating func admit(_ fd: Int32, deadline: Instant, served: Int) -> Entry {
        // An entry left under this number belonged to a descriptor libfcgi closed
        // (a failed write) before its thread let go: that thread's release will not
        // find it, and it leaves nothing behind.
        if let stale = self[fd], stale.inRoom { unprovenWaiting -= 1 }
        var entry = Entry(seq: nextSeq, holder: .thread, deadline: deadline, served: served)
        entry.proven = served > 0
        nextSeq = nextSeq == .max ? 1 : nextSeq + 1
        self[fd] = entry
        return entry
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
        guard var entry = self[fd], entry.seq == seq else { return .gone }
        guard entry.holder == .epoll else {
            entry.woken = true
            self[fd] = entry
            return .busy
        }
        entry.holder = .thread
        leaveRoom(&entry)
        self[fd] = entry
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
    /// goes back to the epoll set, which it must already be in. What has arrived is
    /// in `framing`; a kept connection's request begun now is due from now.
    package mutating func wait(
        _ fd: Int32, seq: UInt32, framing: RequestFraming, peekOffset: Bool, now: Instant
    ) -> Wait {
        guard var entry = self[fd], entry.seq == seq else { return .gone }
        if entry.served > 0 && entry.framing.consumed == 0 && framing.consumed > 0 { entry.deadline = now + requestTimeout }
        entry.framing = framing
        entry.peekOffset = peekOffset
        if entry.woken {
            entry.woken = false
            self[fd] = entry
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
        self[fd] = entry
        return .waiting(firstWait: firstWait)
    }

    /// Puts out the oldest unproven connections waiting until at most `unprovenLimit`
    /// wait; returns those to close.
    package mutating func makeRoom() -> [Int32] {
        var out: [Int32] = []
        while unprovenWaiting > unprovenLimit && head < room.count {
            let oldest = room[head]
            head += 1
            guard let entry = self[oldest.fd], entry.seq == oldest.seq, entry.inRoom else { continue }
            unprovenWaiting -= 1
            self[oldest.fd] = nil
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

    /// Its request was answered, and it is kept for the next one (the peer asked for
    /// it, FCGI_KEEP_CONN, and the request carried the proxy key): back to the epoll
    /// set, idle for up to `keptIdleLimit`.
    package mutating func kept(_ fd: Int32, seq: UInt32, now: Instant) -> Wait {
        guard var entry = self[fd], entry.seq == seq else { return .gone }
        leaveRoom(&entry)
        entry.proven = true
        entry.served += 1
        entry.framing = RequestFraming()
        entry.waitCounted = false
        entry.deadline = now + keptIdleLimit
        self[fd] = entry
        return wait(fd, seq: seq, framing: entry.framing, peekOffset: entry.peekOffset, now: now)
    }

    /// Forgets a connection its holder closes (refused, abandoned, or libfcgi's).
    @discardableResult
    package mutating func remove(_ fd: Int32, seq: UInt32) -> Bool {
        guard var entry = self[fd], entry.seq == seq else { return false }
        leaveRoom(&entry)
        self[fd] = nil
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
        for i in slots.indices {
            guard var entry = slots[i], entry.holder == .epoll, entry.deadline <= now else { continue }
            out.append((Int32(i), entry.isIdle ? .idle : .timedOut))
            leaveRoom(&entry)
            self[Int32(i)] = nil
        }
        return out
    }

    /// The kept connections idle in the epoll set, taken over by the caller (at a
    /// stop, to close those whose next request has not begun).
    package mutating func claimIdle() -> [(fd: Int32, entry: Entry)] {
        var out: [(fd: Int32, entry: Entry)] = []
        for (fd, var entry) in all where entry.holder == .epoll && entry.isIdle {
            entry.holder = .thread
            self[fd] = entry
            out.append((fd, entry))
        }
        return out
    }

    /// Takes out everything the epoll set holds (the end of a stop's grace).
    package mutating func takeWaiting() -> [Int32] {
        let out = all.filter { $0.entry.holder == .epoll }.map(\.fd)
        for fd in out {
            var entry = self[fd]!
            leaveRoom(&entry)
            self[fd] = nil
        }
        return out
    }

    /// Nothing waits in the epoll set (threads may still hold connections).
    package var noneWaiting: Bool { !slots.contains { $0?.holder == .epoll } }
}
