/// Compares two captures of a process kind by kind, matching entries by
/// their keys and comparing their named fields.
public enum Differ {
    /// Compares `a` (before) with `b` (after). `kinds` limits the kinds
    /// compared; `showUnchanged` keeps unchanged entries in the result.
    public static func diff(_ a: Dump, _ b: Dump, beforeLabel: String, afterLabel: String,
                            kinds: [String]? = nil, showUnchanged: Bool = false) -> DumpDiff {
        let names = kinds ?? orderedKinds(a, b)
        let kindDiffs = names.map { name in
            diffKind(name, a.section(name), b.section(name), showUnchanged: showUnchanged)
        }
        return DumpDiff(before: beforeLabel, after: afterLabel,
                        process: processChanges(a.process, b.process), kinds: kindDiffs)
    }

    /// Kinds in registry order, then any kind only one side knows.
    static func orderedKinds(_ a: Dump, _ b: Dump) -> [String] {
        var names = KindRegistry.all.map(\.name).filter { a.section($0) != nil || b.section($0) != nil }
        for section in a.sections + b.sections where !names.contains(section.kind) {
            names.append(section.kind)
        }
        return names
    }

    static func diffKind(_ name: String, _ a: Section?, _ b: Section?, showUnchanged: Bool) -> KindDiff {
        let title = CheckpointView.layout(name)?.title ?? name
        if let reason = a?.unavailable ?? b?.unavailable ?? missingReason(a, b) {
            return KindDiff(kind: name, title: title, unavailable: reason, added: 0, removed: 0, changed: 0,
                            unchanged: 0, entries: [], notes: [])
        }
        let before = a?.entries ?? []
        let after = b?.entries ?? []
        let afterByKey = Dictionary(after.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let beforeKeys = Set(before.map(\.key))
        let phrasing = DiffPhrasing(kind: name)

        var entries: [EntryChange] = []
        var counts = (added: 0, removed: 0, changed: 0, unchanged: 0)
        for old in before {
            guard let new = afterByKey[old.key] else {
                counts.removed += 1
                entries.append(EntryChange(key: old.key, change: .removed, summary: [phrasing.removed(old)], fields: []))
                continue
            }
            let fields = fieldChanges(old.fields, new.fields)
            if fields.isEmpty {
                counts.unchanged += 1
                if showUnchanged { entries.append(EntryChange(key: old.key, change: .unchanged, summary: [], fields: [])) }
            } else {
                counts.changed += 1
                entries.append(EntryChange(key: old.key, change: .changed, summary: phrasing.changed(old, fields), fields: fields))
            }
        }
        for new in after where !beforeKeys.contains(new.key) {
            counts.added += 1
            entries.append(EntryChange(key: new.key, change: .added, summary: [phrasing.added(new)], fields: []))
        }
        return KindDiff(kind: name, title: title, unavailable: nil, added: counts.added, removed: counts.removed,
                        changed: counts.changed, unchanged: counts.unchanged, entries: entries, notes: [])
    }

    private static func missingReason(_ a: Section?, _ b: Section?) -> String? {
        switch (a, b) {
        case (nil, nil): "collected on neither side"
        case (nil, _): "not collected in the first capture"
        case (_, nil): "not collected in the second capture"
        default: nil
        }
    }

    /// Fields that differ, in the order of the first side, plus fields only one side has.
    static func fieldChanges(_ a: [Field], _ b: [Field]) -> [FieldChange] {
        let bByName = Dictionary(b.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        let aNames = Set(a.map(\.name))
        var changes: [FieldChange] = []
        for field in a {
            let after = bByName[field.name] ?? "(absent)"
            if after != field.value { changes.append(FieldChange(name: field.name, before: field.value, after: after)) }
        }
        for field in b where !aNames.contains(field.name) {
            changes.append(FieldChange(name: field.name, before: "(absent)", after: field.value))
        }
        return changes
    }

    /// Process-wide fields that changed, except CPU time, which always moves.
    static func processChanges(_ a: ProcessEntry, _ b: ProcessEntry) -> [FieldChange] {
        let pairs: [(String, String, String)] = [
            ("pid", "\(a.pid)", "\(b.pid)"), ("ppid", "\(a.ppid)", "\(b.ppid)"),
            ("process group", "\(a.pgid)", "\(b.pgid)"), ("session", "\(a.sid)", "\(b.sid)"),
            ("uid", "\(a.uid)", "\(b.uid)"), ("euid", "\(a.euid)", "\(b.euid)"),
            ("gid", "\(a.gid)", "\(b.gid)"), ("egid", "\(a.egid)", "\(b.egid)"),
            ("state", a.state.name, b.state.name), ("comm", a.comm, b.comm),
            ("command line", a.commandLine, b.commandLine), ("threads", "\(a.threads)", "\(b.threads)"),
            ("tracer pid", "\(a.tracerPid)", "\(b.tracerPid)"),
        ]
        return pairs.filter { $0.1 != $0.2 }.map { FieldChange(name: $0.0, before: $0.1, after: $0.2) }
    }
}
