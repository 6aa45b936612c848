import Foundation

/// Turns the threads of an image into `ThreadPlan`s, the main thread first.
enum ThreadPlanning {
    static func plans(_ image: ProcessImage) throws -> [ThreadPlan] {
        guard image.threads.contains(where: { $0.tid == image.pid }) else {
            throw ImagePlan.reject(image.pid, "its main thread \(image.pid) is not in the image (it exited before the other threads)")
        }
        let infos = Dictionary(try image.items("threads", as: ThreadInfo.self).map { ($0.tid, $0) }, uniquingKeysWith: { a, _ in a })
        let signalStates = try image.items("sigthreads", as: ThreadSignalState.self)
        let ordered = image.threads.filter { $0.tid == image.pid } + image.threads.filter { $0.tid != image.pid }

        return try ordered.map { thread in
            var words: [UInt64] = []
            for name in ThreadInfo.registerNames {
                guard let value = thread.registers[name] else {
                    throw BpfcpError("image_invalid", "thread \(thread.tid) of process \(image.pid) has no register \(name) in the image; \(ImageError.damaged)")
                }
                words.append(value)
            }
            var plan = ThreadPlan(tid: thread.tid, registers: Registers(words: words), xstate: Array(thread.xsave),
                                  signalMask: thread.sigmask)
            if let state = signalStates.first(where: { $0.tid == thread.tid }) {
                plan.registration = ThreadRegistration(state)
            }
            plan.comm = infos[thread.tid].map { Escape.unescape($0.comm) }
            plan.clearChildTid = infos[thread.tid]?.clearChildTid
            return plan
        }
    }

    /// Rejects, before anything is created, a thread id that another task
    /// has now, and a pid that still names a process group. clone3 checks
    /// the main thread's pid itself.
    static func checkFree(_ plan: RestorePlan) throws {
        if kill(plan.pid, 0) == 0 || errno == EPERM {
            throw BpfcpError("pid_in_use", "pid \(plan.pid) is in use by \(Tracee.processName(plan.pid)): stop that process, or restore with --new-pid")
        }
        if kill(plan.pid, 0) != 0 && kill(-plan.pid, 0) == 0 {
            throw OutsideHolders.groupInUse(plan.pid)
        }
        for thread in plan.threads.dropFirst() where kill(thread.tid, 0) == 0 || errno == EPERM {
            throw BpfcpError("pid_in_use", "thread id \(thread.tid) of process \(plan.pid) is in use by \(Tracee.processName(thread.tid)): stop that process, or restore with --new-pid")
        }
    }
}

/// A thread recreated in the restored process, held under ptrace until its
/// process is released.
final class RestoredThread {
    let plan: ThreadPlan
    let tracee: Tracee
    let injector: Injector

    init(plan: ThreadPlan, tracee: Tracee, injector: Injector) {
        self.plan = plan
        self.tracee = tracee
        self.injector = injector
    }
}

/// Recreates the threads beyond the first. The main thread runs an injected
/// clone3 per thread, with the saved tid in `set_tid` unless `newPid`. The
/// kernel attaches each new thread to restore (PTRACE_O_TRACECLONE) and
/// stops it before its first instruction, so it runs nothing but the calls
/// restore injects into it: its name, clear_child_tid, robust list, rseq
/// area and alternate signal stack, which are all per thread.
struct ThreadRestore {
    let plan: RestorePlan
    let injector: Injector
    let fds: FdTable
    let newPid: Bool
    let log: ((String) -> Void)?

    /// CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, as pthread_create uses.
    static let threadFlags: UInt64 = 0x100 | 0x200 | 0x400 | 0x800 | 0x1_0000 | 0x4_0000
    /// sizeof(struct clone_args) up to and including set_tid_size.
    static let cloneArgsSize = 80

    /// Sets the main thread's clear_child_tid, then creates every other
    /// thread and appends it to `restored`, so a caller that catches an
    /// error can kill the threads made so far.
    func run(into restored: inout [RestoredThread]) throws {
        if let main = plan.threads.first { try setClearChildTid(main, injector: injector) }
        try injector.flush()

        for thread in plan.threads.dropFirst() {
            let tid = try clone(thread)
            let tracee = try Tracee(attached: tid, creator: injector.tracee)
            let own = Injector(tracee: tracee, log: log.map { log in { log("[tid \(tid)] " + $0) } })
            restored.append(RestoredThread(plan: thread, tracee: tracee, injector: own))

            if let comm = thread.comm, comm != plan.comm {
                try own.queue(SyscallNumber.prctl, [.int(ProcessStateRestore.prSetName), .payload(0), .int(0), .int(0), .int(0)],
                              payloads: [Array(comm.prefix(15)) + [0]], text: "prctl(PR_SET_NAME, \"\(Escape.bytes(comm))\")")
            }
            try setClearChildTid(thread, injector: own)
            try ProcessStateRestore(plan: plan, injector: own, fds: fds).register(thread.registration)
            try own.flush()
        }
    }

    /// Injects clone3 into the main thread and returns the new thread's tid.
    private func clone(_ thread: ThreadPlan) throws -> Int32 {
        var args = [UInt8](repeating: 0, count: Self.cloneArgsSize)
        args.replaceSubrange(0..<8, with: ProcessStateRestore.bytes(Self.threadFlags))
        if !newPid { args.replaceSubrange(72..<80, with: ProcessStateRestore.bytes(UInt64(1))) }
        let before = injector.tracee.created.count

        let result = try injector.call(
            SyscallNumber.clone3, [.payload(0), .int(Self.cloneArgsSize)],
            payloads: [args, ProcessStateRestore.bytes(Int32(thread.tid))],
            text: "clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, set_tid=\(newPid ? "none" : "[\(thread.tid)]")}, \(Self.cloneArgsSize))",
            expected: newPid ? nil : Int64(thread.tid),
            pointers: newPid ? [] : [(payload: 0, at: 64, target: 1)])
        guard injector.tracee.created.count == before + 1, injector.tracee.created.last == Int32(result) else {
            throw BpfcpError("restore_failed", "clone3 of thread \(thread.tid) returned \(result), but ptrace reported the new tasks \(injector.tracee.created.dropFirst(before))")
        }
        return Int32(result)
    }

    private func setClearChildTid(_ thread: ThreadPlan, injector: Injector) throws {
        guard let address = thread.clearChildTid, address != 0 else { return }
        try injector.queue(SyscallNumber.setTidAddress, [.value(address)], text: "set_tid_address(\(Format.hex(address)))")
    }
}
