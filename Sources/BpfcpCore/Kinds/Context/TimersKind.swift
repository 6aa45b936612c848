import CBpfcpShim
import Foundation

/// An interval timer (setitimer) or a POSIX timer (timer_create).
public struct TimerInfo: Codable, Sendable, Equatable {
    /// "ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF" or "posix timer N".
    public var name: String
    /// POSIX timer id; nil for interval timers.
    public var id: Int32?
    public var clock: String
    public var armed: Bool
    /// Time left until expiry in ns, for armed timers on a wall or monotonic clock.
    public var remainingNs: UInt64?
    /// CPU time of the process (or thread) at which a CPU-clock timer expires, in ns.
    public var expiresCpuNs: UInt64?
    public var intervalNs: UInt64
    public var signal: String?
    /// SIGEV_* by name; nil for interval timers.
    public var notify: String?
    /// Thread or process the signal goes to.
    public var targetPid: Int32?
    /// sigev_value in hex.
    public var value: String?
    public var overrun: Int64?
}

/// Interval timers and POSIX timers (signal->real_timer, it[] and posix_timers through iter/task).
public enum TimersKind: ResourceKind {
    public static let name = "timers"
    public static let title = "Timers"
    public static let columns = [
        Column("TIMER", width: 16), Column("CLOCK", width: 24), Column("ARMED", width: 6),
        Column("REMAINING", width: 12, alignRight: true), Column("INTERVAL", width: 12, alignRight: true),
        Column("SIGNAL", width: 12), Column("NOTIFY", width: 20),
    ]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [TimerInfo] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid)
        case .proc: try collectProc(pid: target.pid)
        }
    }

    public static func collectBPF(pid: Int32) throws -> [TimerInfo] {
        let snapshot = try ContextSnapshot.collect(pid: pid)
        return intervalTimers(snapshot.rec) + snapshot.timers.sorted { $0.id < $1.id }.map(posixTimer)
    }

    /// Nanoseconds left until `expires` on `clock`, read now in user space.
    static func remaining(expires: UInt64, clock: Int32) -> UInt64 {
        var now = timespec()
        clock_gettime(clockid_t(clock), &now)
        let nowNs = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
        return expires > nowNs ? expires - nowNs : 0
    }

    static func intervalTimers(_ rec: bpfcp_context) -> [TimerInfo] {
        let realArmed = rec.real_timer_state & 1 != 0
        let real = TimerInfo(
            name: "ITIMER_REAL", id: nil, clock: ContextNames.clock(rec.real_timer_clock), armed: realArmed,
            remainingNs: realArmed ? remaining(expires: rec.real_timer_expires, clock: rec.real_timer_clock) : nil,
            expiresCpuNs: nil, intervalNs: rec.real_timer_interval, signal: "SIGALRM", notify: nil, targetPid: rec.tgid,
            value: nil, overrun: nil
        )
        let cpu = { (name: String, signal: String, expires: UInt64, interval: UInt64) in
            TimerInfo(name: name, id: nil, clock: "process CPU time", armed: expires != 0, remainingNs: nil,
                      expiresCpuNs: expires != 0 ? expires : nil, intervalNs: interval, signal: signal, notify: nil,
                      targetPid: rec.tgid, value: nil, overrun: nil)
        }
        return [real, cpu("ITIMER_VIRTUAL", "SIGVTALRM", rec.virt_expires, rec.virt_interval),
                cpu("ITIMER_PROF", "SIGPROF", rec.prof_expires, rec.prof_interval)]
    }

    static func posixTimer(_ t: bpfcp_posix_timer) -> TimerInfo {
        // CPU-time timers keep it_status disarmed and mark arming by a non-zero expiry.
        let cpuClock = t.base_clock < 0
        let sigevNone = t.notify & 0x3 == 1
        var armed = cpuClock ? t.expires != 0 : t.status == 1
        var remainingNs: UInt64? = armed && !cpuClock ? remaining(expires: t.expires, clock: t.base_clock) : nil
        if sigevNone && !cpuClock {
            remainingNs = sigevNoneRemaining(expires: t.expires, interval: t.interval, clock: t.base_clock)
            armed = remainingNs != nil
        }
        return TimerInfo(
            name: "posix timer \(t.id)", id: t.id, clock: ContextNames.clock(t.clock), armed: armed,
            remainingNs: remainingNs,
            expiresCpuNs: armed && cpuClock ? t.expires : nil, intervalNs: t.interval,
            signal: t.notify & 0x3 == 1 ? nil : SignalName.name(t.signo), notify: ContextNames.sigevNotify(t.notify),
            targetPid: t.target_tid, value: Format.hex(t.sigval), overrun: t.overrun
        )
    }

    /// Returns the time left of a SIGEV_NONE timer on a wall or monotonic
    /// clock, as timer_gettime() reports it, or nil when it is disarmed or
    /// expired. The kernel never queues such a timer, so it_status stays
    /// disarmed even while it runs, and a periodic one only moves its expiry
    /// forward when it is read.
    static func sigevNoneRemaining(expires: UInt64, interval: UInt64, clock: Int32) -> UInt64? {
        guard expires != 0 else { return nil }
        var now = timespec()
        clock_gettime(clockid_t(clock), &now)
        let nowNs = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
        if expires > nowNs { return expires - nowNs }
        guard interval != 0 else { return nil }
        return interval - (nowNs - expires) % interval
    }

    /// Parses /proc/PID/timers, which lists POSIX timers with their id, signal,
    /// notification and clock, but no times. Interval timers are not in /proc.
    public static func collectProc(pid: Int32) throws -> [TimerInfo] {
        let text = try ProcFS.readText("/proc/\(pid)/timers")
        var blocks: [[String: String]] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("ID:") { blocks.append([:]) }
            guard !blocks.isEmpty else { continue }
            blocks[blocks.count - 1].merge(ProcFS.keyValues(String(line))) { _, new in new }
        }
        let timers = blocks.map(procTimer)
        return timers.sorted { ($0.id ?? 0) < ($1.id ?? 0) }
    }

    /// Builds a timer from one /proc/PID/timers block: "signal: 34/<sigval hex>",
    /// "notify: signal/pid.N" or "thread/tid.N", "ClockID: N".
    static func procTimer(_ fields: [String: String]) -> TimerInfo {
        let id = Int32(fields["ID"] ?? "") ?? 0
        let signal = (fields["signal"] ?? "").split(separator: "/")
        let notify = (fields["notify"] ?? "").split(separator: "/")
        let kind = notify.first.map(String.init) ?? ""
        let notifyName = ["signal": "SIGEV_SIGNAL", "none": "SIGEV_NONE", "thread": "SIGEV_THREAD_ID"][kind] ?? kind
        let target = notify.count > 1 ? Int32(notify[1].split(separator: ".").last ?? "") : nil
        return TimerInfo(
            name: "posix timer \(id)", id: id, clock: ContextNames.clock(Int32(fields["ClockID"] ?? "") ?? 0),
            armed: false, remainingNs: nil, expiresCpuNs: nil, intervalNs: 0,
            signal: kind == "none" ? nil : signal.first.flatMap { Int32($0) }.map(SignalName.name),
            notify: notifyName, targetPid: target,
            value: signal.count > 1 ? Format.hex(UInt64(signal[1], radix: 16) ?? 0) : nil, overrun: nil
        )
    }

    public static func entry(_ t: TimerInfo) -> Entry {
        let remaining = t.remainingNs.map(Format.milliseconds) ?? t.expiresCpuNs.map { "at cpu " + Format.milliseconds($0) } ?? "-"
        let interval = t.intervalNs == 0 ? "none" : Format.milliseconds(t.intervalNs)
        var fields = [
            Field("timer", t.name), Field("clock", t.clock), Field("armed", t.armed ? "yes" : "no"),
            Field("remaining", remaining), Field("interval", interval), Field("signal", t.signal ?? "none"),
        ]
        if let notify = t.notify { fields.append(Field("notify", notify)) }
        if let target = t.targetPid { fields.append(Field("target", "\(target)")) }
        if let value = t.value { fields.append(Field("sigev value", value)) }
        if let overrun = t.overrun { fields.append(Field("overrun", "\(overrun)")) }
        return Entry(key: t.name, cells: [t.name, t.clock, t.armed ? "yes" : "no", remaining, interval,
                                          t.signal ?? "none", t.notify ?? "-"], fields: fields)
    }
}
