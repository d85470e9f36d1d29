import Glibc

/// The wall clock in epoch milliseconds (not the standard library's `Clock`, which
/// measures durations: expiry is wall-clock time, as Redis's is).
public enum WallClock {
    /// Wall-clock time, which is also what Redis key expiry follows.
    public static func nowMillis() -> EpochMillis {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return EpochMillis(ts.tv_sec) * 1000 + EpochMillis(ts.tv_nsec) / 1_000_000
    }
}
