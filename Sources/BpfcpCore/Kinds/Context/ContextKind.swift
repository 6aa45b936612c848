import CBpfcpShim
import Foundation

/// One property of a process's context, with the source it was read from.
public struct ContextProperty: Codable, Sendable, Equatable {
    /// "identity", "scheduling", "environment" or "auxv".
    public var group: String
    public var name: String
    public var value: String
    /// "bpf", "proc", or how a path was resolved ("readlink, same inode as bpf").
    public var source: String
}

extension ContextProperty: TreeBuildable {
    /// Builds an item of the context kind, which restore reads three times while planning (see `TreeBuildable`).
    init?(tree: JSONValue) {
        guard var object = TreeObject(tree), let group = object.string("group"), let name = object.string("name"),
              let value = object.string("value"), let source = object.string("source"), object.isComplete else { return nil }
        self.init(group: group, name: name, value: value, source: source)
    }
}

/// Process context (iter/task, leader only): identity and tree, scheduling,
/// environment and the auxiliary vector, one row per property.
public enum ContextKind: ResourceKind {
    public static let name = "context"
    public static let title = "Context"
    public static let columns = [Column("GROUP", width: 12), Column("PROPERTY", width: 20), Column("VALUE", width: 50),
                                 Column("SOURCE", width: 26)]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [ContextProperty] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid)
        case .proc: try ContextProc.collect(pid: target.pid)
        }
    }

    public static func collectBPF(pid: Int32) throws -> [ContextProperty] {
        let snapshot = try ContextSnapshot.collect(pid: pid)
        return identity(snapshot) + scheduling(snapshot) + environment(snapshot, pid: pid) + auxv(snapshot)
    }

    static func identity(_ s: ContextSnapshot) -> [ContextProperty] {
        let rec = s.rec
        let row = { (name: String, value: String) in ContextProperty(group: "identity", name: name, value: value, source: "bpf") }
        var rows = [
            row("pid", "\(rec.tgid)"), row("state", "\(s.state.rawValue) (\(s.state.name))"),
            row("parent", "\(rec.ppid)"), row("process group", "\(rec.pgid)"), row("session", "\(rec.sid)"),
            row("tracer", rec.tracer_pid == 0 ? "none" : "\(rec.tracer_pid)"),
            row("children", s.children.map(String.init).joined(separator: ",").ifEmpty("none") + (s.childrenTruncated ? ",..." : "")),
            row("kernel thread", rec.flags & 0x0020_0000 != 0 ? "yes" : "no"),
        ]
        if let stop = s.stopSignal { rows.append(row("stop signal", stop)) }
        if s.state == .zombie { rows += exitRows(rec.exit_code, source: "bpf") }
        return rows
    }

    /// Rows for a zombie's wait status: exit status, or the signal that killed it.
    static func exitRows(_ code: Int32, source: String) -> [ContextProperty] {
        let signal = code & 0x7F
        if signal != 0 {
            let dumped = code & 0x80 != 0 ? " (core dumped)" : ""
            return [ContextProperty(group: "identity", name: "killed by", value: SignalName.name(signal) + dumped, source: source)]
        }
        return [ContextProperty(group: "identity", name: "exit status", value: "\((code >> 8) & 0xFF)", source: source)]
    }

    static func scheduling(_ s: ContextSnapshot) -> [ContextProperty] {
        let rec = s.rec
        let row = { (name: String, value: String) in ContextProperty(group: "scheduling", name: name, value: value, source: "bpf") }
        return [
            row("policy", ContextNames.policy(rec.policy)), row("nice", "\(rec.static_prio - 120)"),
            row("rt priority", "\(rec.rt_priority)"), row("cpu affinity", ContextNames.cpuList(s.cpus)),
        ]
    }

    static func environment(_ s: ContextSnapshot, pid: Int32) -> [ContextProperty] {
        let rec = s.rec
        let row = { (name: String, value: String) in ContextProperty(group: "environment", name: name, value: value, source: "bpf") }
        var rows = [row("cgroup", s.cgroupPath), row("personality", ContextNames.personality(rec.personality))]
        if rec.umask >= 0 { rows.append(row("umask", String(format: "%04o", rec.umask))) }
        for (name, link, ref) in [("cwd", "cwd", rec.cwd), ("root", "root", rec.root), ("exe", "exe", rec.exe)] {
            guard let resolved = LinkedPath.resolve(pid: pid, link: link, ref: ref) else { continue }
            rows.append(ContextProperty(group: "environment", name: name, value: resolved.path, source: resolved.source))
        }
        return rows
    }

    static func auxv(_ s: ContextSnapshot) -> [ContextProperty] {
        s.auxv.map { type, value in
            ContextProperty(group: "auxv", name: ContextNames.auxvTypes[type] ?? "AT_\(type)",
                            value: ContextNames.auxvValue(type: type, value: value), source: "bpf")
        }
    }

    public static func entry(_ p: ContextProperty) -> Entry {
        Entry(key: "\(p.group) \(p.name)", cells: [p.group, p.name, p.value, p.source],
              fields: [Field("group", p.group), Field(p.name, p.value), Field("source", p.source)])
    }
}
