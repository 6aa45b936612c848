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
        let target = Target(pid: pid, process: process, fdTable: sharedFdPass(pid: pid, source: source, kinds: kinds))

        var sections: [Section] = []
        for kind in kinds {
            do {
                sections.append(try kind.collect(target, source))
            } catch {
                // A collector that fails because the process went away
                // (ENOENT on /proc/PID/fd, ESRCH) reports that exit, not its own error.
                try checkStillAlive(process, source: source)
                guard let reason = deniedReason(error, process: process, source: source) else { throw error }
                sections.append(Section(kind: kind.name, source: source, unavailable: reason, elapsedNs: 0, items: [], entries: []))
            }
        }

        try checkStillAlive(process, source: source)
        return Dump(pid: pid, process: process, source: source, takenAt: Date().timeIntervalSince1970,
                    totalNs: Clock.now() - start, sections: sections)
    }

    /// Runs the shared pass over the fd table when more than one of `kinds`
    /// reads it, so that they walk the table once. A failing pass is logged
    /// and each kind then runs its own program and reports its own error.
    public static func sharedFdPass(pid: Int32, source: CollectorSource, kinds: [KindDescriptor]) -> FdTablePass? {
        guard source == .bpf, kinds.filter(\.readsFdTable).count > 1 else { return nil }
        do {
            return try FdTablePass.run(pid: pid)
        } catch {
            Log.shared.write("shared fd-table pass of process \(pid) failed, each fd kind reads alone: \(error)")
            return nil
        }
    }

    /// Returns the reason a /proc collector could not read its files, so that
    /// its section is marked unavailable. Without root, a permission error or
    /// a process of another user gives "needs root: ...". As root, a
    /// permission error gives "denied even to root: ...", as for pid 1 of some sandboxes.
    private static func deniedReason(_ error: Error, process: ProcessEntry, source: CollectorSource) -> String? {
        guard source == .proc else { return nil }
        let message = (error as? BpfcpError)?.message ?? "\(error)"
        let denied = (error as? CocoaError)?.code == .fileReadNoPermission
            || ["Permission denied", "permission denied", "Operation not permitted"].contains(where: message.contains)
        if geteuid() == 0 {
            // The message's own fix ("run bpfcp as root") does not apply to root.
            return denied ? "denied even to root: \(message.split(separator: ";")[0])" : nil
        }
        guard denied || process.euid != geteuid() else { return nil }
        return "needs root: /proc shows it only to the owner of process \(process.pid) (uid \(process.euid)) and to root"
    }

    /// Looks the process up and rejects pids that cannot be dumped.
    public static func validTarget(pid: Int32, source: CollectorSource) throws -> ProcessEntry {
        guard pid > 0 else { throw BpfcpError.invalidPid("\(pid)") }
        if isThread(pid) {
            throw BpfcpError("thread_id", "pid \(pid) is a thread of process \(threadGroup(pid)), not a process: run `bpfcp dump \(threadGroup(pid))`")
        }
        let entries = source == .bpf ? try ProcessListBPF.collect(pid: pid) : ((try? ProcessListProc.collect(pid: pid)) ?? [])
        guard let process = entries.first(where: { $0.pid == pid }) else {
            let shownInProc = source == .bpf && access("/proc/\(pid)/stat", F_OK) == 0
            throw shownInProc ? BpfcpError.notIterated(pid) : BpfcpError.noSuchProcess(pid)
        }
        if process.isKernelThread { throw BpfcpError.kernelThread(pid, process.comm) }
        if process.isZombie, let signal = process.exitSignal { throw BpfcpError.zombie(pid, process.comm, signal: signal) }
        if process.isZombie { throw BpfcpError.zombie(pid, process.comm, status: process.exitStatus ?? 0) }
        return process
    }

    /// Throws `exited` unless the process is still the one the dump started on
    /// and has not begun to exit. The pid may have been reused by a new process
    /// while the dump ran, so start times are compared. PF_EXITING is set at the
    /// start of do_exit() and never cleared, before the kernel drops the file
    /// table and address space, so a dump that ends with the flag clear saw them whole.
    private static func checkStillAlive(_ process: ProcessEntry, source: CollectorSource) throws {
        let now = source == .bpf ? try ProcessListBPF.collect(pid: process.pid) : ((try? ProcessListProc.collect(pid: process.pid)) ?? [])
        guard let again = now.first(where: { $0.pid == process.pid }), !again.isZombie,
              again.startTimeNs / 10_000_000 == process.startTimeNs / 10_000_000,
              !isExiting(process.pid) else {
            throw BpfcpError.exited(process.pid)
        }
    }

    /// Reads PF_EXITING of the thread-group leader from /proc/PID/stat. A
    /// missing stat file means the process is gone, which counts as exiting.
    private static func isExiting(_ pid: Int32) -> Bool {
        let pfExiting: UInt64 = 0x4
        guard let bytes = try? ProcFS.readBytes("/proc/\(pid)/stat"), let stat = try? StatLine(bytes) else { return true }
        return stat.number(9) & pfExiting != 0
    }

    private static func isThread(_ pid: Int32) -> Bool {
        threadGroup(pid) != pid && threadGroup(pid) > 0
    }

    private static func threadGroup(_ pid: Int32) -> Int32 {
        guard let status = try? ProcFS.readText("/proc/\(pid)/status") else { return 0 }
        return Int32(ProcFS.keyValues(status)["Tgid"] ?? "0") ?? 0
    }
}
