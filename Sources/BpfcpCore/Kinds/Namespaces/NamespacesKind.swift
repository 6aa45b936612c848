import CBpfcpShim
import Foundation

/// One namespace of a process, or the process's pid at one pid-namespace level.
public struct NamespaceEntry: Codable, Sendable, Equatable {
    /// Namespace type as /proc/PID/ns names it ("mnt", "pid_for_children"...), or "pid level N".
    public var name: String
    /// Inode of the namespace, nil when the task no longer has it (a zombie has dropped its nsproxy).
    public var inode: UInt32?
    /// Pid-namespace level, 0 for the initial namespace; set only on pid-level rows.
    public var level: Int?
    /// The process's pid as seen in that level's namespace.
    public var pid: Int32?
}

/// Namespaces (iter/task, leader only) and the pid at every pid-namespace level.
public enum NamespacesKind: ResourceKind {
    public static let name = "namespaces"
    public static let title = "Namespaces"
    public static let columns = [Column("NAMESPACE", width: 18), Column("INODE", width: 12, alignRight: true),
                                 Column("PID", width: 10, alignRight: true)]

    /// Namespace types in the order /proc/PID/ns lists them.
    public static let types = ["cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children", "user", "uts"]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [NamespaceEntry] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid)
        case .proc: try collectProc(pid: target.pid)
        }
    }

    public static func collectBPF(pid: Int32) throws -> [NamespaceEntry] {
        let bytes = try BPFRuntime.shared.object("ns").iterate("dump_namespaces", pid: pid)
        let reader = RecordReader(bytes)
        guard let record = try reader.records().first(where: { Int($0.kind) == Int(BPFCP_REC_NS.rawValue) }) else {
            throw BpfcpError.noSuchProcess(pid)
        }
        let rec = try reader.load(record, as: bpfcp_ns.self)
        let proxy = rec.has_nsproxy != 0
        let inodes: [String: UInt32?] = [
            "cgroup": proxy ? rec.cgroup : nil, "ipc": proxy ? rec.ipc : nil, "mnt": proxy ? rec.mnt : nil,
            "net": proxy ? rec.net : nil, "pid": rec.pid, "pid_for_children": proxy ? rec.pid_for_children : nil,
            "time": proxy ? rec.time : nil, "time_for_children": proxy ? rec.time_for_children : nil,
            "user": rec.user, "uts": proxy ? rec.uts : nil,
        ]
        let levels = withUnsafeBytes(of: rec.levels) { Array($0.bindMemory(to: bpfcp_pid_level.self)) }
        let used = levels.prefix(Int(min(rec.level, UInt32(BPFCP_PID_LEVELS - 1))) + 1)
        return types.map { NamespaceEntry(name: $0, inode: inodes[$0] ?? nil, level: nil, pid: nil) }
            + used.enumerated().map { NamespaceEntry(name: "pid level \($0.offset)", inode: $0.element.ns_inum, level: $0.offset, pid: $0.element.nr) }
    }

    /// Reads /proc/PID/ns links and NSpid. /proc gives the pid-namespace inode only for the
    /// process's own level, so the other levels' inodes stay nil.
    public static func collectProc(pid: Int32) throws -> [NamespaceEntry] {
        let status = ProcFS.keyValues(try ProcFS.readText("/proc/\(pid)/status"))
        let nsPids = (status["NSpid"] ?? "").split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { Int32($0) }
        let rows = types.map { type in
            NamespaceEntry(name: type, inode: ProcFS.readLink("/proc/\(pid)/ns/\(type)").flatMap(inode), level: nil, pid: nil)
        }
        let own = rows.first { $0.name == "pid" }?.inode
        let levels = nsPids.enumerated().map { level, nr in
            NamespaceEntry(name: "pid level \(level)", inode: level == nsPids.count - 1 ? own : nil, level: level, pid: nr)
        }
        return rows + levels
    }

    /// Parses the inode out of a "type:[4026531836]" link.
    static func inode(_ link: [UInt8]) -> UInt32? {
        let text = String(decoding: link, as: UTF8.self)
        guard let open = text.lastIndex(of: "["), let close = text.lastIndex(of: "]"), open < close else { return nil }
        return UInt32(text[text.index(after: open)..<close])
    }

    public static func entry(_ n: NamespaceEntry) -> Entry {
        let inode = n.inode.map(String.init) ?? "-"
        let pid = n.pid.map(String.init) ?? ""
        var fields = [Field("namespace", n.name), Field("inode", n.inode.map(String.init) ?? "none (the task has exited)")]
        if let level = n.level { fields += [Field("level", "\(level)"), Field("pid in namespace", pid)] }
        return Entry(key: n.name, cells: [n.name, inode, pid], fields: fields)
    }
}
