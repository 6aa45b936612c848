/// Where a section's data came from.
public enum CollectorSource: String, Codable, Sendable {
    case bpf
    case proc
}

/// A column of a kind's table in the TUI and in text output.
public struct Column: Sendable, Equatable {
    public let name: String
    public let width: Int
    public let alignRight: Bool

    public init(_ name: String, width: Int, alignRight: Bool = false) {
        self.name = name
        self.width = width
        self.alignRight = alignRight
    }
}

/// A named value of one entry, already formatted for people ("O_RDWR|O_APPEND", "SIGUSR1").
public struct Field: Codable, Sendable, Equatable {
    public let name: String
    public let value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// One row of a resource kind, rendered.
public struct Entry: Codable, Sendable, Equatable {
    /// Identity across captures, used to match rows when diffing ("fd 5", "thread 1234").
    public let key: String
    /// Cells in the order of the kind's columns.
    public let cells: [String]
    /// Every field of the row, shown when the row is expanded and compared by diff.
    public let fields: [Field]

    public init(key: String, cells: [String], fields: [Field]) {
        self.key = key
        self.cells = cells
        self.fields = fields
    }
}

/// What one resource kind returned for one process.
public struct Section: Codable, Sendable, Equatable {
    public let kind: String
    public let source: CollectorSource
    /// Set when the kernel could not give this kind; the rest of the dump still stands.
    public let unavailable: String?
    public let elapsedNs: UInt64
    /// The typed items, as JSON output and images hold them.
    public let items: [JSONValue]
    public let entries: [Entry]

    public init(kind: String, source: CollectorSource, unavailable: String?, elapsedNs: UInt64,
                items: [JSONValue], entries: [Entry]) {
        self.kind = kind
        self.source = source
        self.unavailable = unavailable
        self.elapsedNs = elapsedNs
        self.items = items
        self.entries = entries
    }
}
