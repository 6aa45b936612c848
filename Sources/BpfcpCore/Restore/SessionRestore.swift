import Foundation

/// Puts a restored process into its session and process group. A process
/// that led its session calls setsid(), and one that led its group calls
/// setpgid(0, 0), before it creates its children, so that they inherit
/// the new session or group as they did originally. A process in a group
/// led by another restored process joins it once every process exists.
/// A session or group whose leader is not in the image stays restore's own.
struct SessionRestore {
    let injector: Injector
    /// Restored pid of each image pid; a pid missing here is unchanged.
    let pids: [Int32: Int32]

    private func restored(_ pid: Int32) -> Int32 { pids[pid] ?? pid }

    /// Makes the process `pid` (an image pid) lead its session or process
    /// group when it did; nil ids leave it in restore's.
    func join(_ pid: Int32, session: Int32?, processGroup: Int32?) throws {
        if session == pid {
            try injector.call(SyscallNumber.setsid, [], text: "setsid() /* process \(pid) led its session */",
                              expected: Int64(restored(pid)))
        } else if processGroup == pid {
            try injector.call(SyscallNumber.setpgid, [.int(0), .int(0)], text: "setpgid(0, 0) /* process \(pid) led its process group */")
        }
    }

    /// Moves the process `pid` into the group of another restored process.
    func joinGroup(_ pid: Int32, processGroup: Int32, members: Set<Int32>) throws {
        guard processGroup != pid, members.contains(processGroup) else { return }
        let group = restored(processGroup)
        try injector.call(SyscallNumber.setpgid, [.int(0), .int(Int(group))],
                          text: "setpgid(0, \(group)) /* the process group of process \(processGroup) */")
    }
}
