package import CSystem
import Glibc

/// The signal plumbing of a clean shutdown (libfcgi's own SIGTERM
/// handler does not wake threads blocked in accept()).
///
/// The main thread blocks SIGTERM/SIGINT before starting workers (so only it
/// receives them, via `waitForTermination`), and workers blocked in accept() are
/// woken with SIGUSR1, whose handler is installed without SA_RESTART.
package enum ProcessSignals {
    package typealias ThreadID = pthread_t

    /// Call in the main thread before starting any worker.
    package static func prepare() {
        _ = durin_block_signals(SIGTERM, SIGINT)
        _ = durin_install_wakeup_handler(SIGUSR1)
        signal(SIGPIPE, SIG_IGN)  // a client gone mid-response must not kill the process
    }

    /// Blocks until SIGTERM or SIGINT; returns which.
    package static func waitForTermination() -> Int32 {
        while true {
            let sig = durin_wait_signals(SIGTERM, SIGINT)
            if sig > 0 { return sig }
        }
    }

    package static var currentThread: ThreadID { pthread_self() }

    /// Interrupts a blocking system call in `thread`.
    package static func wake(_ thread: ThreadID) { _ = pthread_kill(thread, SIGUSR1) }

    package static func name(_ sig: Int32) -> String { sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "signal \(sig)" }
}
