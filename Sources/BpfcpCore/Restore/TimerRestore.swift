import Foundation

/// Creates the POSIX timers of a `TimersPlan` with their saved ids, and arms
/// them and the interval timers with the time they had left.
///
/// `create` runs once every thread exists, because a SIGEV_THREAD_ID timer
/// needs its thread. It also runs before the credentials drop, because an
/// alarm timer needs CAP_WAKE_ALARM. `arm` runs last of all the injected
/// calls, and blocks every signal of the main thread until the final
/// PTRACE_SETSIGMASK. So a timer that expires during the rest of the restore
/// leaves its signal pending, as it would in the running process. The other
/// threads are held in ptrace stops then, and the kernel delivers a process
/// signal to none of them.
struct TimerRestore {
    let timers: TimersPlan
    let injector: Injector
    /// Restored tid of each image tid.
    let tids: [Int32: Int32]

    /// sizeof(struct sigevent) on x86_64.
    static let sigeventSize = 64

    func create() throws {
        guard !timers.posix.isEmpty else { return }
        try restoreIds(TimerPlanner.restoreIdsOn, "PR_TIMER_CREATE_RESTORE_IDS_ON")
        for timer in timers.posix {
            try createTimer(timer)
        }
        try restoreIds(TimerPlanner.restoreIdsOff, "PR_TIMER_CREATE_RESTORE_IDS_OFF")
        try injector.flush()
    }

    func arm() throws {
        let posix = timers.posix.filter { $0.valueNs != 0 }
        guard !posix.isEmpty || !timers.interval.isEmpty else { return }
        try injector.queue(SyscallNumber.rtSigprocmask, [.int(PendingSignalRestore.sigSetmask), .payload(0), .int(0), .int(8)],
                           payloads: [ProcessStateRestore.bytes(UInt64.max)], text: "rt_sigprocmask(SIG_SETMASK, ~0, NULL, 8)")
        for timer in posix {
            let spec = Self.timespec(timer.intervalNs) + Self.timespec(timer.valueNs)
            try injector.queue(SyscallNumber.timerSettime, [.int(Int(timer.id)), .int(0), .payload(0), .int(0)], payloads: [spec],
                               text: "timer_settime(\(timer.id), 0, {it_interval=\(timer.intervalNs) ns, it_value=\(timer.valueNs) ns}, NULL)")
        }
        for timer in timers.interval {
            try setInterval(timer)
        }
        try injector.flush()
    }

    private func restoreIds(_ mode: Int, _ name: String) throws {
        try injector.queue(SyscallNumber.prctl, [.int(TimerPlanner.prTimerCreateRestoreIds), .int(mode), .int(0), .int(0), .int(0)],
                           text: "prctl(PR_TIMER_CREATE_RESTORE_IDS, \(name))")
    }

    /// timer_create(clock, &sigevent, &id) with `id` set to the saved id,
    /// which the kernel takes while PR_TIMER_CREATE_RESTORE_IDS is on.
    private func createTimer(_ timer: PosixTimerPlan) throws {
        var target: Int32 = 0
        var targetText = ""
        if let thread = timer.thread {
            guard let tid = tids[thread] else {
                throw BpfcpError("restore_failed", "POSIX timer \(timer.id) signals thread \(thread), which was not restored")
            }
            target = tid
            targetText = ", sigev_notify_thread_id=\(tid)"
        }
        var event = ProcessStateRestore.bytes(timer.value) + ProcessStateRestore.bytes(timer.signal)
        event += ProcessStateRestore.bytes(timer.notify) + ProcessStateRestore.bytes(target)
        event += [UInt8](repeating: 0, count: Self.sigeventSize - event.count)
        let signal = timer.notify == TimerPlanner.sigevNone ? "0" : SignalName.name(timer.signal)
        let text = "timer_create(\(ContextNames.clock(timer.clock)), {sigev_value=\(Format.hex(timer.value)), sigev_signo=\(signal), sigev_notify=\(ContextNames.sigevNotify(timer.notify))\(targetText)}, [\(timer.id)])"
        try injector.queue(SyscallNumber.timerCreate, [.int(Int(timer.clock)), .payload(0), .payload(1)],
                           payloads: [event, ProcessStateRestore.bytes(timer.id)], text: text, expected: 0,
                           advice: [EBUSY: "another timer of the process has id \(timer.id)"])
    }

    /// setitimer(which, {it_interval, it_value}, NULL) with microsecond
    /// fields. The time left is rounded up, because a zero it_value disarms.
    private func setInterval(_ timer: IntervalTimerPlan) throws {
        let valueUs = (timer.valueNs + 999) / 1000
        let intervalUs = timer.intervalNs / 1000
        let value = Self.timeval(intervalUs) + Self.timeval(valueUs)
        try injector.queue(SyscallNumber.setitimer, [.int(Int(timer.which)), .payload(0), .int(0)], payloads: [value],
                           text: "setitimer(\(timer.name), {it_interval=\(intervalUs) µs, it_value=\(valueUs) µs}, NULL)")
    }

    /// Encodes `ns` as struct timespec: seconds and nanoseconds, 64 bits each.
    static func timespec(_ ns: UInt64) -> [UInt8] {
        ProcessStateRestore.bytes(ns / 1_000_000_000) + ProcessStateRestore.bytes(ns % 1_000_000_000)
    }

    /// Encodes `us` as struct timeval: seconds and microseconds, 64 bits each.
    static func timeval(_ us: UInt64) -> [UInt8] {
        ProcessStateRestore.bytes(us / 1_000_000) + ProcessStateRestore.bytes(us % 1_000_000)
    }
}

extension SyscallNumber {
    static let setitimer = 38, timerCreate = 222, timerSettime = 223
}
