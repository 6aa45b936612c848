/// A process and its threads as they were just before the freeze.
///
/// While held, every thread reads state "t (tracing stop)" with stop signal
/// SIGTRAP, bpfcp is its tracer, and a thread interrupted in a system call
/// has -ERESTART* in rax. None of that is the process's own state, so the
/// threads and context sections of an image take those values from a read
/// just before the freeze, and a process that did not change compares equal
/// to its image. The registers section keeps the registers as held, which
/// is what restore needs. A thread that started during the freeze has no
/// earlier read, so its state is derived from where the freeze stopped it
/// (`stateWhereHeld`).
struct PreFreezeState {
    let process: ProcessEntry
    /// Threads as iter/task read them before the freeze, by tid; empty when that read failed.
    let threads: [Int32: ThreadInfo]

    static func read(_ process: ProcessEntry) -> PreFreezeState {
        let threads = (try? ThreadsKind.collectBPF(pid: process.pid)) ?? []
        return PreFreezeState(process: process, threads: Dictionary(threads.map { ($0.tid, $0) }, uniquingKeysWith: { first, _ in first }))
    }

    /// Replaces the held values in the threads and context sections with the ones read before the freeze.
    func apply(to sections: [Section]) -> [Section] {
        sections.map { section in
            switch section.kind {
            case ThreadsKind.name: (try? replacingThreads(section)) ?? section
            case ContextKind.name: (try? replacingIdentity(section)) ?? section
            default: section
            }
        }
    }

    private func replacingThreads(_ section: Section) throws -> Section {
        let held = try section.items.map { try $0.decode(as: ThreadInfo.self) }
        let items = held.map { heldThread -> ThreadInfo in
            var thread = heldThread
            guard let before = threads[heldThread.tid] else {
                thread.state = PreFreezeState.stateWhereHeld(heldThread)
                if thread.state != .tracingStop { thread.stopSignal = nil }
                return thread
            }
            thread.state = before.state
            thread.stopSignal = before.stopSignal
            thread.registers = registers(held: heldThread, before: before)
            return thread
        }
        return try rebuilt(section, items: items, entries: items.map(ThreadsKind.entry))
    }

    /// Returns the held registers, with rax as before the freeze when the freeze
    /// interrupted a system call. The kernel then stores -ERESTARTSYS,
    /// -ERESTARTNOINTR, -ERESTARTNOHAND or -ERESTART_RESTARTBLOCK
    /// (-512...-516) in rax, where a thread sleeping in that call shows
    /// -ENOSYS. Other registers stay as held: a thread that kept running
    /// changed them after the read before the freeze.
    private func registers(held: ThreadInfo, before: ThreadInfo) -> [UInt64]? {
        guard var registers = held.registers, let earlier = before.registers, !before.registersStale,
              PreFreezeState.interruptedSystemCall(registers), earlier.count > Self.origRax,
              registers[Self.origRax] == earlier[Self.origRax] else {
            return held.registers
        }
        registers[Self.rax] = earlier[Self.rax]
        return registers
    }

    /// Returns the state of a thread that no read before the freeze saw,
    /// derived from its held registers, which are the ones the image saves.
    /// PTRACE_INTERRUPT wakes a thread sleeping in a system call, and that
    /// call returns -ERESTART* before the thread stops with orig_rax set, so
    /// such a thread was sleeping (S). Every other held thread was running
    /// or runnable (R): orig_rax -1 means it stopped outside any system call,
    /// and another rax means its call had completed, as for a new thread
    /// still on its way out of clone. A thread whose registers are unknown,
    /// or that is not in a tracing stop, keeps its held state.
    /// NOTE: a thread in uninterruptible sleep (D) stops only after its call
    /// returns, so it is recorded as R.
    static func stateWhereHeld(_ thread: ThreadInfo) -> TaskState {
        guard thread.state == .tracingStop, let registers = thread.registers, registers.count > origRax else {
            return thread.state
        }
        return interruptedSystemCall(registers) ? .sleeping : .running
    }

    private static let rax = 10
    private static let origRax = 15

    /// True when the registers are those of a thread stopped on its way out
    /// of a system call that a signal or PTRACE_INTERRUPT cut short: orig_rax
    /// contains the call and rax one of -ERESTARTSYS, -ERESTARTNOINTR,
    /// -ERESTARTNOHAND or -ERESTART_RESTARTBLOCK (-512...-516).
    private static func interruptedSystemCall(_ registers: [UInt64]) -> Bool {
        guard registers.count > origRax, Int64(bitPattern: registers[origRax]) >= 0 else { return false }
        return (-516 ... -512).contains(Int64(bitPattern: registers[rax]))
    }

    private func replacingIdentity(_ section: Section) throws -> Section {
        var items = try section.items.map { try $0.decode(as: ContextProperty.self) }
        let stopSignal = process.state == .stopped ? process.stopSignal : nil
        for index in items.indices.reversed() where items[index].group == "identity" {
            switch items[index].name {
            case "state":
                items[index].value = "\(process.state.rawValue) (\(process.state.name))"
            case "tracer":
                items[index].value = process.tracerPid == 0 ? "none" : "\(process.tracerPid)"
            case "stop signal":
                if let stopSignal { items[index].value = stopSignal } else { items.remove(at: index) }
            default:
                break
            }
        }
        return try rebuilt(section, items: items, entries: items.map(ContextKind.entry))
    }

    private func rebuilt<T: Encodable>(_ section: Section, items: [T], entries: [Entry]) throws -> Section {
        guard case .array(let json) = try JSONValue.from(items) else { return section }
        return Section(kind: section.kind, source: section.source, unavailable: section.unavailable,
                       elapsedNs: section.elapsedNs, items: json, entries: entries)
    }
}
