import BpfcpCore
import Foundation

/// One tab of the detail view: the Overview, one registered kind, or one
/// section only checkpoints have.
public struct DetailTab: Equatable, Sendable {
    public let title: String
    public let columns: [Column]
    public let entries: [Entry]
    /// Reason the kind could not be collected. The tab shows only this line.
    public let unavailable: String?
    /// The section behind the tab, nil for the Overview.
    public let section: Section?
}

/// The detail view of one dump: its tabs, the selected tab and row, and
/// which rows are expanded to show every field.
public struct DetailModel: Sendable {
    public private(set) var dump: Dump
    public private(set) var tabs: [DetailTab]
    /// The same dump taken through /proc and again through eBPF by `p`, for the timing comparison.
    public var comparison: (proc: Dump, bpf: Dump)?
    /// Set when the process exited after the dump; the view keeps the last dump.
    public var exitedNote: String?
    /// The capture or image shown, when this is not a live dump.
    public var origin: DiffSide?
    public var tab = 0
    public private(set) var cursors: [ListCursor]
    public private(set) var expanded: [Set<String>]
    private var topLines: [Int]
    private let kinds: [KindDescriptor]

    public init(dump: Dump, kinds: [KindDescriptor] = KindRegistry.all) {
        self.dump = dump
        self.kinds = kinds
        tabs = DetailModel.makeTabs(dump, kinds: kinds)
        cursors = Array(repeating: ListCursor(), count: tabs.count)
        expanded = Array(repeating: [], count: tabs.count)
        topLines = Array(repeating: 0, count: tabs.count)
    }

    public var pid: Int32 { dump.pid }
    public var currentTab: DetailTab { tabs[tab] }

    /// Replaces the dump by a newer one of the same process, keeping the tab and selections.
    public mutating func replace(with newer: Dump) {
        dump = newer
        origin = nil
        tabs = DetailModel.makeTabs(newer, kinds: kinds)
        comparison = nil
        if cursors.count != tabs.count {
            cursors = Array(repeating: ListCursor(), count: tabs.count)
            expanded = Array(repeating: [], count: tabs.count)
            topLines = Array(repeating: 0, count: tabs.count)
            tab = min(tab, tabs.count - 1)
        }
    }

    public mutating func selectTab(_ index: Int) {
        tab = (index % tabs.count + tabs.count) % tabs.count
    }

    public mutating func move(_ delta: Int, height: Int) {
        cursors[tab].move(delta, count: currentTab.entries.count, height: height)
    }

    public mutating func home(height: Int) {
        cursors[tab].home(count: currentTab.entries.count, height: height)
    }

    public mutating func end(height: Int) {
        cursors[tab].end(count: currentTab.entries.count, height: height)
    }

    public var cursor: ListCursor { cursors[tab] }

    /// First visible screen line of the current tab; rows expand to several lines, so it counts lines.
    public var topLine: Int {
        get { topLines[tab] }
        set { topLines[tab] = max(0, newValue) }
    }

    /// Shows or hides every field of the selected row.
    public mutating func toggleExpanded() {
        let entries = currentTab.entries
        guard entries.indices.contains(cursor.selected) else { return }
        let key = entries[cursor.selected].key
        if expanded[tab].contains(key) {
            expanded[tab].remove(key)
        } else {
            expanded[tab].insert(key)
        }
    }

    public func isExpanded(_ entry: Entry) -> Bool {
        expanded[tab].contains(entry.key)
    }

    static func makeTabs(_ dump: Dump, kinds: [KindDescriptor]) -> [DetailTab] {
        var tabs = [overviewTab(dump)]
        for kind in kinds {
            let section = dump.section(kind.name)
            let reason = section == nil ? "this dump has no \(kind.name) section" : section?.unavailable
            tabs.append(DetailTab(title: kind.title, columns: kind.columns, entries: section?.entries ?? [],
                                  unavailable: reason, section: section))
        }
        return tabs + ImageTabs.tabs(dump)
    }

    /// Builds the Overview tab: the ProcessEntry as rows of (field, value).
    static func overviewTab(_ dump: Dump) -> DetailTab {
        let entries = overviewFields(dump.process, takenAt: dump.takenAt).map { field in
            Entry(key: field.name, cells: [field.name, field.value], fields: [field])
        }
        return DetailTab(title: "Overview", columns: [Column("FIELD", width: 16), Column("VALUE", width: 0)],
                         entries: entries, unavailable: nil, section: nil)
    }

    /// Lists the fields of `p` as they were at `takenAt` (seconds since the
    /// epoch), the time of the dump, capture or image.
    static func overviewFields(_ p: ProcessEntry, takenAt: Double) -> [Field] {
        let runningFor = runningTime(startTimeNs: p.startTimeNs, takenAt: takenAt).map(Format.duration) ?? "-"
        var fields = [
            Field("pid", "\(p.pid)"), Field("parent pid", "\(p.ppid)"),
            Field("process group", "\(p.pgid)"), Field("session", "\(p.sid)"),
            Field("name", p.comm), Field("command line", p.commandLine.ifEmpty("-")),
            Field("argv length", "\(p.argvLength) bytes" + (p.argvTruncated ? " (shown truncated)" : "")),
            Field("state", "\(p.state.rawValue) (\(p.state.name))"),
        ]
        if let stop = p.stopSignal { fields.append(Field("stop signal", stop)) }
        if let status = p.exitStatus { fields.append(Field("exit status", "\(status)")) }
        fields += [
            Field("user", "\(UserNames.name(of: p.uid)) (uid \(p.uid), euid \(p.euid))"),
            Field("group", "gid \(p.gid), egid \(p.egid)"),
            Field("tracer pid", p.tracerPid == 0 ? "none" : "\(p.tracerPid)"),
            Field("threads", "\(p.threads)"),
            Field("resident memory", Format.bytes(p.rssBytes)),
            Field("virtual memory", Format.bytes(p.virtualBytes)),
            Field("cpu time", Format.duration(p.cpuTimeNs)),
            Field("running for", runningFor),
            Field("kernel thread", p.isKernelThread ? "yes" : "no"),
        ]
        return fields
    }
}

extension DetailModel {
    /// Returns how long a process started at `startTimeNs` (CLOCK_BOOTTIME)
    /// had run at `takenAt` (seconds since the epoch), or nil when it had not started.
    /// NOTE: the boot time is this boot's, so an image from an earlier boot gets a wrong time.
    static func runningTime(startTimeNs: UInt64, takenAt: Double) -> UInt64? {
        let wallNs = Date().timeIntervalSince1970 * 1e9
        let bootEpochNs = wallNs - Double(Clock.boottime())
        let takenBoottimeNs = takenAt * 1e9 - bootEpochNs
        guard takenBoottimeNs > Double(startTimeNs) else { return nil }
        return UInt64(takenBoottimeNs - Double(startTimeNs))
    }
}

extension String {
    func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
