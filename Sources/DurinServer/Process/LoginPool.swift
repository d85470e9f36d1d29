import Dispatch
import DurinCore
import DurinHTTP
import FastCGI
import Foundation
import Logging
import Synchronization
import SystemSupport

/// Where password hashes run, so that they never hold a worker thread nor starve
/// token verification of CPU.
///
/// A worker admits a login (the per-address limit), then hands the whole FastCGI
/// request, body unparsed, here and goes back to accepting: parsing a hostile body
/// and hashing a password both happen on the hashers. They run at the lowest
/// CPU priority (SCHED_IDLE): verification always preempts hashing, and under a
/// CPU-saturating load logins wait for spare cycles. Waiting logins cost an open
/// connection and their body; past `capacity` of them, or `byteBudget` of bodies,
/// a login is refused at once with 503.
final class LoginPool: Sendable {
    /// A login in flight. Ownership of the FastCGI request moves from the worker
    /// that accepted it to the hasher that answers it; nothing else touches it.
    struct Job: @unchecked Sendable {
        let request: FastCGIRequest
        let login: LoginJob
    }

    /// Waiting jobs and the body bytes they hold.
    private let queue = Mutex<(jobs: [Job], bytes: Int)>(([], 0))
    /// Waiting logins carry their unparsed bodies (up to DURIN_MAX_BODY_BYTES each):
    /// past this many bytes in the queue, a login is refused like one past `capacity`.
    static let byteBudget = 64 << 20
    private let ready = DispatchSemaphore(value: 0)
    /// Queued plus being hashed: shutdown waits for this to reach zero.
    private let inFlight = Atomic(0)
    /// Set by the first hasher whose priority could not be lowered, so that is logged once.
    private let priorityWarned = Atomic(false)
    let capacity: Int
    let logger: Logger

    init(capacity: Int, logger: Logger) {
        self.capacity = capacity
        self.logger = logger
    }

    /// Queues a login; false when `capacity` logins are already waiting.
    func submit(_ job: Job) -> Bool {
        let size = job.login.request.body.count
        let accepted = queue.withLock { q -> Bool in
            guard q.jobs.count < capacity, q.bytes + size <= Self.byteBudget else { return false }
            q.jobs.append(job)
            q.bytes += size
            return true
        }
        if accepted {
            inFlight.add(1, ordering: .relaxed)
            unanswered.add(1, ordering: .relaxed)
            ready.signal()
        }
        return accepted
    }

    /// Queued plus being checked, until the answer is ready (the metrics gauge; it
    /// drops before the answer leaves, so a scrape right after a login sees it gone).
    private let unanswered = Atomic(0)

    var isIdle: Bool { inFlight.load(ordering: .relaxed) == 0 }
    /// Logins queued or being checked.
    var depth: Int { unanswered.load(ordering: .relaxed) }

    /// Runs one hasher: takes jobs in arrival order and finishes each login here:
    /// checks it, issues the token, counts and sends the answer (`api` is this
    /// thread's, with its own Redis connection and metrics slot), and gives the
    /// connection back to the intake.
    func runHasher(index: Int, api: API, intake: ConnectionIntake) {
        Threads.name("durin-hash\(index)")
        if case .refused(let code) = Threads.lowerPriority(),
            !priorityWarned.exchange(true, ordering: .relaxed)
        {
            // A sandbox (seccomp, no CAP_SYS_NICE for nice) may refuse both; hashing
            // still works, it just competes with verification at normal priority.
            logger.warning(
                "password hashers run at normal CPU priority: lowering it was refused",
                metadata: ["errno": "\(code)"])
        }
        let seat = ConnectionIntake.Seat(serves: false)
        while true {
            ready.wait()
            guard
                let job = queue.withLock({ q -> Job? in
                    guard !q.jobs.isEmpty else { return nil }
                    let job = q.jobs.removeFirst()
                    q.bytes -= job.login.request.body.count
                    return job
                })
            else { continue }
            // Checked, finished and counted there.
            let response = api.completeLogin(job.login)
            unanswered.subtract(1, ordering: .relaxed)
            job.request.respond(status: response.status, reason: response.reason, headers: response.headers, body: response.body)
            intake.finish(job.request, keep: true, seat: seat)
            inFlight.subtract(1, ordering: .relaxed)
        }
    }
}
