import Foundation

/// Everything collected about one process at one moment.
public struct Dump: Codable, Sendable, Equatable {
    public static let schemaVersion = 1

    public var pid: Int32
    public var process: ProcessEntry
    public var source: CollectorSource
    /// Wall-clock time of the capture, seconds since the epoch.
    public var takenAt: Double
    public var totalNs: UInt64
    public var sections: [Section]

    public func section(_ kind: String) -> Section? {
        sections.first { $0.kind == kind }
    }
}

/// Collects a live dump without stopping the target.
public enum Dumper {
    /// Dumps `pid` with every kind in `kinds` (all by default) from `source`.
    /// Throws one-line errors for invalid targets and for a process that exits meanwhile.
    public static func dump(pid: Int32, source: CollectorSource = .bpf,
                            kinds: [KindDescriptor] = KindRegistry.all) throws -> Dump {
        let start = Clock.now()
        let process = try validTarget(pid: pid, source: source)
        let target = Target(pid: pid, process: process)

        var sections: [Section] = []
        for kind in kinds {
            do {
                sections.append(try kind.collect(target, source))
            } catch let error as BpfcpError where error.code == "no_such_process" {
                throw BpfcpError.exited(pid)
            }
        }

        try checkStillAlive(process, source: source)
        return Dump(pid: pid, process: process, source: source, takenAt: Date().timeIntervalSince1970,
                    totalNs: Clock.now() - start, sections: sections)
    }

    /// Looks the process up and rejects pids that cannot be dumped.
    public static func validTarget(pid: Int32, source: CollectorSource) throws -> ProcessEntry {
        guard pid > 0 else { throw BpfcpError.invalidPid("\(pid)") }
        let entries = source == .bpf ? try ProcessListBPF.collect(pid: pid) : ((try? ProcessListProc.collect(pid: pid)) ?? [])
        guard let process = entries.first(where: { $0.pid == pid }) else {
            if source == .bpf, isThread(pid) {
                throw BpfcpError("thread_id", "\(pid) is a thread, not a process: dump its process \(threadGroup(pid)) instead")
            }
            throw BpfcpError.noSuchProcess(pid)
        }
        if process.isKernelThread { throw BpfcpError.kernelThread(pid, process.comm) }
        if process.isZombie { throw BpfcpError.zombie(pid, process.comm, status: process.exitStatus ?? 0) }
        return process
    }

    /// The pid may have been reused by a new process while the dump ran, so compare start times.
    private static func checkStillAlive(_ process: ProcessEntry, source: CollectorSource) throws {
        let now = source == .bpf ? try ProcessListBPF.collect(pid: process.pid) : ((try? ProcessListProc.collect(pid: process.pid)) ?? [])
        guard let again = now.first(where: { $0.pid == process.pid }), !again.isZombie,
              again.startTimeNs / 10_000_000 == process.startTimeNs / 10_000_000 else {
            throw BpfcpError.exited(process.pid)
        }
    }

    private static func isThread(_ pid: Int32) -> Bool {
        threadGroup(pid) != pid && threadGroup(pid) > 0
    }

    private static func threadGroup(_ pid: Int32) -> Int32 {
        guard let status = try? ProcFS.readText("/proc/\(pid)/status") else { return 0 }
        return Int32(ProcFS.keyValues(status)["Tgid"] ?? "0") ?? 0
    }
}
