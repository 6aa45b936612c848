import Foundation

/// The restored pid of one process of the image.
public struct RestoredMember: Codable, Sendable, Equatable {
    public var imagePid: Int32
    public var pid: Int32
    /// True for a zombie, recreated by exiting with its saved status.
    public var zombie: Bool
}

/// Rebuilds a process family. The stages run in this order:
///
/// 1. Restore creates the shared pipes in its own process.
/// 2. It spawns the root, and each process, parents first, runs an
///    injected clone3 (a fork with `set_tid`) per child. A process that led
///    its session or group calls setsid() or setpgid(0, 0) before it forks.
///    A zombie calls exit_group() with its status right after the fork.
/// 3. Processes in a group led by another member join it, and restore
///    opens the pidfds that point at members.
/// 4. Each live member is rebuilt like a single process, copying the
///    shared files from restore, and is held at its final registers.
/// 5. Verification runs while every member is held, then restore releases
///    them, children first, each with its saved stop signal.
///
/// A failure at any point kills every process created so far.
enum FamilyRestorer {
    /// sizeof(struct clone_args) up to and including set_tid_size. A fork
    /// sets no CLONE_* flag and SIGCHLD as its exit signal.
    static let cloneArgsSize = 80

    struct Outcome {
        var members: [RestoredMember]
        var syscalls: Int
        var elapsedNs: UInt64
        /// Each phase summed over the members, but open, plan, the pages check and verify.
        var phases: RestorePhases
    }

    /// Restores `family`. `verify` gets each live member with its restored
    /// pid, tid map and the family's pid map while every member is held.
    static func restore(_ family: FamilyPlan, options: RestoreOptions,
                        verify: ((FamilyMember, Int32, [Int32: Int32], [Int32: Int32]) -> Void)?) throws -> Outcome {
        let start = Clock.now()
        if !options.newPid { try checkFree(family) }
        let timer = PhaseTimer()
        let files = RestorerFiles()
        defer { withExtendedLifetime(files) {} }
        try timer.measure(\.sharedNs) { try createShared(family, files: files, log: options.trace) }

        var state = State()
        do {
            try timer.measure(\.spawnNs) {
                try spawnMembers(family, state: &state, options: options)
                for target in family.pidfdTargets {
                    if target < 0 {
                        try files.openReapedPidfd()
                    } else {
                        try files.openPidfd(target: target, pid: state.pids[target] ?? target)
                    }
                }
            }

            var readyAt: UInt64 = 0
            for member in family.members {
                guard var plan = member.plan, let injector = state.injectors[member.pid] else { continue }
                plan.files = files.resolve(plan.files)
                plan.areas = files.resolve(areas: plan.areas)
                let tids = try ProcessRestorer.rebuild(plan, injector: injector, options: options,
                                                       threads: &state.threads[member.pid, default: []], timer: timer)
                state.tids[member.pid] = tids
                let main = plan.threads[0]
                try timer.measure(\.registersNs) {
                    try injector.tracee.loadFinal(registers: ProcessRestorer.finalRegisters(plan, tracee: injector.tracee, log: options.trace),
                                                  xstate: main.xstate, signalMask: main.signalMask)
                }
            }
            files.closeAll()
            readyAt = Clock.now()

            for member in family.members where member.plan != nil {
                verify?(member, state.pids[member.pid]!, state.tids[member.pid] ?? [:], state.pids)
            }
            try release(family, state: state)
            let finalUnmaps = family.members.filter { $0.plan != nil }.count
            let syscalls = state.injectors.values.reduce(finalUnmaps) { $0 + $1.injectedCount }
                + state.threads.values.joined().reduce(0) { $0 + $1.injector.injectedCount }
            let members = family.members.map { RestoredMember(imagePid: $0.pid, pid: state.pids[$0.pid]!, zombie: $0.plan == nil) }
            return Outcome(members: members, syscalls: syscalls, elapsedNs: readyAt - start, phases: timer.phases)
        } catch {
            state.killAll()
            throw error
        }
    }

    /// The processes and threads created so far, by image pid.
    private struct State {
        var tracees: [(imagePid: Int32, tracee: Tracee)] = []
        var injectors: [Int32: Injector] = [:]
        var threads: [Int32: [RestoredThread]] = [:]
        var tids: [Int32: [Int32: Int32]] = [:]
        /// Restored pid of each image pid.
        var pids: [Int32: Int32] = [:]

        mutating func add(_ imagePid: Int32, tracee: Tracee, log: ((String) -> Void)?) {
            tracees.append((imagePid, tracee))
            injectors[imagePid] = Injector(tracee: tracee, log: log.map { log in { log("[pid \(tracee.pid)] " + $0) } })
            pids[imagePid] = tracee.pid
        }

        /// Kills every thread and process, children first, and reaps them.
        func killAll() {
            for thread in threads.values.joined() { thread.tracee.kill() }
            for (_, tracee) in tracees.reversed() { tracee.kill() }
        }
    }

    /// Creates in restore's own process what several members share: pipes,
    /// socket pairs, objects and open file descriptions.
    private static func createShared(_ family: FamilyPlan, files: RestorerFiles, log: ((String) -> Void)?) throws {
        for pipe in family.pipes {
            try files.createPipe(pipe.identity, capacity: pipe.capacity, nonblockingRead: pipe.nonblockingRead,
                                 nonblockingWrite: pipe.nonblockingWrite)
            if let queue = family.pipeQueues[pipe.identity] { try files.refill(pipe.identity, with: queue) }
        }
        for pair in family.socketPairs {
            try files.createSocketPair(pair)
        }
        try files.createShared(family.shared, log: log)
    }

    /// Clones the root with its trampoline at a range free both in restore
    /// and in every member's image, forks the other members from their
    /// parents, and moves them into their process groups.
    private static func spawnMembers(_ family: FamilyPlan, state: inout State, options: RestoreOptions) throws {
        let size = Injector.trampolineSize(payload: ProcessRestorer.payloadSize)
        let own = try MemoryProc.collect(pid: getpid()).map { ($0.start, $0.end) }
        let areas = family.members.flatMap { $0.plan?.areas ?? [] }.map { ($0.start, $0.end) }
        let trampoline = try MemoryRestore.findGap(size: size, avoiding: own + areas)
        let root = try Tracee(pid: options.newPid ? nil : family.root.pid, trampoline: trampoline, trampolineSize: size)
        options.trace?("clone3(set_tid=\(options.newPid ? "none" : "\(family.root.pid)")) = \(root.pid), trampoline at \(Format.hex(trampoline))")
        state.add(family.root.pid, tracee: root, log: options.trace)
        try createMembers(family, state: &state, options: options)
        try joinGroups(family, state: state)
    }

    /// Rejects, before anything is created, a pid or tid that another task has now.
    private static func checkFree(_ family: FamilyPlan) throws {
        for member in family.members {
            let ids = [member.pid] + (member.plan?.threads.dropFirst().map(\.tid) ?? [])
            for id in ids where kill(id, 0) == 0 || errno == EPERM {
                let what = id == member.pid ? "pid \(id)" : "thread id \(id) of process \(member.pid)"
                throw BpfcpError("pid_in_use", "\(what) is in use by \(Tracee.processName(id)): stop that process, or restore with --new-pid")
            }
            // A pid number stays taken while it names a process group with members left.
            if kill(-member.pid, 0) == 0 {
                throw OutsideHolders.groupInUse(member.pid)
            }
        }
    }

    /// Forks every member but the root from its restored parent, parents first.
    private static func createMembers(_ family: FamilyPlan, state: inout State, options: RestoreOptions) throws {
        let root = family.root
        try SessionRestore(injector: state.injectors[root.pid]!, pids: state.pids)
            .join(root.pid, session: root.image.process.sid, processGroup: root.image.process.pgid)

        for member in family.members.dropFirst() {
            guard let parentPid = member.parent, let parent = state.injectors[parentPid] else {
                throw BpfcpError("image_invalid", "process \(member.pid) comes before its parent \(member.parent ?? 0) in the image; \(ImageError.damaged)")
            }
            var args = [UInt8](repeating: 0, count: cloneArgsSize)
            args.replaceSubrange(32..<40, with: ProcessStateRestore.bytes(UInt64(SIGCHLD)))
            if !options.newPid { args.replaceSubrange(72..<80, with: ProcessStateRestore.bytes(UInt64(1))) }
            let before = parent.tracee.created.count
            let child = try parent.call(
                SyscallNumber.clone3, [.payload(0), .int(cloneArgsSize)],
                payloads: [args, ProcessStateRestore.bytes(member.pid)],
                text: "clone3({exit_signal=SIGCHLD, set_tid=\(options.newPid ? "none" : "[\(member.pid)]")}, \(cloneArgsSize)) /* fork process \(member.pid) */",
                expected: options.newPid ? nil : Int64(member.pid),
                pointers: options.newPid ? [] : [(payload: 0, at: 64, target: 1)])
            guard parent.tracee.created.count == before + 1, parent.tracee.created.last == Int32(child) else {
                throw BpfcpError("restore_failed", "the fork of process \(member.pid) returned \(child), but ptrace reported the new tasks \(parent.tracee.created.dropFirst(before))")
            }
            let tracee = try Tracee(attached: Int32(child), creator: parent.tracee)
            state.add(member.pid, tracee: tracee, log: options.trace)

            let process = member.image.process
            try SessionRestore(injector: state.injectors[member.pid]!, pids: state.pids)
                .join(member.pid, session: process.sid, processGroup: process.pgid)
            if let status = member.exitStatus {
                options.trace?("[pid \(tracee.pid)] exit_group(\(status)) /* zombie of process \(parentPid) */")
                try tracee.exitNow(status: status)
            }
        }
    }

    /// Moves members into the groups that other members lead, once all exist.
    private static func joinGroups(_ family: FamilyPlan, state: State) throws {
        for member in family.members where member.plan != nil {
            try SessionRestore(injector: state.injectors[member.pid]!, pids: state.pids)
                .joinGroup(member.pid, processGroup: member.image.process.pgid, members: family.pids)
        }
    }

    /// Lets every live member go, children first, each with its stop signal, then its threads.
    private static func release(_ family: FamilyPlan, state: State) throws {
        for member in family.members.reversed() {
            guard let plan = member.plan, let injector = state.injectors[member.pid] else { continue }
            try injector.tracee.detach(signal: plan.stopSignal ?? 0)
            for thread in state.threads[member.pid] ?? [] { try thread.tracee.detach() }
        }
    }
}
