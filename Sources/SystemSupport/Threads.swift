import CSystem
import Glibc

/// Thread settings the responder's threads need.
package enum Threads {
    /// Names the calling thread (shown by `top -H`, `ps -L`).
    package static func name(_ name: String) {
        _ = pthread_setname_np(pthread_self(), String(name.prefix(15)))
    }

    /// What `lowerPriority` achieved.
    package enum Priority: Equatable, Sendable {
        case idle
        case nice19
        /// Both calls were refused (errno), e.g. by a seccomp filter: normal priority.
        case refused(errno: Int32)
    }

    /// Gives the calling thread the lowest CPU priority (SCHED_IDLE, else nice 19):
    /// every normal thread runs first.
    @discardableResult
    package static func lowerPriority() -> Priority {
        let r = durin_make_thread_idle_priority()
        switch r {
        case 0: return .idle
        case 1: return .nice19
        default: return .refused(errno: -r)
        }
    }
}
