/// One field whose value differs between two captures.
public struct FieldChange: Codable, Sendable, Equatable {
    public let name: String
    public let before: String
    public let after: String
}

/// One entry (row) of a kind that was added, removed or changed.
public struct EntryChange: Codable, Sendable, Equatable {
    public enum Change: String, Codable, Sendable {
        case added, removed, changed, unchanged
    }

    public let key: String
    public let change: Change
    /// One line for people: "fd 5 position 100 → 4096", "thread 1234 exited".
    public let summary: [String]
    public let fields: [FieldChange]
}

/// The differences of one resource kind.
public struct KindDiff: Codable, Sendable, Equatable {
    public let kind: String
    public let title: String
    /// Set when either side could not collect this kind, so nothing was compared.
    public let unavailable: String?
    public let added: Int
    public let removed: Int
    public let changed: Int
    public let unchanged: Int
    /// Changes in entry order: removed and changed entries of the first side, then added ones.
    public let entries: [EntryChange]
    /// Kind-wide lines, such as page counts changed per memory area.
    public let notes: [String]
    /// Memory areas whose page contents changed; 0 for every other kind.
    public var areasWithChangedPages = 0

    public var isEmpty: Bool { added == 0 && removed == 0 && changed == 0 && notes.isEmpty }

    /// Changes this kind counts: its added, removed and changed entries and its areas with changed pages.
    public var changeCount: Int { added + removed + changed + areasWithChangedPages }

    /// Returns this memory kind with the page comparison's sentence and area count.
    func adding(pages: PageComparison, sentence: String) -> KindDiff {
        var copy = KindDiff(kind: kind, title: title, unavailable: unavailable, added: added, removed: removed,
                            changed: changed, unchanged: unchanged, entries: entries, notes: notes + [sentence])
        copy.areasWithChangedPages = pages.areas.count
        return copy
    }
}

/// All differences between two captures of a process.
public struct DumpDiff: Codable, Sendable, Equatable {
    public static let schemaVersion = 1

    /// Labels of the two sides, e.g. an image path or "live:1234".
    public let before: String
    public let after: String
    public let process: [FieldChange]
    public internal(set) var kinds: [KindDiff]
    /// Pages whose contents changed, by area; nil when pages were not compared.
    public internal(set) var pageChanges: PageComparison? = nil
    /// Sentences naming each thing that was not compared, with the reason.
    public internal(set) var notCompared: [String] = []

    public var isEmpty: Bool { process.isEmpty && kinds.allSatisfy(\.isEmpty) }

    func with(notCompared lines: [String]) -> DumpDiff {
        var copy = self
        copy.notCompared = lines
        return copy
    }

    /// Changed process fields plus the changes of every kind, the sum of the counts the summaries show.
    public var changeCount: Int { process.count + kinds.reduce(0) { $0 + $1.changeCount } }
}
