/// The process a collector works on.
public struct Target: Sendable {
    public let pid: Int32
    public let process: ProcessEntry
    /// The shared pass over the fd table, when the caller ran one for
    /// several fd kinds. Each fd kind's BPF collector then reads its records
    /// from it instead of running its own program.
    public let fdTable: FdTablePass?

    public init(pid: Int32, process: ProcessEntry, fdTable: FdTablePass? = nil) {
        self.pid = pid
        self.process = process
        self.fdTable = fdTable
    }
}

/// One kind of kernel state (threads, files, memory areas...): how it is
/// collected and how its items are shown. Register each kind in `KindRegistry`.
public protocol ResourceKind: SendableMetatype {
    associatedtype Item: Codable & Sendable

    /// Name used by `--only`, JSON keys and image sections, e.g. "files".
    static var name: String { get }
    /// Tab title in the TUI.
    static var title: String { get }
    static var columns: [Column] { get }

    /// Collects the items of `target` from BPF or /proc. Throws
    /// `KindUnavailable` when this source cannot give the kind.
    static func collect(_ target: Target, source: CollectorSource) throws -> [Item]

    /// Renders one item as a row with its identity and every field.
    static func entry(_ item: Item) -> Entry

    /// Reads what a checkpoint must read while the target is held, and
    /// returns the step that completes the items once it runs again. The
    /// default reads everything at once; a kind that also reads other,
    /// running processes can leave that part for after the release.
    static func collectHeld(_ target: Target, source: CollectorSource) throws -> @Sendable () throws -> [Item]

    /// Whether the BPF collector can read its records from the shared pass
    /// over the fd table (bpf/fdtable.bpf.c) given in `Target.fdTable`.
    static var readsFdTable: Bool { get }

    /// Whether the step that `collectHeld` returns reads other processes.
    /// A checkpoint runs such a step only once its snapshot copies are
    /// gone, and every other step as soon as the target runs again.
    static var completesFromOtherProcesses: Bool { get }
}

extension ResourceKind {
    public static func collectHeld(_ target: Target, source: CollectorSource) throws -> @Sendable () throws -> [Item] {
        let items = try collect(target, source: source)
        return { items }
    }

    public static var readsFdTable: Bool { false }

    public static var completesFromOtherProcesses: Bool { false }
}

/// Thrown by a collector when the kernel or the source cannot give a kind.
public struct KindUnavailable: Error, CustomStringConvertible {
    public let reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}

/// A kind with its type erased, as the registry and the UI handle it.
public struct KindDescriptor: Sendable {
    public let name: String
    public let title: String
    public let columns: [Column]
    public let collect: @Sendable (Target, CollectorSource) throws -> Section
    /// Reads the kind from the target and returns the step that builds its
    /// section. Checkpoints read while the target is held and build after
    /// it runs again, because the JSON items and rendered entries come
    /// from the items alone.
    public let gather: @Sendable (Target, CollectorSource) throws -> @Sendable () throws -> Section
    /// Re-renders items read back from an image or JSON.
    public let render: @Sendable ([JSONValue]) throws -> [Entry]
    /// Collects the items and returns how many there are, without the JSON
    /// and rendering `collect` adds. Benchmarks time the collectors with it.
    public let collectCount: @Sendable (Target, CollectorSource) throws -> Int
    /// See `ResourceKind.readsFdTable`.
    public let readsFdTable: Bool
    /// See `ResourceKind.completesFromOtherProcesses`.
    public let completesFromOtherProcesses: Bool

    public init<K: ResourceKind>(_ kind: K.Type) {
        name = K.name
        readsFdTable = K.readsFdTable
        completesFromOtherProcesses = K.completesFromOtherProcesses
        title = K.title
        columns = K.columns
        let gather: @Sendable (Target, CollectorSource) throws -> @Sendable () throws -> Section = { target, source in
            let start = Clock.now()
            let complete: @Sendable () throws -> [K.Item]
            do {
                complete = try K.collectHeld(target, source: source)
            } catch let missing as KindUnavailable {
                let section = Section(kind: K.name, source: source, unavailable: missing.reason,
                                      elapsedNs: Clock.now() - start, items: [], entries: [])
                return { section }
            }
            let collectNs = Clock.now() - start
            return {
                let buildStart = Clock.now()
                let items = try complete()
                // One encode of the whole array: encoding item by item built an
                // encoder and a decoder per item and took seconds for 10,000 items.
                guard case .array(let json) = try JSONValue.from(items) else {
                    throw BpfcpError("json", "items of \(K.name) did not encode as a JSON array")
                }
                let entries = items.map(K.entry)
                return Section(kind: K.name, source: source, unavailable: nil, elapsedNs: collectNs + Clock.now() - buildStart,
                               items: json, entries: entries)
            }
        }
        self.gather = gather
        collect = { target, source in try gather(target, source)() }
        render = { items in
            try items.map { K.entry(try $0.decode(as: K.Item.self)) }
        }
        collectCount = { target, source in
            try K.collect(target, source: source).count
        }
    }
}
