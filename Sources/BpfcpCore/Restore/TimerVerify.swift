import Foundation

/// Reasons for the verify differences that the timers restore armed cause.
/// Time runs on, so a timer has less time left, or for a periodic timer at
/// most one interval. The overrun count starts again from zero. A timer
/// that expired between arming and verification has queued its signal,
/// which waits, blocked, until the process runs, and the timer waits for
/// that signal to be taken.
struct TimerDifferences {
    let timers: TimersPlan
    /// Siginfos queued in the restored process by timers that restore armed.
    let expired: [QueuedSignal]

    static let expiredReason = "a timer restore armed expired before verification, and its signal waits until the process runs"

    init(timers: TimersPlan, after: Dump) {
        self.timers = timers
        let armedIds = Set(timers.posix.filter { $0.valueNs != 0 }.map { "\($0.id)" })
        let realArmed = timers.interval.contains { $0.which == 0 && $0.valueNs != 0 }
        let items = after.sections.first { $0.kind == PendingSignalsKind.name }?.items ?? []
        let queued = items.compactMap { try? $0.decode(as: QueuedSignal.self) }
        expired = queued.filter { signal in
            if signal.code == "SI_TIMER" { return Self.timerId(signal).map(armedIds.contains) ?? false }
            // ITIMER_REAL sends SIGALRM as the kernel, with SI_KERNEL.
            return realArmed && signal.signal == "SIGALRM" && signal.code == "SI_KERNEL"
        }
    }

    /// Returns why a field of entry `key` in `kind` differs, when the timers explain it.
    func reason(kind: String, key: String, field: FieldChange) -> String? {
        switch (kind, field.name) {
        case ("timers", "overrun"):
            return "the kernel counts the overruns of a new timer from zero"
        case ("timers", "remaining"):
            if expiredTimers.contains(key) && field.after == "-" { return Self.expiredReason }
            return remainingReason(key: key, field: field)
        case ("timers", "armed"):
            return expiredTimers.contains(key) && field.after == "no" ? Self.expiredReason : nil
        case ("signals", "pending"):
            return expired.contains { "signal \($0.signal)" == key } ? Self.expiredReason : nil
        case ("sigthreads", "pending"):
            return expired.contains { $0.tid.map { "thread \($0)" } == key } ? Self.expiredReason : nil
        default:
            return nil
        }
    }

    /// Returns why the sigqueue entry `key` is new, when an expired timer queued it.
    func reason(kind: String, added key: String) -> String? {
        guard kind == PendingSignalsKind.name, expired.contains(where: { PendingSignalsKind.entry($0).key == key }) else { return nil }
        return Self.expiredReason
    }

    private func remainingReason(key: String, field: FieldChange) -> String? {
        guard let before = EventNames.nanoseconds(field.before), let after = EventNames.nanoseconds(field.after) else { return nil }
        if after <= before { return "restore armed the timer with the time it had left, and it ran on until verification" }
        let interval = Double(timers.intervalNs(key: key) ?? 0)
        return after <= interval ? "the periodic timer expired after restore and started its next interval" : nil
    }

    /// Keys of the timers entries ("posix timer 3", "ITIMER_REAL") whose signal is in `expired`.
    private var expiredTimers: Set<String> {
        Set(expired.map { signal in Self.timerId(signal).map { "posix timer \($0)" } ?? "ITIMER_REAL" })
    }

    private static func timerId(_ signal: QueuedSignal) -> String? {
        signal.details.first { $0.name == "timer id" }?.value
    }
}
