import Foundation

/// Compares which fds of a restored family share an open file description
/// with which others, against the image. The files kind's `openFileId`
/// names the description of each fd, but its value changes from one run
/// to the next, so the check compares the groups of fds, not the ids.
enum DescriptionSharing {
    /// One fd of a family: image pid and fd number.
    struct Slot: Hashable, Comparable {
        var pid: Int32
        var fd: Int32

        static func < (a: Slot, b: Slot) -> Bool { (a.pid, a.fd) < (b.pid, b.fd) }
    }

    static let terminalReason = "restore attaches terminal fds to its own stdin, stdout and stderr, or to the --stdio file"

    /// Returns a difference for each fd whose group of sharing fds differs.
    /// `saved` and `restored` hold the files of each member by image pid,
    /// `pids` the restored pid of each image pid, and `root` the image pid
    /// whose differences carry no process prefix in their key.
    static func compare(saved: [Int32: [OpenFile]], restored: [Int32: [OpenFile]], pids: [Int32: Int32],
                        root: Int32) -> [VerifyDifference] {
        let before = groups(saved)
        let after = groups(restored)
        let files = Dictionary(saved.flatMap { pid, list in list.map { (Slot(pid: pid, fd: $0.fd), $0) } },
                               uniquingKeysWith: { a, _ in a })
        var out: [VerifyDifference] = []
        for slot in Set(before.keys).intersection(after.keys).sorted() {
            let was = before[slot]!.subtracting([slot])
            let now = after[slot]!.subtracting([slot])
            guard was != now else { continue }
            let pid = pids[slot.pid] ?? slot.pid
            let key = slot.pid == root ? "fd \(slot.fd)" : "process \(pid) fd \(slot.fd)"
            let summary = "shares its open file description with \(describe(was, pids)) → \(describe(now, pids))"
            let terminal = files[slot].map { $0.type == .charDevice && ImagePlan.isTerminal(String(decoding: Escape.unescape($0.path), as: UTF8.self)) } ?? false
            out.append(VerifyDifference(kind: "files", key: key, summary: summary, expected: terminal,
                                        reason: terminal ? terminalReason : nil))
        }
        return out
    }

    /// Maps each fd to the group of fds that share its description, the fd
    /// included. Fds without an id (files read from /proc) are left out.
    static func groups(_ files: [Int32: [OpenFile]]) -> [Slot: Set<Slot>] {
        var byId: [String: Set<Slot>] = [:]
        for (pid, list) in files {
            for file in list {
                guard let id = file.openFileId else { continue }
                byId[id, default: []].insert(Slot(pid: pid, fd: file.fd))
            }
        }
        var out: [Slot: Set<Slot>] = [:]
        for group in byId.values {
            for slot in group { out[slot] = group }
        }
        return out
    }

    private static func describe(_ slots: Set<Slot>, _ pids: [Int32: Int32]) -> String {
        guard !slots.isEmpty else { return "no other fd" }
        return slots.sorted().map { "process \(pids[$0.pid] ?? $0.pid) fd \($0.fd)" }.joined(separator: ", ")
    }
}
