import Dispatch
import DurinCore
import FastCGI
import Foundation
import Logging
import Synchronization

/// Where password hashes run, so that they never hold a worker thread nor starve
/// token verification of CPU.
///
/// A worker parses and prechecks a login, then hands the whole FastCGI request
/// here and goes back to accepting. One hasher thread per core runs at the lowest
/// CPU priority (SCHED_IDLE): verification always preempts hashing, and under a
/// CPU-saturating load logins wait for spare cycles. Waiting
/// logins cost only an open connection; past `capacity` of them a login is
/// refused at once with 503.
final class LoginPool: Sendable {
    /// A login in flight. Ownership of the FastCGI request moves from the worker
    /// that accepted it to the hasher that answers it; nothing else touches it.
    struct Job: @unchecked Sendable {
        let request: FastCGIRequest
        let login: LoginJob
    }

    private let queue = Mutex<[Job]>([])
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
        let accepted = queue.withLock { q -> Bool in
            guard q.count < capacity else { return false }
            q.append(job)
            return true
        }
        if accepted {
            inFlight.add(1, ordering: .relaxed)
            ready.signal()
        }
        return accepted
    }

    var isIdle: Bool { inFlight.load(ordering: .relaxed) == 0 }
    /// Logins queued or being hashed.
    var depth: Int { inFlight.load(ordering: .relaxed) }

    /// Runs one hasher: takes jobs in arrival order, answers each with `complete`.
    func runHasher(index: Int, complete: (LoginJob) -> HTTPResponse) {
        Threads.name("durin-hash\(index)")
        if case .refused(let code) = Threads.lowerPriority(),
           !priorityWarned.exchange(true, ordering: .relaxed) {
            // A sandbox (seccomp, no CAP_SYS_NICE for nice) may refuse both; hashing
            // still works, it just competes with verification at normal priority.
            logger.warning("password hashers run at normal CPU priority: lowering it was refused",
                           metadata: ["errno": "\(code)"])
        }
        while true {
            ready.wait()
            guard let job = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { continue }
            let response = complete(job.login)
            job.request.respond(status: response.status, reason: response.reason, headers: response.headers, body: response.body)
            job.request.finish()
            inFlight.subtract(1, ordering: .relaxed)
        }
    }
}
