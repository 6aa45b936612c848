import Foundation

/// One queued siginfo to queue again, in queue order.
struct PendingSignal: Equatable {
    var signal: Int32
    /// Owner of the per-thread queue (an image tid); nil for the shared queue.
    var thread: Int32?
    var code: Int32
    var errnoValue: Int32
    /// The sender's pid and uid, the first word of the siginfo union.
    var senderPid: Int32
    var senderUid: UInt32
    /// sival_ptr, whose low half is sival_int; 0 for codes without a value.
    var value: UInt64

    /// The 128-byte siginfo_t that rt_sigqueueinfo() copies: si_signo,
    /// si_errno, si_code, padding, then the kill and rt members of the union.
    var siginfo: [UInt8] {
        var bytes = ProcessStateRestore.bytes(signal) + ProcessStateRestore.bytes(errnoValue) + ProcessStateRestore.bytes(code)
        bytes += ProcessStateRestore.bytes(Int32(0)) + ProcessStateRestore.bytes(senderPid) + ProcessStateRestore.bytes(senderUid)
        bytes += ProcessStateRestore.bytes(value)
        return bytes + [UInt8](repeating: 0, count: 128 - bytes.count)
    }
}

/// Reads the pending signals of an image. Restore queues a signal again
/// with rt_sigqueueinfo() or rt_tgsigqueueinfo() from inside the process,
/// which the kernel allows for any si_code, so every siginfo whose union
/// the image contains whole comes back as it was.
enum PendingSignalPlanner {
    /// si_code values whose union is the sender's pid and uid, followed by
    /// sival_ptr or nothing, as the signals kind decodes them.
    static let codes: [String: Int32] = ["SI_USER": 0, "SI_KERNEL": 0x80, "SI_QUEUE": -1, "SI_MESGQ": -3, "SI_ASYNCIO": -4, "SI_TKILL": -6]

    static func plan(_ image: ProcessImage) throws -> [PendingSignal] {
        let pid = image.pid
        if let truncated = try image.items("sigthreads", as: ThreadSignalState.self).first(where: \.queueTruncated) {
            throw ImagePlan.reject(pid, "thread \(truncated.tid) has more queued signals than the image contains")
        }
        let queued = try image.items("sigqueue", as: QueuedSignal.self)
        let threads = Set(image.threads.map(\.tid))
        let pending = try queued.map { try signal($0, pid: pid, threads: threads) }
        try checkEveryPendingQueued(image, queued: pending)
        return pending
    }

    private static func signal(_ item: QueuedSignal, pid: Int32, threads: Set<Int32>) throws -> PendingSignal {
        guard let number = SignalName.number(item.signal) else {
            throw ImagePlan.reject(pid, "its queued signal \(Escape.text(item.signal)) is not a known signal")
        }
        if item.code == "SI_TIMER" {
            let timer = item.details.first { $0.name == "timer id" }.map { "POSIX timer \($0.value)" } ?? "a POSIX timer"
            throw ImagePlan.reject(pid, "\(item.signal) from \(timer) is pending (the timer expired while the process was held, or the process blocks the signal), and restore cannot queue a timer's siginfo again; take the checkpoint again")
        }
        guard let code = codes[item.code] else {
            throw ImagePlan.reject(pid, "\(item.signal) is pending with si_code \(Escape.text(item.code)); restore can queue again only signals sent with kill(), tkill() or sigqueue()")
        }
        if item.queue == "thread" && !threads.contains(item.tid ?? 0) {
            throw ImagePlan.reject(pid, "\(item.signal) is pending on thread \(item.tid.map(String.init) ?? "?"), which the image does not contain")
        }
        return PendingSignal(signal: number, thread: item.queue == "thread" ? item.tid : nil, code: code, errnoValue: item.errnoValue,
                             senderPid: item.senderPid ?? 0, senderUid: item.senderUid ?? 0,
                             value: item.valuePointer.flatMap(SignalPlan.parseHex) ?? 0)
    }

    /// Rejects a signal that is pending without a queued siginfo (the
    /// kernel drops the siginfo when it cannot allocate one), because
    /// queueing it again would add a siginfo the process did not have.
    private static func checkEveryPendingQueued(_ image: ProcessImage, queued: [PendingSignal]) throws {
        for action in try image.items("signals", as: SignalAction.self) {
            if action.pendingShared && !queued.contains(where: { $0.signal == action.number && $0.thread == nil }) {
                throw ImagePlan.reject(image.pid, "\(action.signal) is pending process-wide without a queued siginfo")
            }
            for tid in action.pendingIn where !queued.contains(where: { $0.signal == action.number && $0.thread == tid }) {
                throw ImagePlan.reject(image.pid, "\(action.signal) is pending on thread \(tid) without a queued siginfo")
            }
        }
    }
}

/// Queues the pending signals of a plan again, in their order, with every
/// signal blocked until the final PTRACE_SETSIGMASK sets the saved mask,
/// so none is delivered before the process runs its own code again.
struct PendingSignalRestore {
    let signals: [PendingSignal]
    let injector: Injector
    /// Pid of the restored process, which may differ from the image's.
    let pid: Int32
    /// Restored tid of each image tid.
    let tids: [Int32: Int32]

    static let sigSetmask = 2

    func run() throws {
        guard !signals.isEmpty else { return }
        try injector.queue(SyscallNumber.rtSigprocmask, [.int(Self.sigSetmask), .payload(0), .int(0), .int(8)],
                           payloads: [ProcessStateRestore.bytes(UInt64.max)], text: "rt_sigprocmask(SIG_SETMASK, ~0, NULL, 8)")
        for signal in signals {
            let name = SignalName.name(signal.signal)
            let info = "{si_code=\(signal.code), si_pid=\(signal.senderPid), si_uid=\(signal.senderUid), si_value=\(Format.hex(signal.value))}"
            if let thread = signal.thread {
                guard let tid = tids[thread] else {
                    throw BpfcpError("restore_failed", "\(name) is pending on thread \(thread), which was not restored")
                }
                try injector.queue(SyscallNumber.rtTgsigqueueinfo, [.int(Int(pid)), .int(Int(tid)), .int(Int(signal.signal)), .payload(0)],
                                   payloads: [signal.siginfo], text: "rt_tgsigqueueinfo(\(pid), \(tid), \(name), \(info))")
            } else {
                try injector.queue(SyscallNumber.rtSigqueueinfo, [.int(Int(pid)), .int(Int(signal.signal)), .payload(0)],
                                   payloads: [signal.siginfo], text: "rt_sigqueueinfo(\(pid), \(name), \(info))")
            }
        }
        try injector.flush()
    }
}

extension SyscallNumber {
    static let rtSigprocmask = 14, rtSigqueueinfo = 129, rtTgsigqueueinfo = 297
}
