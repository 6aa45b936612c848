/// Text form of a diff, shared by `bpfcp diff` and the TUI's confirmation screens.
public enum DiffText {
    public static func lines(_ diff: DumpDiff) -> [String] {
        var lines = ["diff \(diff.before) → \(diff.after)"]
        lines += diff.notCompared
        if diff.isEmpty {
            lines.append("no differences")
            return lines
        }
        if !diff.process.isEmpty {
            lines.append("Process: \(diff.process.count) changed")
            lines += diff.process.map { "  ~ \($0.name) \($0.before) → \($0.after)" }
        }
        for kind in diff.kinds {
            if let reason = kind.unavailable {
                lines.append("\(kind.title): not compared: \(reason)")
                continue
            }
            guard !kind.isEmpty || kind.entries.contains(where: { $0.change == .unchanged }) else { continue }
            lines.append("\(kind.title): \(summary(kind))")
            lines += kind.notes.map { "  ~ " + $0 }
            for entry in kind.entries {
                lines += entryLines(entry)
            }
        }
        return lines
    }

    /// "2 added, 1 removed, 3 changed" for one kind, and for memory with
    /// changed pages ", 2 areas with changed pages".
    public static func summary(_ kind: KindDiff) -> String {
        let counts = "\(kind.added) added, \(kind.removed) removed, \(kind.changed) changed"
        guard kind.areasWithChangedPages > 0 else { return counts }
        let areas = kind.areasWithChangedPages == 1 ? "1 area" : "\(kind.areasWithChangedPages) areas"
        return counts + ", \(areas) with changed pages"
    }

    private static func entryLines(_ entry: EntryChange) -> [String] {
        switch entry.change {
        case .added: entry.summary.map { "  + " + $0 }
        case .removed: entry.summary.map { "  - " + $0 }
        case .changed: entry.summary.map { "  ~ " + $0 }
        case .unchanged: ["    \(entry.key) unchanged"]
        }
    }
}
