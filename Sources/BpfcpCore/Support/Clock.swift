import Foundation

/// Monotonic time in nanoseconds, for measuring how long collection takes.
public enum Clock {
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Nanoseconds since boot, including suspend, the clock of `start_boottime`.
    public static func boottime() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_BOOTTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    public static func measure<T>(_ body: () throws -> T) rethrows -> (T, UInt64) {
        let start = now()
        let value = try body()
        return (value, now() - start)
    }
}
