import Glibc

/// The wall clock in epoch milliseconds (not the standard library's `Clock`, which
/// measures durations: expiry is wall-clock time, as Redis's is).
package enum WallClock {
    /// Wall-clock time, which is also what Redis key expiry follows.
    package static func nowMillis() -> EpochMillis {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return EpochMillis(ts.tv_sec) * 1000 + EpochMillis(ts.tv_nsec) / 1_000_000
    }
}

/// Where a component reads the time: the system's wall clock in service, one a test
/// moves (an idle timeout passes without sleeping through it).
package protocol WallTime: Sendable {
    func nowMillis() -> EpochMillis
}

/// The system's wall clock (`WallClock`).
package struct SystemWallTime: WallTime {
    package init() {}
    package func nowMillis() -> EpochMillis { WallClock.nowMillis() }
}

extension WallTime where Self == SystemWallTime {
    /// The system's wall clock.
    package static var system: SystemWallTime { SystemWallTime() }
}
