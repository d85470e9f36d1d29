import Dispatch
import Synchronization

/// Keeps password hashing from starving token verification.
///
/// PBKDF2 at a million iterations costs ~0.1 s of CPU. At most `hashers` hashes run
/// at once (one per core), and at most `admitted` requests may be inside login at
/// all (hashing or waiting for a core); further logins are refused at once with 503,
/// so the remaining worker threads always stay free for verify/ and the other routes.
public final class PasswordGate: Sendable {
    private let cores: DispatchSemaphore
    private let inside = Mutex(0)
    private let admitted: Int

    public init(hashers: Int, admitted: Int) {
        cores = DispatchSemaphore(value: max(1, hashers))
        self.admitted = max(1, admitted)
    }

    /// Runs `work` on this thread when admitted; nil when too many logins are in progress.
    public func run<T>(_ work: () -> T) -> T? {
        let entered = inside.withLock { n -> Bool in
            guard n < admitted else { return false }
            n += 1
            return true
        }
        guard entered else { return nil }
        defer { inside.withLock { $0 -= 1 } }
        cores.wait()
        defer { cores.signal() }
        return work()
    }
}
