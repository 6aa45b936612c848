import Foundation

/// Settings of one restore.
public struct RestoreOptions: Sendable {
    /// Let the kernel pick the pid instead of reusing the image's.
    public var newPid = false
    /// File for the fds that were a terminal; nil attaches them to restore's stdin, stdout and stderr.
    public var stdio: String?
    /// Receives each injected system call with its result, strace style.
    public var trace: (@Sendable (String) -> Void)?
    /// The option that requested the new pid, as the user typed it
    /// ("--new-pid"); nil when the caller chose a new pid for the user.
    public var newPidOption: String?

    /// Verify's reason for a pid or thread id that differs from the image's.
    var newPidReason: String { newPidOption.map { "restored with \($0)" } ?? "restored with a new pid" }

    public init(newPid: Bool = false, stdio: String? = nil, trace: (@Sendable (String) -> Void)? = nil) {
        self.newPid = newPid
        self.stdio = stdio
        self.trace = trace
    }
}

/// The outcome of one restore: the new pid, the calls injected and the time taken.
public struct RestoreOutcome: Sendable {
    public var pid: Int32
    public var syscalls: Int
    /// From the start to the final registers loaded, before any verification.
    public var elapsedNs: UInt64
    /// The time of each phase; the caller adds open, plan and verify.
    public var phases = RestorePhases()
}

/// Rebuilds one process from a plan. The stages run in this order because
/// each needs the one before: the address space first (it removes restore's
/// own code and data from the child), then process settings (PR_SET_MM_MAP
/// checks the addresses against the new areas), then fds (reopening needs
/// free numbers, which the earlier stages borrow and give back), and the
/// registers last, as the child leaves the trampoline for good.
enum ProcessRestorer {
    /// Payload room in the trampoline for paths and structs of one batch.
    static let payloadSize = 448 * 1024

    /// Restores `plan`. `beforeDetach` gets the pid and the new tid of each
    /// saved tid while every thread is held at its final registers.
    /// `shared` lists what restore creates in its own process for the process to copy.
    /// `pagesCheck`, when given, is waited for once the memory is rebuilt.
    static func restore(_ plan: RestorePlan, shared: SharedPlan = SharedPlan(), options: RestoreOptions, pagesCheck: PagesCheck? = nil,
                        beforeDetach: ((Int32, [Int32: Int32]) -> Void)? = nil) throws -> RestoreOutcome {
        let start = Clock.now()
        guard let main = plan.threads.first else {
            throw BpfcpError("image_invalid", "process \(plan.pid) has no thread in the image; \(ImageError.damaged)")
        }
        if !options.newPid { try ThreadPlanning.checkFree(plan) }
        let files = RestorerFiles()
        defer { withExtendedLifetime(files) {} }
        // Shared objects take their content from the pages, and a named
        // listener leaves a socket file behind, so they wait for the check.
        if !shared.objects.isEmpty || !shared.listeners.isEmpty { try pagesCheck?.wait() }
        let timer = PhaseTimer()
        try timer.measure(\.sharedNs) { try files.createShared(shared, log: options.trace) }
        var plan = plan
        plan.files = files.resolve(plan.files)
        plan.areas = files.resolve(areas: plan.areas)

        let tracee = try timer.measure(\.spawnNs) { try spawn(plan, options: options) }
        options.trace?("clone3(set_tid=\(options.newPid ? "none" : "\(plan.pid)")) = \(tracee.pid), trampoline at \(Format.hex(tracee.trampoline))")

        let injector = Injector(tracee: tracee, log: options.trace)
        var readyAt: UInt64 = 0
        var threads: [RestoredThread] = []
        do {
            try SessionRestore(injector: injector, pids: [plan.pid: tracee.pid]).join(plan.pid, session: plan.session, processGroup: plan.processGroup)
            let tids = try rebuild(plan, injector: injector, options: options, threads: &threads, timer: timer, pagesCheck: pagesCheck)
            let registers = finalRegisters(plan, tracee: tracee, log: options.trace)
            let registersStart = Clock.now()
            try tracee.finish(registers: registers, xstate: main.xstate, signalMask: main.signalMask, stopSignal: plan.stopSignal,
                              beforeDetach: {
                                  readyAt = Clock.now()
                                  timer.add(\.registersNs, readyAt - registersStart)
                                  beforeDetach?(tracee.pid, tids)
                              })
            for thread in threads { try thread.tracee.detach() }
        } catch {
            for thread in threads { thread.tracee.kill() }
            tracee.kill()
            throw error
        }
        let injected = threads.reduce(injector.injectedCount + 1) { $0 + $1.injector.injectedCount }
        return RestoreOutcome(pid: tracee.pid, syscalls: injected, elapsedNs: readyAt - start, phases: timer.phases)
    }

    /// Clones the child with its trampoline at a range free both in restore
    /// and in the image. Restore's own areas come from /proc/PID/maps alone:
    /// their page counts (smaps, pagemap) are not needed here.
    private static func spawn(_ plan: RestorePlan, options: RestoreOptions) throws -> Tracee {
        let size = Injector.trampolineSize(payload: payloadSize)
        let own = try MemoryProc.collect(pid: getpid(), pageCounts: false).map { ($0.start, $0.end) }
        let trampoline = try MemoryRestore.findGap(size: size, avoiding: own + plan.areas.map { ($0.start, $0.end) })
        return try Tracee(pid: options.newPid ? nil : plan.pid, trampoline: trampoline, trampolineSize: size)
    }

    /// Runs every stage on a process that holds nothing of the image yet,
    /// up to the final registers of all but the main thread. Returns the
    /// restored tid of each saved tid.
    static func rebuild(_ plan: RestorePlan, injector: Injector, options: RestoreOptions,
                        threads: inout [RestoredThread], timer: PhaseTimer = PhaseTimer(),
                        pagesCheck: PagesCheck? = nil) throws -> [Int32: Int32] {
        let tracee = injector.tracee
        let fds = try FdTable(pid: tracee.pid)
        try timer.measure(\.memoryNs) {
            let inherited = try MemoryProc.collect(pid: tracee.pid, pageCounts: false)
            try MemoryRestore(plan: plan, injector: injector, fds: fds, timer: timer).run(inherited: inherited)
        }
        if let pagesCheck {
            // Before the process gets anything that could outlive a failure.
            timer.add(\.pagesWaitNs, try pagesCheck.wait())
            timer.add(\.pagesCheckNs, pagesCheck.checkNs)
            options.trace?("pages.img checksum matches (\(Format.milliseconds(pagesCheck.checkNs)) on its own thread)")
        }
        try timer.measure(\.processNs) {
            try ProcessStateRestore(plan: plan, injector: injector, fds: fds).run()
            if let scheduling = plan.scheduling { try SchedulingRestore(plan: scheduling, injector: injector).run() }
        }
        try timer.measure(\.filesNs) { try FileRestore(plan: plan, injector: injector, fds: fds, stdio: options.stdio).run() }
        try timer.measure(\.threadsNs) {
            try ThreadRestore(plan: plan, injector: injector, fds: fds, newPid: options.newPid, log: options.trace).run(into: &threads)
        }

        var tids: [Int32: Int32] = [:]
        if let main = plan.threads.first { tids[main.tid] = tracee.pid }
        for thread in threads { tids[thread.plan.tid] = thread.tracee.pid }
        let timers = TimerRestore(timers: plan.timers, injector: injector, tids: tids)
        try timer.measure(\.timersNs) { try timers.create() }
        try timer.measure(\.settingsNs) {
            try SettingsRestore(settings: plan.settings, injector: injector).run()
            if plan.settings.credentials == nil { try ProcessStateRestore(plan: plan, injector: injector, fds: fds).setCredentials() }
        }
        try timer.measure(\.threadsNs) { try loadThreads(threads, plan: plan, fds: fds, log: options.trace) }
        try timer.measure(\.signalsNs) {
            try PendingSignalRestore(signals: plan.pendingSignals, injector: injector, pid: tracee.pid, tids: tids).run()
        }
        try timer.measure(\.timersNs) { try timers.arm() }
        return tids
    }

    /// Returns the registers the main thread leaves the trampoline with, and logs the last steps.
    static func finalRegisters(_ plan: RestorePlan, tracee: Tracee, log: ((String) -> Void)?) -> Registers {
        let main = plan.threads[0]
        let registers = resumeRegisters(main.registers)
        log?("munmap(\(Format.hex(tracee.trampoline)), \(tracee.trampolineSize)) /* trampoline */, then PTRACE_SETREGS rip=\(Format.hex(registers[Registers.rip])) rsp=\(Format.hex(registers[Registers.rsp])), PTRACE_SETREGSET NT_X86_XSTATE, PTRACE_SETSIGMASK \(SignalName.describe(mask: main.signalMask)), PTRACE_DETACH")
        return registers
    }

    /// Gives each extra thread the image's credentials, because a raw
    /// setresuid or capset changes the calling thread only, and loads its
    /// final registers. The threads stay held until the main thread is released.
    private static func loadThreads(_ threads: [RestoredThread], plan: RestorePlan, fds: FdTable,
                                    log: ((String) -> Void)?) throws {
        var credentialsOnly = plan.settings
        credentialsOnly.limits = []
        credentialsOnly.root = nil
        for thread in threads {
            try SettingsRestore(settings: credentialsOnly, injector: thread.injector).run()
            if plan.settings.credentials == nil {
                try ProcessStateRestore(plan: plan, injector: thread.injector, fds: fds).setCredentials()
            }
            let registers = resumeRegisters(thread.plan.registers)
            log?("[tid \(thread.tracee.pid)] PTRACE_SETREGS rip=\(Format.hex(registers[Registers.rip])) rsp=\(Format.hex(registers[Registers.rsp])) fs_base=\(Format.hex(registers[Registers.fsBase])), PTRACE_SETREGSET NT_X86_XSTATE, PTRACE_SETSIGMASK \(SignalName.describe(mask: thread.plan.signalMask))")
            try thread.tracee.load(registers: registers, xstate: thread.plan.xstate, signalMask: thread.plan.signalMask)
        }
    }

    /// Turns the registers of a thread stopped inside a system call into
    /// the registers that repeat the call, as the kernel would on signal
    /// return: back up over the 2-byte syscall instruction and reload the
    /// call number. orig_rax becomes -1 so the kernel adds no restart of its own.
    static func resumeRegisters(_ saved: Registers) -> Registers {
        var regs = saved
        let call = Int64(bitPattern: regs[Registers.origRax])
        let result = Int64(bitPattern: regs[Registers.rax])
        let restartSys: Int64 = -512, restartNoIntr: Int64 = -513, restartNoHand: Int64 = -514
        let restartBlock: Int64 = -516, noSys: Int64 = -38
        if call >= 0 {
            switch result {
            case restartSys, restartNoIntr, restartNoHand, noSys:
                regs[Registers.rax] = UInt64(call)
                regs[Registers.rip] -= 2
            case restartBlock:
                // NOTE: the kernel's restart block (the time left of a
                // nanosleep, for one) is not part of the image, so the call
                // returns EINTR, as CRIU does.
                regs[Registers.rax] = UInt64(bitPattern: -Int64(EINTR))
            default:
                break
            }
        }
        regs[Registers.origRax] = UInt64.max
        return regs
    }
}
