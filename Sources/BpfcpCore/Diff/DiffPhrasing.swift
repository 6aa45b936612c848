/// Turns entry changes into the lines people read: "fd 5 position 100 → 4096",
/// "[heap] grew by 2 MiB", "thread 1234 exited".
struct DiffPhrasing {
    let kind: String

    func added(_ entry: Entry) -> String {
        switch kind {
        case "threads": return "\(entry.key) started"
        default: return "new \(entry.key): \(describe(entry))"
        }
    }

    func removed(_ entry: Entry) -> String {
        switch kind {
        case "threads": return "\(entry.key) exited"
        default: return "\(entry.key) gone: \(describe(entry))"
        }
    }

    /// One line per changed field; size changes of memory areas read as growth.
    func changed(_ entry: Entry, _ fields: [FieldChange]) -> [String] {
        let endMoved = kind == "memory" && fields.contains { $0.name == "end" }
        return fields.filter { !(endMoved && $0.name == "size") }.map { change in
            if kind == "memory", change.name == "end", let growth = areaGrowth(entry, change) {
                return growth
            }
            return "\(entry.key) \(change.name) \(change.before) → \(change.after)"
        }
    }

    /// The cells of an entry without the key's own column, for a one-line description.
    private func describe(_ entry: Entry) -> String {
        entry.cells.dropFirst().filter { !$0.isEmpty && $0 != "-" }.joined(separator: " ")
    }

    private func areaGrowth(_ entry: Entry, _ change: FieldChange) -> String? {
        guard let before = UInt64(change.before.dropFirst(2), radix: 16),
              let after = UInt64(change.after.dropFirst(2), radix: 16) else { return nil }
        let name = entry.fields.first { $0.name == "path" }?.value ?? entry.key
        return after >= before
            ? "\(name) grew by \(Format.bytes(after - before))"
            : "\(name) shrank by \(Format.bytes(before - after))"
    }
}
