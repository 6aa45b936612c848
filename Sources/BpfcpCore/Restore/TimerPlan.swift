import CBpfcpShim
import Foundation

/// One POSIX timer to create with timer_create() under its saved id, and to
/// arm with timer_settime() relative to the time of restore.
struct PosixTimerPlan: Equatable {
    var id: Int32
    var clock: Int32
    /// SIGEV_SIGNAL (0), SIGEV_NONE (1) or SIGEV_THREAD_ID (4).
    var notify: Int32
    /// 0 for SIGEV_NONE.
    var signal: Int32
    /// sigev_value, the whole 8-byte union.
    var value: UInt64
    /// Image tid of the thread that SIGEV_THREAD_ID signals, or nil.
    var thread: Int32?
    /// Time left in ns. 0 leaves the timer disarmed.
    var valueNs: UInt64
    var intervalNs: UInt64
}

/// One setitimer() call: ITIMER_REAL (0), ITIMER_VIRTUAL (1) or ITIMER_PROF (2).
struct IntervalTimerPlan: Equatable {
    var which: Int32
    var name: String
    /// Time left in ns. 0 leaves the timer disarmed.
    var valueNs: UInt64
    var intervalNs: UInt64
}

/// The timers of an image. Restore creates the POSIX timers once every
/// thread exists, and arms every timer last, with all signals blocked.
struct TimersPlan {
    var posix: [PosixTimerPlan] = []
    var interval: [IntervalTimerPlan] = []

    /// Returns the interval of the timer named as in a timers entry key ("ITIMER_REAL", "posix timer 3").
    func intervalNs(key: String) -> UInt64? {
        if let timer = interval.first(where: { $0.name == key }) { return timer.intervalNs }
        return posix.first { "posix timer \($0.id)" == key }?.intervalNs
    }
}

/// Reads the timers of an image and rejects, naming the timer, what restore
/// cannot rebuild as it was.
enum TimerPlanner {
    /// Values of prctl(PR_TIMER_CREATE_RESTORE_IDS), which the installed
    /// headers predate. While it is on, timer_create() takes the id that its
    /// timer_t argument points at, and fails with EBUSY when that id is taken.
    static let prTimerCreateRestoreIds = 77, restoreIdsOff = 0, restoreIdsOn = 1, restoreIdsGet = 2
    /// Maximum number of POSIX timers a checkpoint records (BPFCP_TIMERS_MAX in procctx.bpf.c).
    static let maxRecorded = 256
    static let capWakeAlarm = 35

    /// Returns whether this kernel has PR_TIMER_CREATE_RESTORE_IDS. Older kernels reject the option with EINVAL.
    static func kernelRestoresIds() -> Bool {
        bpfcp_prctl(Int32(prTimerCreateRestoreIds), UInt(restoreIdsGet), 0, 0, 0) >= 0
    }

    static func plan(_ image: ProcessImage, restorer: RestorerLimits, restoresIds: () -> Bool = kernelRestoresIds) throws -> TimersPlan {
        let section = image.sections.first { $0.kind == "timers" }
        let timers = try image.items("timers", as: TimerInfo.self)
        let posix = timers.filter { $0.id != nil }
        if !posix.isEmpty {
            try checkPosixTimersCanComeBack(image, count: posix.count, source: section?.source, restoresIds: restoresIds)
        }
        var plan = TimersPlan()
        let threads = Set(image.threads.map(\.tid))
        for timer in posix {
            plan.posix.append(try posixTimer(timer, pid: image.pid, threads: threads, restorer: restorer))
        }
        let pendingAlarm = try pendingSignals(image).contains("SIGALRM")
        for timer in timers where timer.id == nil {
            if let setting = try intervalTimer(timer, pid: image.pid, alarmPending: pendingAlarm) { plan.interval.append(setting) }
        }
        return plan
    }

    private static func checkPosixTimersCanComeBack(_ image: ProcessImage, count: Int, source: CollectorSource?,
                                                    restoresIds: () -> Bool) throws {
        if source == .proc {
            throw ImagePlan.reject(image.pid, "its \(count) POSIX timers were read from /proc/PID/timers, which does not show their times; checkpoint it with eBPF")
        }
        if count >= maxRecorded {
            throw ImagePlan.reject(image.pid, "it has \(count) POSIX timers, the most a checkpoint records, so the image may lack some of them")
        }
        guard restoresIds() else {
            throw ImagePlan.reject(image.pid, "it has \(count) POSIX timers, and this kernel lacks prctl(PR_TIMER_CREATE_RESTORE_IDS), without which timer_create() cannot give a timer its saved id; restore it on a kernel that has this prctl")
        }
    }

    private static func posixTimer(_ timer: TimerInfo, pid: Int32, threads: Set<Int32>, restorer: RestorerLimits) throws -> PosixTimerPlan {
        let id = timer.id ?? 0
        let timerName = "its POSIX timer \(id) (\(Escape.text(timer.clock)))"
        let clock = try checkedClock(timer, timerName: timerName, pid: pid, restorer: restorer)
        if !timer.armed && timer.intervalNs != 0 {
            throw ImagePlan.reject(pid, "\(timerName) waits for its signal to be delivered or unignored before it rearms itself, a state timer_settime() cannot create")
        }
        let notify = try notifyNumber(timer, timerName: timerName, pid: pid)
        var plan = PosixTimerPlan(id: id, clock: clock, notify: notify, signal: 0, value: 0, thread: nil,
                                  valueNs: timer.armed ? max(timer.remainingNs ?? 0, 1) : 0, intervalNs: timer.intervalNs)
        plan.value = timer.value.flatMap(SignalPlan.parseHex) ?? 0

        if notify != sigevNone {
            guard let name = timer.signal, let signal = SignalName.number(name) else {
                throw ImagePlan.reject(pid, "\(timerName) has no valid signal (\(Escape.text(timer.signal ?? "none")))")
            }
            plan.signal = signal
        }
        if notify == sigevThreadId {
            guard let target = timer.targetPid, threads.contains(target) else {
                throw ImagePlan.reject(pid, "\(timerName) signals thread \(timer.targetPid.map(String.init) ?? "?"), which the image does not contain")
            }
            plan.thread = target
        }
        return plan
    }

    /// Returns the clock id of a timer, checked to be one restore can create the timer on and arm.
    private static func checkedClock(_ timer: TimerInfo, timerName: String, pid: Int32, restorer: RestorerLimits) throws -> Int32 {
        guard let clock = clockNumber(timer.clock) else {
            throw ImagePlan.reject(pid, "\(timerName) runs on a clock restore cannot create again (of the CPU clocks, only the process's own)")
        }
        if clock == processCPUClock && timer.armed {
            throw ImagePlan.reject(pid, "\(timerName) is armed, and the image records the CPU time at which it expires but not the CPU time the process had used, so the time left is unknown")
        }
        if [8, 9].contains(clock) && restorer.effective & (UInt64(1) << UInt64(capWakeAlarm)) == 0 {
            throw ImagePlan.reject(pid, "\(timerName) is an alarm timer, which needs CAP_WAKE_ALARM, and restore does not have it")
        }
        return clock
    }

    static let sigevSignal: Int32 = 0, sigevNone: Int32 = 1, sigevThreadId: Int32 = 4
    /// CLOCK_PROCESS_CPUTIME_ID, which the kernel resolves to the process that calls timer_create().
    static let processCPUClock: Int32 = 2

    private static func notifyNumber(_ timer: TimerInfo, timerName: String, pid: Int32) throws -> Int32 {
        switch timer.notify {
        case "SIGEV_SIGNAL": return sigevSignal
        case "SIGEV_NONE": return sigevNone
        case "SIGEV_THREAD_ID": return sigevThreadId
        default:
            throw ImagePlan.reject(pid, "\(timerName) notifies with \(Escape.text(timer.notify ?? "nothing")), which timer_create() does not take")
        }
    }

    /// Returns the clock id to pass to timer_create() for a clock name of
    /// `ContextNames.clock`, or nil for a CPU clock of one thread or of
    /// another process. The process's own CPU clock is the same clock
    /// whether glibc passed it as 2 or as its per-pid form.
    static func clockNumber(_ name: String) -> Int32? {
        let clocks: [String: Int32] = [
            "CLOCK_REALTIME": 0, "CLOCK_MONOTONIC": 1, "CLOCK_PROCESS_CPUTIME_ID": processCPUClock,
            "CLOCK_MONOTONIC_RAW": 4, "CLOCK_REALTIME_COARSE": 5, "CLOCK_MONOTONIC_COARSE": 6, "CLOCK_BOOTTIME": 7,
            "CLOCK_REALTIME_ALARM": 8, "CLOCK_BOOTTIME_ALARM": 9, "CLOCK_TAI": 11,
        ]
        return clocks[name]
    }

    /// Plans ITIMER_REAL, ITIMER_VIRTUAL or ITIMER_PROF, or returns nil when it is off.
    private static func intervalTimer(_ timer: TimerInfo, pid: Int32, alarmPending: Bool) throws -> IntervalTimerPlan? {
        let which: [String: Int32] = ["ITIMER_REAL": 0, "ITIMER_VIRTUAL": 1, "ITIMER_PROF": 2]
        guard let number = which[timer.name] else {
            throw ImagePlan.reject(pid, "its image lists the unknown interval timer \(Escape.text(timer.name))")
        }
        var plan = IntervalTimerPlan(which: number, name: timer.name, valueNs: 0, intervalNs: timer.intervalNs)
        if number != 0 {
            // An armed CPU-time timer stores the CPU time it expires at, not the time left.
            if timer.armed {
                throw ImagePlan.reject(pid, "its \(timer.name) timer is armed, and the image records the CPU time at which it expires but not the CPU time the process had used, so the time left is unknown")
            }
            return timer.intervalNs == 0 ? nil : plan
        }
        if timer.armed {
            plan.valueNs = max(timer.remainingNs ?? 0, 1)
        } else if timer.intervalNs != 0 {
            // The kernel restarts ITIMER_REAL when SIGALRM is dequeued. A timer
            // due at once adds no second SIGALRM to the pending one and leaves
            // the same state: stopped, with its interval kept.
            guard alarmPending else {
                throw ImagePlan.reject(pid, "its ITIMER_REAL timer is stopped with an interval of \(Format.milliseconds(timer.intervalNs)) and no SIGALRM pending, a state setitimer() cannot create")
            }
            plan.valueNs = 1
        }
        return plan.valueNs == 0 ? nil : plan
    }

    /// Names of the signals pending process-wide in the image.
    private static func pendingSignals(_ image: ProcessImage) throws -> Set<String> {
        Set(try image.items("signals", as: SignalAction.self).filter(\.pendingShared).map(\.signal))
    }
}
