import Foundation

/// One difference between the image and the restored process.
public struct VerifyDifference: Codable, Sendable, Equatable {
    /// Resource kind, or "process" for the process-wide fields.
    public var kind: String
    public var key: String
    public var summary: String
    /// True for differences restore causes on purpose or cannot avoid, and `reason` gives the cause.
    public var expected: Bool
    public var reason: String?
}

/// Compares the restored process, dumped through BPF while it is still held
/// at its final registers, with the image it came from.
enum RestoreVerifier {
    /// Kinds of the image that the live dump collects again. The image's own
    /// synthetic sections (registers, pages) have no live counterpart.
    static func verify(_ image: ProcessImage, info: CheckpointInfo, pid: Int32, plan: RestorePlan) throws -> [VerifyDifference] {
        var before = CheckpointView.dump(image, info: info)
        let names = Set(image.sections.map(\.kind))
        before.sections = before.sections.filter { names.contains($0.kind) }
        if pid != image.pid { before = renamed(before, from: image.pid, to: pid) }
        let kinds = KindRegistry.all.filter { names.contains($0.name) }
        let after = try Dumper.dump(pid: pid, source: .bpf, kinds: kinds)

        let diff = Differ.diff(before, after, beforeLabel: "image", afterLabel: "restored")
        var out: [VerifyDifference] = diff.process.map { change in
            let reason = processReason(change.name, newPid: pid != image.pid)
            return VerifyDifference(kind: "process", key: "process \(pid)", summary: "\(change.name) \(change.before) → \(change.after)",
                                    expected: reason != nil, reason: reason)
        }
        let resumed = plan.threads.first.map { ProcessRestorer.resumeRegisters($0.registers) }
        for kind in diff.kinds {
            for entry in kind.entries where entry.change != .unchanged {
                guard entry.change == .changed else {
                    out.append(VerifyDifference(kind: kind.kind, key: entry.key, summary: entry.summary.joined(separator: "; "),
                                                expected: false, reason: nil))
                    continue
                }
                let newPipe = entry.fields.contains { ["path", "identity"].contains($0.name) && $0.before.hasPrefix("pipe:[") }
                for field in entry.fields {
                    let reason = fieldReason(kind: kind.kind, field: field, resumed: resumed, newPid: pid != image.pid, newPipe: newPipe)
                        ?? plan.settings.reason(kind: kind.kind, key: entry.key, field: field.name)
                    out.append(VerifyDifference(kind: kind.kind, key: entry.key, summary: "\(field.name) \(field.before) → \(field.after)",
                                                expected: reason != nil, reason: reason))
                }
            }
        }
        return out
    }

    private static func processReason(_ field: String, newPid: Bool) -> String? {
        switch field {
        case "pid": newPid ? "restored with --new-pid" : nil
        case "ppid": "restore is the new parent"
        case "state": "held in a ptrace stop while verified"
        case "tracer pid": "traced by restore while verified"
        case "process group", "session": "restore keeps its own process group and session; restoring them is not supported yet"
        default: nil
        }
    }

    private static func fieldReason(kind: String, field: FieldChange, resumed: Registers?, newPid: Bool, newPipe: Bool) -> String? {
        switch (kind, field.name) {
        case ("threads", "cpu time"): return "CPU time starts again from zero"
        case ("threads", "state"), ("threads", "registers"): return "held in a ptrace stop while verified"
        case (_, "tid") where newPid: return "restored with --new-pid"
        case ("context", "pid") where newPid, ("namespaces", "pid in namespace") where newPid, ("timers", "target") where newPid:
            return "restored with --new-pid"
        case ("context", "process group"), ("context", "session"):
            return "restore keeps its own process group and session; restoring them is not supported yet"
        case ("context", "parent"): return "restore is the new parent"
        case ("context", "state"), ("context", "stop signal"): return "held in a ptrace stop while verified"
        case ("context", "tracer"): return "traced by restore while verified"
        case ("memory", "resident pages"), ("memory", "swapped pages"): return "pages that were not saved load on demand"
        case ("events", "eventfd id"): return "the kernel numbers each new eventfd with the lowest free id"
        case ("files", "path"), ("files", "inode"), ("pipes", "identity"), ("pipes", "inode"):
            return newPipe ? "a new pipe has a new inode" : nil
        case ("threads", let name) where ["rip", "rax", "orig_rax"].contains(name):
            guard let resumed, let index = ThreadInfo.registerNames.firstIndex(of: name) else { return nil }
            return field.after == String(format: "0x%016lx", resumed[index]) ? "set up to repeat the interrupted system call" : nil
        default: return nil
        }
    }

    /// Renames thread keys and tid fields to the new pid, so that a single
    /// thread restored with --new-pid is compared with its saved self.
    private static func renamed(_ dump: Dump, from old: Int32, to new: Int32) -> Dump {
        var copy = dump
        copy.sections = dump.sections.map { section in
            let entries = section.entries.map { entry in
                entry.key == "thread \(old)" ? Entry(key: "thread \(new)", cells: entry.cells, fields: entry.fields) : entry
            }
            return Section(kind: section.kind, source: section.source, unavailable: section.unavailable,
                           elapsedNs: section.elapsedNs, items: section.items, entries: entries)
        }
        return copy
    }
}
