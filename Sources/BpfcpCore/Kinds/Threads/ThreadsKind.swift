import CBpfcpShim
import Foundation

/// One thread with its user registers.
public struct ThreadInfo: Codable, Sendable, Equatable {
    public var tid: Int32
    public var comm: String
    public var state: TaskState
    public var cpuTimeNs: UInt64
    /// Signal that stopped the thread, when stopped.
    public var stopSignal: String?
    public var blockedSignals: [String]
    /// Registers in `user_regs_struct` order, named as in `ThreadInfo.registerNames`; nil when not read.
    public var registers: [UInt64]?
    /// True when the thread was running during the read, so its saved registers are from its last kernel entry.
    public var registersStale: Bool
    /// Address the kernel clears and futex-wakes when the thread exits
    /// (set_tid_address(2), CLONE_CHILD_CLEARTID); 0 when unset, nil when not read.
    public var clearChildTid: UInt64? = nil

    public static let registerNames = [
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi",
        "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs",
    ]

    public func register(_ name: String) -> UInt64? {
        guard let registers, let i = Self.registerNames.firstIndex(of: name), i < registers.count else { return nil }
        return registers[i]
    }
}

/// Threads (iter/task with the pid filter): state, CPU time and registers.
public enum ThreadsKind: ResourceKind {
    public static let name = "threads"
    public static let title = "Threads"
    public static let columns = [
        Column("TID", width: 8, alignRight: true), Column("S", width: 2), Column("CPU", width: 9, alignRight: true),
        Column("RIP", width: 19), Column("RSP", width: 19), Column("REGS", width: 6), Column("COMM", width: 16),
    ]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [ThreadInfo] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid)
        case .proc: try collectProc(pid: target.pid)
        }
    }

    public static func collectBPF(pid: Int32) throws -> [ThreadInfo] {
        let bytes = try BPFRuntime.shared.object("task").iterate("dump_threads", pid: pid)
        let reader = RecordReader(bytes)
        return try reader.records().filter { Int($0.kind) == Int(BPFCP_REC_THREAD.rawValue) }.map { record in
            let rec = try reader.load(record, as: bpfcp_thread.self)
            let state = TaskState(state: rec.state, exitState: rec.exit_state)
            let regs = withUnsafeBytes(of: rec.regs) { Array($0.bindMemory(to: UInt64.self)) }
            return ThreadInfo(
                tid: rec.tid, comm: Escape.bytes(cStringBytes(rec.comm)), state: state,
                cpuTimeNs: rec.utime_ns + rec.stime_ns,
                stopSignal: StopSignal.name(state: state, jobctl: rec.jobctl, signo: rec.stop_signo, code: rec.stop_code),
                blockedSignals: SignalName.names(mask: rec.blocked),
                registers: rec.regs_valid != 0 ? regs : nil,
                registersStale: rec.on_cpu != 0 || state == .running,
                clearChildTid: rec.clear_child_tid
            )
        }
    }

    /// Reads /proc/PID/task. /proc gives no registers of a running thread, so they stay nil.
    public static func collectProc(pid: Int32) throws -> [ThreadInfo] {
        let tids = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task").compactMap { Int32($0) }.sorted()
        let nsPerTick = 1_000_000_000 / ProcessListProc.ticksPerSecond
        return tids.compactMap { tid in
            guard let stat = try? StatLine(ProcFS.readBytes("/proc/\(pid)/task/\(tid)/stat")),
                  let status = try? ProcFS.readText("/proc/\(pid)/task/\(tid)/status") else { return nil }
            let blocked = UInt64(ProcFS.keyValues(status)["SigBlk"] ?? "0", radix: 16) ?? 0
            return ThreadInfo(
                tid: tid, comm: Escape.bytes(stat.comm), state: TaskState(rawValue: stat.state) ?? .sleeping,
                cpuTimeNs: (stat.number(14) + stat.number(15)) * nsPerTick, stopSignal: nil,
                blockedSignals: SignalName.names(mask: blocked), registers: nil, registersStale: false
            )
        }
    }

    public static func entry(_ t: ThreadInfo) -> Entry {
        let hex = { (v: UInt64?) in v.map { String(format: "0x%016lx", $0) } ?? "-" }
        let regState = t.registers == nil ? "none" : (t.registersStale ? "stale" : "exact")
        var fields = [
            Field("tid", "\(t.tid)"), Field("comm", t.comm), Field("state", "\(t.state.rawValue) (\(t.state.name))"),
            Field("cpu time", Format.duration(t.cpuTimeNs)), Field("blocked signals", t.blockedSignals.joined(separator: "|").ifEmpty("none")),
            Field("registers", regState),
        ]
        if let stop = t.stopSignal { fields.append(Field("stop signal", stop)) }
        if let address = t.clearChildTid { fields.append(Field("clear_child_tid", Format.hex(address))) }
        if let regs = t.registers {
            for (name, value) in zip(ThreadInfo.registerNames, regs) { fields.append(Field(name, hex(value))) }
        }
        let cells = ["\(t.tid)", t.state.rawValue, Format.duration(t.cpuTimeNs), hex(t.register("rip")),
                     hex(t.register("rsp")), regState, t.comm]
        return Entry(key: "thread \(t.tid)", cells: cells, fields: fields)
    }
}
