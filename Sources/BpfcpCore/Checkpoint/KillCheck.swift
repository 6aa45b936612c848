import Foundation

/// The checks `dump --kill` makes beyond restore's own: what the processes
/// of the image share with live processes outside it. Restore cannot see
/// those, because they still run when it starts, and they would make it
/// fail after the kill.
enum KillCheck {
    /// Throws `not_killed` when a process outside the image is in a process
    /// group or session that a process of the image leads (its pid stays
    /// taken, so restore cannot have it back), or has a listening socket
    /// of the image (its address stays bound).
    static func checkNothingSharedOutside(_ checkpoint: Checkpoint, dir: String, pid: Int32) throws {
        let members = Set(checkpoint.processes.map(\.pid))
        for image in checkpoint.processes {
            if let sharing = sharedIdentifier(image.pid, members: members) {
                throw refusal(pid, dir: dir, sharing: sharing)
            }
            for listener in try image.items("sockets", as: Socket.self) where listener.listenBacklog != nil {
                if let holder = OutsideHolders.socketHolders(inode: listener.inode, excluding: members).first {
                    let what = "fd \(listener.fd) of process \(image.pid), the \(listener.family) listener \(listener.local)"
                    throw refusal(pid, dir: dir, sharing: "\(describe(holder.process)) holds \(what), as its fd \(holder.fd), "
                                  + "so the address would stay bound and restore could not listen on it")
                }
            }
        }
    }

    /// Names the outside processes in the group or session that `leader` leads, or nil when there are none.
    private static func sharedIdentifier(_ leader: Int32, members: Set<Int32>) -> String? {
        let group = OutsideHolders.groupMembers(leader, excluding: members)
        let session = OutsideHolders.sessionMembers(leader, excluding: members)
        let kind = group.isEmpty ? "session" : "process group"
        guard let first = (group.isEmpty ? session : group).first else { return nil }
        return "\(describe(first)) is in the \(kind) \(leader) that process \(leader) leads, "
            + "so pid \(leader) would stay taken and restore could not have it back"
    }

    private static func describe(_ process: ProcessEntry) -> String {
        "process \(process.pid) (\(process.comm)), which is not in the image,"
    }

    private static func refusal(_ pid: Int32, dir: String, sharing: String) -> BpfcpError {
        BpfcpError("not_killed", "process \(pid) was not killed because its image could not be restored while another process runs: "
                   + "\(sharing); the image \(Escape.text(dir)) is kept and the process runs on; "
                   + "dump again with --tree to take that process too, or leave out --kill")
    }
}
