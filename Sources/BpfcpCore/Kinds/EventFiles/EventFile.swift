/// One eventfd, timerfd, signalfd or pidfd. Fields that do not apply to the
/// file's type are nil.
public struct EventFile: Codable, Sendable, Equatable {
    public var fd: Int32
    /// "eventfd", "timerfd", "signalfd" or "pidfd".
    public var type: String
    /// Creation and status flags by name (EFD_SEMAPHORE, EFD_NONBLOCK, TFD_NONBLOCK, PIDFD_THREAD...).
    public var flags: [String]
    public var closeOnExec: Bool

    /// eventfd counter.
    public var count: UInt64?
    public var eventfdId: Int32?

    /// timerfd clock by name ("CLOCK_MONOTONIC").
    public var clock: String?
    /// timerfd period in nanoseconds, 0 for a one-shot timer.
    public var intervalNs: Int64?
    /// Nanoseconds until the next expiry; 0 when due or overdue, nil when the timer is disarmed.
    public var nextExpiryNs: Int64?
    /// Whether the timerfd is armed. Nil for other types, and for a timerfd
    /// whose source cannot tell: fdinfo of a periodic timer that reads zero
    /// with no expirations pending.
    public var armed: Bool?
    /// Expirations not yet read.
    public var ticks: UInt64?
    public var settimeFlags: [String]?

    /// signalfd mask by signal name.
    public var signals: [String]?

    /// pidfd target pid, -1 once the target was reaped.
    public var targetPid: Int32?
}

/// Names of the constants event files carry.
enum EventNames {
    static func clock(_ id: Int32) -> String {
        let names: [Int32: String] = [
            0: "CLOCK_REALTIME", 1: "CLOCK_MONOTONIC", 7: "CLOCK_BOOTTIME",
            8: "CLOCK_REALTIME_ALARM", 9: "CLOCK_BOOTTIME_ALARM",
        ]
        return names[id] ?? "clock \(id)"
    }

    static func settimeFlags(_ flags: UInt32) -> [String] {
        var names: [String] = []
        if flags & 1 != 0 { names.append("TFD_TIMER_ABSTIME") }
        if flags & 2 != 0 { names.append("TFD_TIMER_CANCEL_ON_SET") }
        if flags & ~3 != 0 { names.append(Format.octal(flags & ~3)) }
        return names
    }

    /// Flags by the names of the call that created the file; O_NONBLOCK comes from
    /// the file's status flags because fcntl(F_SETFL) can change it later.
    static func flags(type: String, fileFlags: UInt32, semaphore: Bool) -> [String] {
        let nonblock = fileFlags & 0o4000 != 0
        switch type {
        case "eventfd":
            return (semaphore ? ["EFD_SEMAPHORE"] : []) + (nonblock ? ["EFD_NONBLOCK"] : [])
        case "timerfd":
            return nonblock ? ["TFD_NONBLOCK"] : []
        case "signalfd":
            return nonblock ? ["SFD_NONBLOCK"] : []
        default:
            return (nonblock ? ["PIDFD_NONBLOCK"] : []) + (fileFlags & 0o200 != 0 ? ["PIDFD_THREAD"] : [])
        }
    }

    /// Formats nanoseconds for display: exact multiples in the largest unit
    /// that divides them ("1 s", "250 ms"), anything else with three decimals
    /// in the largest unit below it ("807.618 ms"). JSON keeps the nanoseconds.
    static func duration(_ ns: Int64) -> String {
        if ns == 0 { return "0" }
        let units: [(scale: Int64, name: String)] = [(1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "µs")]
        if let exact = units.first(where: { ns % $0.scale == 0 }) { return "\(ns / exact.scale) \(exact.name)" }
        guard let unit = units.first(where: { ns.magnitude >= $0.scale.magnitude }) else { return "\(ns) ns" }
        return String(format: "%.3f", Double(ns) / Double(unit.scale)) + " " + unit.name
    }

    /// Reverses `duration(_:)`: nanoseconds from "0", "1800 s" or "3599.988 s",
    /// nil for other text. A rounded value gives the nearest nanosecond count.
    static func nanoseconds(_ text: String) -> Double? {
        if text == "0" { return 0 }
        let parts = text.split(separator: " ")
        let scales: [Substring: Double] = ["s": 1e9, "ms": 1e6, "µs": 1e3, "ns": 1]
        guard parts.count == 2, let value = Double(parts[0]), let scale = scales[parts[1]] else { return nil }
        return value * scale
    }
}
