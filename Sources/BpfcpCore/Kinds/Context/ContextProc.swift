import Foundation

/// Reads the process context from /proc/PID/stat, status, auxv, cgroup,
/// personality and the cwd, root and exe links. /proc has no stop signal.
enum ContextProc {
    static func collect(pid: Int32) throws -> [ContextProperty] {
        let stat = try StatLine(ProcFS.readBytes("/proc/\(pid)/stat"), path: "/proc/\(pid)/stat")
        let status = ProcFS.keyValues(try ProcFS.readText("/proc/\(pid)/status"))
        return identity(pid: pid, stat: stat, status: status) + scheduling(stat: stat, status: status)
            + environment(pid: pid, status: status) + auxv(pid: pid)
    }

    static func identity(pid: Int32, stat: StatLine, status: [String: String]) -> [ContextProperty] {
        let row = { (name: String, value: String) in ContextProperty(group: "identity", name: name, value: value, source: "proc") }
        let state = TaskState(rawValue: stat.state) ?? .sleeping
        let tracer = Int32(status["TracerPid"] ?? "0") ?? 0
        var rows = [
            row("pid", "\(pid)"), row("state", "\(state.rawValue) (\(state.name))"), row("parent", "\(stat.number(4))"),
            row("process group", "\(stat.number(5))"), row("session", "\(stat.number(6))"),
            row("tracer", tracer == 0 ? "none" : "\(tracer)"),
            row("children", children(pid: pid).map(String.init).joined(separator: ",").ifEmpty("none")),
            row("kernel thread", stat.number(9) & 0x0020_0000 != 0 ? "yes" : "no"),
        ]
        if state == .zombie { rows += ContextKind.exitRows(Int32(truncatingIfNeeded: stat.number(52)), source: "proc") }
        return rows
    }

    /// Children of every thread, from /proc/PID/task/TID/children, in ascending order.
    static func children(pid: Int32) -> [Int32] {
        let tids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        let all = tids.flatMap { tid in
            ((try? ProcFS.readText("/proc/\(pid)/task/\(tid)/children")) ?? "").split(separator: " ").compactMap { Int32($0) }
        }
        return all.sorted()
    }

    static func scheduling(stat: StatLine, status: [String: String]) -> [ContextProperty] {
        let row = { (name: String, value: String) in ContextProperty(group: "scheduling", name: name, value: value, source: "proc") }
        return [
            row("policy", ContextNames.policy(UInt32(stat.number(41)))),
            row("nice", "\(Int64(bitPattern: stat.number(19)))"), row("rt priority", "\(stat.number(40))"),
            row("cpu affinity", status["Cpus_allowed_list"] ?? ""),
        ]
    }

    static func environment(pid: Int32, status: [String: String]) -> [ContextProperty] {
        let row = { (name: String, value: String) in ContextProperty(group: "environment", name: name, value: value, source: "proc") }
        let cgroupLine = ((try? ProcFS.readText("/proc/\(pid)/cgroup")) ?? "").split(separator: "\n").first { $0.hasPrefix("0::") }
        let personality = UInt32(((try? ProcFS.readText("/proc/\(pid)/personality")) ?? "0").trimmingCharacters(in: .whitespacesAndNewlines), radix: 16) ?? 0
        var rows = [row("cgroup", cgroupLine.map { String($0.dropFirst(3)) } ?? ""), row("personality", ContextNames.personality(personality))]
        if let umask = status["Umask"] { rows.append(row("umask", umask)) }
        for link in ["cwd", "root", "exe"] {
            guard let target = ProcFS.readLink("/proc/\(pid)/\(link)") else { continue }
            rows.append(ContextProperty(group: "environment", name: link, value: Escape.bytes(target), source: "proc"))
        }
        return rows
    }

    static func auxv(pid: Int32) -> [ContextProperty] {
        guard let bytes = try? ProcFS.readBytes("/proc/\(pid)/auxv") else { return [] }
        let words = stride(from: 0, to: bytes.count - 7, by: 8).map { i in
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[i + $1]) << UInt64(8 * $1) }
        }
        var rows: [ContextProperty] = []
        for i in stride(from: 0, to: words.count - 1, by: 2) {
            if words[i] == 0 { break }
            rows.append(ContextProperty(group: "auxv", name: ContextNames.auxvTypes[words[i]] ?? "AT_\(words[i])",
                                        value: ContextNames.auxvValue(type: words[i], value: words[i + 1]), source: "proc"))
        }
        return rows
    }
}
