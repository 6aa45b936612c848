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

    /// Kind and key for a report line, without saying the kind twice
    /// when the key already starts with it ("process 4715").
    public var subject: String {
        key.hasPrefix(kind + " ") ? key : "\(kind) \(key)"
    }
}

/// Compares the restored process, dumped through BPF while it is still held
/// at its final registers, with the image it came from.
enum RestoreVerifier {
    /// Kinds of the image that the live dump collects again. The image's own
    /// synthetic sections (registers, pages) have no live counterpart.
    /// `tids` maps each saved tid to the restored one (they differ with
    /// --new-pid), and `family` the pid of each process of a family image.
    /// `dumped` gets the live dump of the restored process. `options` are
    /// the restore's own: the reasons name its `--stdio` file and new pid.
    static func verify(_ image: ProcessImage, info: CheckpointInfo, pid: Int32, plan: RestorePlan, options: RestoreOptions,
                       tids: [Int32: Int32] = [:], family: [Int32: Int32] = [:],
                       dumped: ((Dump) -> Void)? = nil) throws -> [VerifyDifference] {
        var before = CheckpointView.dump(image, info: info)
        let names = Set(image.sections.map(\.kind))
        before.sections = before.sections.filter { names.contains($0.kind) }
        var renames = tids.merging(family) { a, _ in a }.filter { $0.key != $0.value }
        if pid != image.pid { renames[image.pid] = pid }
        let outside = outsideFields(image, members: Set(family.keys).union([image.pid]))
        let files = try FileVerifyReasons(image: image, plan: plan, stdio: options.stdio)
        let newPid = pid != image.pid ? options.newPidReason : nil
        // A pidfd restore opened for a restored process has a new inode, like a new pipe.
        let pidfdKeys = Set(try image.items("events", as: EventFile.self).filter { $0.type == "pidfd" }.map { "fd \($0.fd)" })
        if !renames.isEmpty { before = renamed(before, tids: renames) }
        let kinds = KindRegistry.all.filter { names.contains($0.name) }
        let after = try Dumper.dump(pid: pid, source: .bpf, kinds: kinds)
        dumped?(after)
        let newObjects = NewObjects(before: before, after: after)
        before = newObjects.aligned(before)

        let diff = Differ.diff(before, after, beforeLabel: "image", afterLabel: "restored")
        let timerDifferences = TimerDifferences(timers: plan.timers, after: after)
        var out: [VerifyDifference] = diff.process.map { change in
            let reason = processReason(change.name, newPid: newPid, outside: outside) ?? renamedTids(change, renames, options)
            return VerifyDifference(kind: "process", key: "process \(pid)", summary: "\(change.name) \(change.before) → \(change.after)",
                                    expected: reason != nil, reason: reason)
        }
        let restoredTid = { (tid: Int32) in renames[tid] ?? tid }
        let resumedByKey = Dictionary(plan.threads.map { ("thread \(restoredTid($0.tid))", ProcessRestorer.resumeRegisters($0.registers)) },
                                      uniquingKeysWith: { a, _ in a })
        for kind in diff.kinds {
            for entry in kind.entries where entry.change != .unchanged {
                guard entry.change == .changed else {
                    var reason = entry.change == .removed && kind.kind == "context" && entry.key == "identity stop signal" && plan.stopSignal != nil
                        ? "held in a ptrace stop while verified; the stop signal comes back on release" : nil
                    if entry.change == .added { reason = reason ?? timerDifferences.reason(kind: kind.kind, added: entry.key) }
                    out.append(VerifyDifference(kind: kind.kind, key: entry.key, summary: entry.summary.joined(separator: "; "),
                                                expected: reason != nil, reason: reason))
                    continue
                }
                let newPipe = entry.fields.contains { ["path", "identity"].contains($0.name) && $0.before.hasPrefix("pipe:[") }
                    || (kind.kind == "files" && pidfdKeys.contains(entry.key))
                for field in entry.fields {
                    let restoreReason = fieldReason(kind: kind.kind, field: field, resumed: resumedByKey[entry.key], newPid: newPid,
                                                    newPipe: newPipe, outside: outside)
                        ?? plan.settings.reason(kind: kind.kind, key: entry.key, field: field.name) ?? renamedTids(field, renames, options)
                    let reason = restoreReason ?? files.reason(kind: kind.kind, key: entry.key, field: field.name)
                        ?? newObjects.reason(kind: kind.kind, key: entry.key, field: field)
                        ?? childrenReason(kind: kind.kind, field: field, family: family)
                        ?? timerDifferences.reason(kind: kind.kind, key: entry.key, field: field)
                    out.append(VerifyDifference(kind: kind.kind, key: entry.key, summary: "\(field.name) \(field.before) → \(field.after)",
                                                expected: reason != nil, reason: reason))
                }
            }
        }
        return out
    }

    /// Names the process fields whose saved value is a process outside the
    /// image (the parent of the root, or a group or session leader), which
    /// restore cannot bring back, so the restored process keeps restore's.
    private static func outsideFields(_ image: ProcessImage, members: Set<Int32>) -> Set<String> {
        var names: Set<String> = []
        if !members.contains(image.process.ppid) { names.insert("parent") }
        if !members.contains(image.process.pgid) { names.insert("process group") }
        if !members.contains(image.process.sid) { names.insert("session") }
        return names
    }

    private static let leaderOutside = "its leader is not in the image, so the process keeps restore's"

    /// `newPid` is the reason for a new pid, nil when the pid is the image's.
    private static func processReason(_ field: String, newPid: String?, outside: Set<String>) -> String? {
        switch field {
        case "pid": newPid
        case "ppid": outside.contains("parent") ? "restore is the new parent" : nil
        case "state": "held in a ptrace stop while verified"
        case "tracer pid": "traced by restore while verified"
        case "process group", "session": outside.contains(field) ? leaderOutside : nil
        default: nil
        }
    }

    private static func fieldReason(kind: String, field: FieldChange, resumed: Registers?, newPid: String?, newPipe: Bool,
                                    outside: Set<String>) -> String? {
        switch (kind, field.name) {
        case ("threads", "cpu time"): return "CPU time starts again from zero"
        case ("threads", "state"), ("threads", "registers"), ("threads", "stop signal"): return "held in a ptrace stop while verified"
        case (_, "tid") where newPid != nil: return newPid
        case ("context", "pid") where newPid != nil, ("namespaces", "pid in namespace") where newPid != nil,
             ("timers", "target") where newPid != nil:
            return newPid
        case ("context", "process group"), ("context", "session"):
            return outside.contains(field.name) ? leaderOutside : nil
        case ("context", "parent"): return outside.contains("parent") ? "restore is the new parent" : nil
        case ("context", "state"), ("context", "stop signal"): return "held in a ptrace stop while verified"
        case ("context", "tracer"): return "traced by restore while verified"
        case ("memory", "resident pages"), ("memory", "swapped pages"): return "pages that were not saved load on demand"
        case ("events", "eventfd id"): return "the kernel numbers each new eventfd with the lowest free id"
        case ("events", "next expiry in"):
            guard let before = EventNames.nanoseconds(field.before), let after = EventNames.nanoseconds(field.after),
                  after <= before else { return nil }
            return "restore armed the timer with the time it had left, and it ran on until verification"
        case ("memory", "dirty pages"): return "restore writes the saved pages again, and pages that were not saved load clean on demand"
        case ("files", "path"), ("files", "inode"), ("pipes", "identity"), ("pipes", "inode"):
            return newPipe ? "a new pipe or pidfd has a new inode" : nil
        case ("threads", let name) where ["rip", "rax", "orig_rax"].contains(name):
            guard let resumed, let index = ThreadInfo.registerNames.firstIndex(of: name) else { return nil }
            return field.after == String(format: "0x%016lx", resumed[index]) ? "set up to repeat the interrupted system call" : nil
        default: return nil
        }
    }

    /// Returns the reason that makes the children field expected when it
    /// lacks only children that are not in the image (a process taken
    /// without --tree): those cannot come back. `family` maps each pid of a
    /// family image to its restored pid, and the saved list may hold either.
    private static func childrenReason(kind: String, field: FieldChange, family: [Int32: Int32]) -> String? {
        guard kind == "context", field.name == "children", !field.before.hasSuffix(",..."), !field.after.hasSuffix(",...") else {
            return nil
        }
        let parse = { (text: String) -> [Int32]? in
            if text == "none" { return [] }
            let items = text.split(separator: ",")
            let pids = items.compactMap { Int32($0) }
            return pids.count == items.count ? pids : nil
        }
        guard let before = parse(field.before), let after = parse(field.after) else { return nil }
        let restored = Set(family.values)
        let kept = before.compactMap { restored.contains($0) ? $0 : family[$0] }
        guard kept.count < before.count, kept.sorted() == after.sorted() else { return nil }
        return "a child that is not in the image does not come back; take the checkpoint with --tree to restore it too"
    }

    /// Returns the reason that makes a field listing thread ids (such as
    /// "blocked in threads") expected: it equals the saved value with every saved tid replaced by its new one.
    private static func renamedTids(_ field: FieldChange, _ renames: [Int32: Int32], _ options: RestoreOptions) -> String? {
        guard !renames.isEmpty else { return nil }
        var mapped = "", digits = ""
        for character in field.before + " " {
            if character.isASCII && character.isNumber {
                digits.append(character)
                continue
            }
            mapped += Int32(digits).flatMap { renames[$0] }.map { "\($0)" } ?? digits
            digits = ""
            mapped.append(character)
        }
        return mapped.dropLast() == field.after ? "\(options.newPidReason), which gives new thread ids" : nil
    }

    /// Renames the "thread TID" keys of the image to the restored tids, so
    /// that each thread restored with --new-pid is compared with its saved self.
    private static func renamed(_ dump: Dump, tids: [Int32: Int32]) -> Dump {
        var copy = dump
        let keys = Dictionary(tids.map { ("thread \($0.key)", "thread \($0.value)") }, uniquingKeysWith: { a, _ in a })
        copy.sections = dump.sections.map { section in
            let entries = section.entries.map { entry in
                keys[entry.key].map { Entry(key: $0, cells: entry.cells, fields: entry.fields) } ?? entry
            }
            return Section(kind: section.kind, source: section.source, unavailable: section.unavailable,
                           elapsedNs: section.elapsedNs, items: section.items, entries: entries)
        }
        return copy
    }
}
