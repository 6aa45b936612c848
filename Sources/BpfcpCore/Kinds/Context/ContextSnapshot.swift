import CBpfcpShim
import Foundation

/// The records procctx.bpf.c's dump_context writes for one process.
struct ContextSnapshot {
    let rec: bpfcp_context
    let timers: [bpfcp_posix_timer]
    /// Children forked by threads other than the leader.
    let threadChildren: [Int32]
    let threadChildrenTruncated: Bool

    static func collect(pid: Int32) throws -> ContextSnapshot {
        let bytes = try BPFRuntime.shared.object("procctx").iterate("dump_context", pid: pid)
        let reader = RecordReader(bytes)
        var context: bpfcp_context?
        var timers: [bpfcp_posix_timer] = []
        var threadChildren: [Int32] = []
        var truncated = false

        for record in try reader.records() {
            switch Int(record.kind) {
            case Int(BPFCP_REC_CONTEXT.rawValue):
                context = try reader.load(record, as: bpfcp_context.self)
            case Int(BPFCP_REC_POSIX_TIMER.rawValue):
                timers.append(try reader.load(record, as: bpfcp_posix_timer.self))
            case Int(BPFCP_REC_THREAD_CHILDREN.rawValue):
                let rec = try reader.load(record, as: bpfcp_thread_children.self)
                threadChildren += withUnsafeBytes(of: rec.children) { Array($0.bindMemory(to: Int32.self).prefix(Int(rec.count))) }
                truncated = truncated || rec.truncated != 0
            default:
                continue
            }
        }
        guard let context else { throw BpfcpError.noSuchProcess(pid) }
        return ContextSnapshot(rec: context, timers: timers, threadChildren: threadChildren, threadChildrenTruncated: truncated)
    }

    var state: TaskState { TaskState(state: rec.state, exitState: rec.exit_state) }

    /// Children of every thread, in ascending pid order.
    var children: [Int32] {
        let leader = withUnsafeBytes(of: rec.children) { Array($0.bindMemory(to: Int32.self).prefix(Int(rec.children_count))) }
        return (leader + threadChildren).sorted()
    }

    var childrenTruncated: Bool { rec.children_truncated != 0 || threadChildrenTruncated }

    var cpus: [UInt64] { withUnsafeBytes(of: rec.cpus) { Array($0.bindMemory(to: UInt64.self)) } }

    var limits: [bpfcp_rlimit] { withUnsafeBytes(of: rec.rlim) { Array($0.bindMemory(to: bpfcp_rlimit.self)) } }

    /// The (type, value) pairs of saved_auxv up to AT_NULL.
    var auxv: [(UInt64, UInt64)] {
        let words = withUnsafeBytes(of: rec.auxv) { Array($0.bindMemory(to: UInt64.self)) }
        var pairs: [(UInt64, UInt64)] = []
        for i in stride(from: 0, to: words.count - 1, by: 2) {
            if words[i] == 0 { break }
            pairs.append((words[i], words[i + 1]))
        }
        return pairs
    }

    /// The cgroup v2 path, from the names stored leaf first.
    var cgroupPath: String {
        let names = withUnsafeBytes(of: rec.cgroup) { raw in
            (0..<Int(rec.cgroup_depth)).map { level in
                let slice = raw[(level * Int(BPFCP_CGROUP_NAME))..<((level + 1) * Int(BPFCP_CGROUP_NAME))]
                return Escape.bytes(Array(slice.prefix { $0 != 0 }))
            }
        }
        return "/" + names.reversed().joined(separator: "/")
    }

    /// Signal that stopped the process, when it is stopped.
    var stopSignal: String? {
        let stop = Int32(rec.jobctl & 0xFFFF)
        return (state == .stopped || state == .tracingStop) && stop > 0 ? SignalName.name(stop) : nil
    }
}

/// Resolves a cwd, root or exe link of /proc/PID and checks it names the
/// inode BPF read, because bpf_d_path() is rejected for these pointers in iter/task.
enum LinkedPath {
    /// Returns the escaped path and where it came from, or nil when the task has none.
    static func resolve(pid: Int32, link: String, ref: bpfcp_fs_ref) -> (path: String, source: String)? {
        guard ref.valid != 0 else { return nil }
        let linkPath = "/proc/\(pid)/\(link)"
        guard let target = ProcFS.readLink(linkPath) else {
            return ("inode \(ref.ino) on \(Format.kernelDev(ref.dev))", "bpf (readlink \(linkPath) failed)")
        }
        var st = stat()
        let same = stat(linkPath, &st) == 0 && UInt64(st.st_ino) == ref.ino
        let source = same ? "readlink, same inode as bpf" : "readlink, inode differs from bpf \(ref.ino)"
        return (Escape.bytes(target), source)
    }
}
