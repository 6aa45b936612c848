/// A process and its threads as they were just before the freeze.
///
/// While held, every thread reads state "t (tracing stop)" with stop signal
/// SIGTRAP, bpfcp is its tracer, and a thread interrupted in a system call
/// has -ERESTART* in rax. None of that is the process's own state, so the
/// threads and context sections of an image take those values from a read
/// just before the freeze, and a process that did not change compares equal
/// to its image. The registers section keeps the registers as held, which
/// is what restore needs.
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
        // NOTE: a thread that started during the freeze has no earlier state, so it keeps the held one.
        let items = held.map { heldThread -> ThreadInfo in
            guard let before = threads[heldThread.tid] else { return heldThread }
            var thread = heldThread
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
        let rax = 10
        let origRax = 15
        guard var registers = held.registers, let earlier = before.registers, !before.registersStale,
              registers.count > origRax, earlier.count > origRax,
              registers[origRax] == earlier[origRax], (-516 ... -512).contains(Int64(bitPattern: registers[rax])) else {
            return held.registers
        }
        registers[rax] = earlier[rax]
        return registers
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
