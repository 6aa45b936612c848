import BpfcpCore

/// Columns of the process list. Each one is also a sort key.
public enum ProcessColumn: Int, CaseIterable, Sendable {
    case pid, user, state, threads, rss, cpu, command

    public var title: String {
        switch self {
        case .pid: "PID"
        case .user: "USER"
        case .state: "S"
        case .threads: "THR"
        case .rss: "RSS"
        case .cpu: "CPU%"
        case .command: "COMMAND"
        }
    }

    /// Width in columns; the command column takes what the others leave.
    public var width: Int {
        switch self {
        case .pid: 8
        case .user: 9
        case .state: 2
        case .threads: 4
        case .rss: 10
        case .cpu: 6
        case .command: 0
        }
    }

    public var alignRight: Bool {
        switch self {
        case .pid, .threads, .rss, .cpu: true
        default: false
        }
    }

    /// Numeric columns sort biggest first by default, as in htop.
    var descendingByDefault: Bool {
        switch self {
        case .threads, .rss, .cpu: true
        default: false
        }
    }
}

/// One visible row of the process list.
public struct ProcessRow: Equatable, Sendable {
    public let process: ProcessEntry
    public let user: String
    public let cpuPercent: Double
    /// Tree branches drawn before the command in tree view, e.g. "│  └─ ".
    public let treePrefix: String

    public var command: String {
        if process.isKernelThread || process.commandLine.isEmpty { return "[\(process.comm)]" }
        return process.commandLine
    }

    public func cell(_ column: ProcessColumn) -> String {
        switch column {
        case .pid: "\(process.pid)"
        case .user: user
        case .state: process.state.rawValue
        case .threads: "\(process.threads)"
        case .rss: Format.bytes(process.rssBytes)
        // Most processes are idle, and Foundation's String(format:) is slow enough to show in a profile.
        case .cpu: cpuPercent == 0 ? "0.0" : String(format: "%.1f", cpuPercent)
        case .command: treePrefix + command
        }
    }
}

/// The process list model: the latest snapshot, CPU usage computed between
/// snapshots, and the sort, filter, tree and selection the user chose.
public struct ProcessTable: Sendable {
    public private(set) var processes: [ProcessEntry] = []
    public private(set) var rows: [ProcessRow] = []
    public var sortColumn: ProcessColumn = .cpu
    public var descending = true
    public var treeView = false
    public var showKernelThreads = false
    public var filter = ""
    public var onlyUid: UInt32?
    public var cursor = ListCursor()
    /// Process the cursor stays on across refreshes and re-sorts: the one the
    /// user moved to or dumped. Nil keeps the cursor on its row, the top one at start.
    public private(set) var followedPid: Int32?

    private var previousCPU: [Int32: (startTime: UInt64, cpuNs: UInt64)] = [:]
    private var previousSampleNs: UInt64 = 0
    private var cpuPercent: [Int32: Double] = [:]
    private var userNames: [UInt32: String] = [:]

    public init() {}

    public var selectedRow: ProcessRow? {
        rows.indices.contains(cursor.selected) ? rows[cursor.selected] : nil
    }

    /// Stores a new snapshot taken at `sampleNs` (monotonic) and rebuilds the rows.
    /// CPU% is the CPU time a process used since the previous snapshot, per wall time.
    public mutating func update(_ snapshot: [ProcessEntry], sampleNs: UInt64, height: Int) {
        let elapsed = sampleNs > previousSampleNs ? Double(sampleNs - previousSampleNs) : 0
        var percent: [Int32: Double] = [:]
        var next: [Int32: (startTime: UInt64, cpuNs: UInt64)] = [:]
        for p in snapshot {
            next[p.pid] = (p.startTimeNs, p.cpuTimeNs)
            if let before = previousCPU[p.pid], before.startTime == p.startTimeNs, elapsed > 0, p.cpuTimeNs >= before.cpuNs {
                percent[p.pid] = Double(p.cpuTimeNs - before.cpuNs) / elapsed * 100
            }
        }
        for p in snapshot { _ = userName(p.uid) }
        processes = snapshot
        cpuPercent = percent
        previousCPU = next
        previousSampleNs = sampleNs
        rebuild(height: height)
    }

    /// Recomputes the visible rows after a change of snapshot, sort, filter or
    /// view, keeping the followed process selected when it is still listed.
    public mutating func rebuild(height: Int) {
        let visible = processes.filter(isVisible)
        rows = treeView ? treeRows(visible) : sorted(visible).map { row($0, prefix: "") }
        if let followedPid, let index = rows.firstIndex(where: { $0.process.pid == followedPid }) {
            cursor.selected = index
        }
        cursor.clamp(count: rows.count, height: height)
    }

    /// Makes the cursor stay on the selected process from now on; called after the user moves the cursor.
    public mutating func followSelection() {
        followedPid = selectedRow?.process.pid
    }

    /// Selects `pid` and follows it, now if it is listed, else once a refresh lists it.
    public mutating func follow(_ pid: Int32, height: Int) {
        followedPid = pid
        rebuild(height: height)
    }

    /// Selects the next row at or after the selection (wrapping) whose command
    /// or name contains `text`, ignoring case. Returns false when none does.
    public mutating func search(_ text: String, fromNext: Bool, height: Int) -> Bool {
        guard !text.isEmpty, !rows.isEmpty else { return false }
        let needle = text.lowercased()
        let start = cursor.selected + (fromNext ? 1 : 0)
        for step in 0..<rows.count {
            let index = (start + step) % rows.count
            if matches(rows[index].process, needle) {
                cursor.selected = index
                cursor.clamp(count: rows.count, height: height)
                followSelection()
                return true
            }
        }
        return false
    }

    public mutating func sort(by column: ProcessColumn, height: Int) {
        if column != sortColumn {
            sortColumn = column
            descending = column.descendingByDefault
        }
        rebuild(height: height)
    }

    /// Looks up the login name for `uid` once and caches it.
    mutating func userName(_ uid: UInt32) -> String {
        if let known = userNames[uid] { return known }
        let name = UserNames.name(of: uid)
        userNames[uid] = name
        return name
    }

    private func isVisible(_ p: ProcessEntry) -> Bool {
        if p.isKernelThread && !showKernelThreads { return false }
        if let onlyUid, p.uid != onlyUid { return false }
        return filter.isEmpty || matches(p, filter.lowercased())
    }

    private func matches(_ p: ProcessEntry, _ needle: String) -> Bool {
        p.comm.lowercased().contains(needle) || p.commandLine.lowercased().contains(needle)
    }

    private func row(_ p: ProcessEntry, prefix: String) -> ProcessRow {
        ProcessRow(process: p, user: userNames[p.uid] ?? "\(p.uid)", cpuPercent: cpuPercent[p.pid] ?? 0, treePrefix: prefix)
    }

    private func sorted(_ list: [ProcessEntry]) -> [ProcessEntry] {
        list.sorted { a, b in
            let order = compare(a, b)
            if order == 0 { return a.pid < b.pid }
            return descending ? order > 0 : order < 0
        }
    }

    /// Three-way comparison on the sort column: negative, zero or positive.
    private func compare(_ a: ProcessEntry, _ b: ProcessEntry) -> Int {
        func three<T: Comparable>(_ x: T, _ y: T) -> Int { x < y ? -1 : (x > y ? 1 : 0) }
        switch sortColumn {
        case .pid: return three(a.pid, b.pid)
        case .user: return three(userNames[a.uid] ?? "", userNames[b.uid] ?? "")
        case .state: return three(a.state.rawValue, b.state.rawValue)
        case .threads: return three(a.threads, b.threads)
        case .rss: return three(a.rssBytes, b.rssBytes)
        case .cpu: return three(cpuPercent[a.pid] ?? 0, cpuPercent[b.pid] ?? 0)
        case .command: return three(a.commandLine.isEmpty ? a.comm : a.commandLine, b.commandLine.isEmpty ? b.comm : b.commandLine)
        }
    }

    /// Orders processes parent before children, siblings in sort order, with
    /// branch prefixes. A process whose parent is not listed is a root.
    private func treeRows(_ list: [ProcessEntry]) -> [ProcessRow] {
        let listed = Set(list.map(\.pid))
        var children: [Int32: [ProcessEntry]] = [:]
        var roots: [ProcessEntry] = []
        for p in list {
            if p.ppid != p.pid && listed.contains(p.ppid) {
                children[p.ppid, default: []].append(p)
            } else {
                roots.append(p)
            }
        }

        var out: [ProcessRow] = []
        func visit(_ p: ProcessEntry, lead: String, branch: String) {
            out.append(row(p, prefix: lead + branch))
            let kids = sorted(children[p.pid] ?? [])
            let nextLead = lead + (branch == "├─ " ? "│  " : (branch.isEmpty ? "" : "   "))
            for (i, kid) in kids.enumerated() {
                visit(kid, lead: nextLead, branch: i == kids.count - 1 ? "└─ " : "├─ ")
            }
        }
        for root in sorted(roots) { visit(root, lead: "", branch: "") }
        return out
    }
}
