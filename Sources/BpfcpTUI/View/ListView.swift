import BpfcpCore
import Foundation

/// The process list screen and its header.
enum ListView {
    static func header(_ state: AppState) -> [ScreenLine] {
        let table = state.table
        let source = state.source == .bpf ? "eBPF" : "/proc"
        var first = "bpfcp-top \(TopOptions.version) | source: \(source) | \(table.rows.count) of \(table.processes.count) processes"
        first += String(format: " | every %.1f s", Double(state.options.delayTenths) / 10)
        first += " | sort: \(table.sortColumn.title) \(table.descending ? "desc" : "asc")"
        if table.treeView { first += " | tree" }
        if !table.filter.isEmpty { first += " | filter: \(table.filter)" }
        if let user = state.options.user { first += " | user: \(user)" }
        if state.options.readOnly { first += " | read-only" }

        return [ScreenLine(first, .title).fitted(state.layout.cols, fill: .title),
                ScreenLine(readLine(state), .dim)]
    }

    /// Describes the last read (rows and time) and the time each BPF object took to load.
    static func readLine(_ state: AppState) -> String {
        guard let read = state.listRead else { return "reading the process list..." }
        var text: String
        if state.source == .bpf {
            text = "eBPF \(ProcessListBPF.object)/\(ProcessListCache.program): \(read.rows) rows in \(Format.milliseconds(read.ns))"
        } else {
            text = "/proc: \(read.rows) processes read in \(Format.milliseconds(read.ns))"
        }
        let loads = BPFRuntime.shared.loadTimes.sorted { $0.key < $1.key }
        if !loads.isEmpty {
            text += " | BPF object load: " + loads.map { "\($0.key) \(Format.milliseconds($0.value))" }.joined(separator: ", ")
        }
        return text
    }

    static var columnSpecs: [(width: Int, alignRight: Bool)] {
        ProcessColumn.allCases.map { ($0.width, $0.alignRight) }
    }

    static func body(_ state: AppState) -> [ScreenLine] {
        let cols = state.layout.cols
        let arrow = state.table.descending ? "v" : "^"
        let titles = ProcessColumn.allCases.map { column in
            column == state.table.sortColumn ? column.title + arrow : column.title
        }
        var lines = [Renderer.tableLine(titles, columns: columnSpecs, cols: cols, style: .columnHeader)]

        let table = state.table
        if table.rows.isEmpty {
            let why = table.processes.isEmpty ? "waiting for the first read" : "no process matches the filter"
            lines.append(ScreenLine("(\(why))", .dim))
            return lines
        }
        let end = min(table.rows.count, table.cursor.top + state.layout.listHeight)
        for index in table.cursor.top..<end {
            let row = table.rows[index]
            let cells = ProcessColumn.allCases.map { row.cell($0) }
            let style: Style = index == table.cursor.selected ? .selected : (row.process.isKernelThread ? .dim : .normal)
            lines.append(Renderer.tableLine(cells, columns: columnSpecs, cols: cols, style: style))
        }
        return lines
    }

    static func sortMenu(_ state: AppState) -> [ScreenLine] {
        var lines = [ScreenLine("Sort by", .columnHeader).fitted(state.layout.cols, fill: .columnHeader)]
        for column in ProcessColumn.allCases {
            let current = column == state.table.sortColumn ? " (current)" : ""
            let style: Style = column.rawValue == state.sortMenu.selected ? .selected : .normal
            lines.append(ScreenLine(TextWidth.fit(column.title + current, 20), style))
        }
        return lines
    }
}
