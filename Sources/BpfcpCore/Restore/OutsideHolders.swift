import Foundation

/// Live processes outside an image that hold something its processes need
/// free again on restore: a process group or session id that keeps their
/// pid taken, or a listening socket that keeps its address bound.
enum OutsideHolders {
    /// Processes other than `excluding` whose process group id is `pgid`.
    static func groupMembers(_ pgid: Int32, excluding: Set<Int32> = []) -> [ProcessEntry] {
        userProcesses().filter { $0.pgid == pgid && !excluding.contains($0.pid) }
    }

    /// Processes other than `excluding` whose session id is `sid`.
    static func sessionMembers(_ sid: Int32, excluding: Set<Int32>) -> [ProcessEntry] {
        userProcesses().filter { $0.sid == sid && !excluding.contains($0.pid) }
    }

    /// Builds the rejection of a pid that still names a process group,
    /// listing the processes in that group, which keep the pid taken.
    static func groupInUse(_ pgid: Int32) -> BpfcpError {
        let members = groupMembers(pgid)
        guard !members.isEmpty else {
            return BpfcpError("pid_in_use", "pid \(pgid) is still the process group id of running processes: stop them, or restore with --new-pid")
        }
        return BpfcpError("pid_in_use", "pid \(pgid) is still the process group id of these running processes: "
                          + "\(describe(members)); stop them, or restore with --new-pid")
    }

    /// Formats processes as "20443 (sleep), 20444 (sh)"; comms are escaped already.
    static func describe(_ processes: [ProcessEntry]) -> String {
        processes.map { "\($0.pid) (\($0.comm))" }.joined(separator: ", ")
    }

    /// Returns, for each process other than `excluding` with an fd on the
    /// socket with inode `inode`, the process and that fd's number.
    static func socketHolders(inode: UInt64, excluding: Set<Int32>) -> [(process: ProcessEntry, fd: Int32)] {
        let link = Array("socket:[\(inode)]".utf8)
        var holders: [(process: ProcessEntry, fd: Int32)] = []
        for process in userProcesses() where !excluding.contains(process.pid) {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.pid)/fd")) ?? []
            let matching = fds.compactMap { Int32($0) }.sorted().first { ProcFS.readLink("/proc/\(process.pid)/fd/\($0)") == link }
            if let fd = matching { holders.append((process, fd)) }
        }
        return holders
    }

    /// Lists every user process, zombies included, because a zombie keeps its group and session ids taken until it is reaped.
    private static func userProcesses() -> [ProcessEntry] {
        ((try? ProcessListProc.collect()) ?? []).filter { !$0.isKernelThread }.sorted { $0.pid < $1.pid }
    }
}
