import BpfcpCore
import Foundation

/// Builds the whole screen from the state, without curses: two header
/// lines, the body of the current mode, the status bar and the footer.
/// Scrolling of expanded detail rows is settled here, so it takes the state inout.
public enum Renderer {
    static let spinner = ["|", "/", "-", "\\"]

    public static func render(_ state: inout AppState) -> [ScreenLine] {
        let layout = state.layout
        if layout.tooSmall {
            return [ScreenLine("terminal too small: bpfcp-top needs 30x8", .statusError).fitted(layout.cols)]
                + Array(repeating: ScreenLine(), count: max(0, layout.rows - 1))
        }

        var lines: [ScreenLine]
        switch state.mode {
        case .detail where state.detail != nil:
            lines = DetailView.header(state) + DetailView.body(&state)
        case .help:
            lines = ListView.header(state) + HelpView.body(state)
        case .sortMenu:
            lines = ListView.header(state) + ListView.sortMenu(state)
        case .captures:
            lines = ListView.header(state) + CaptureViews.captures(state)
        case .textScreen:
            lines = ListView.header(state) + CaptureViews.textScreen(state)
        case .pathPrompt where state.captures.returnMode == .captures:
            lines = ListView.header(state) + CaptureViews.captures(state)
        case .pathPrompt where state.captures.returnMode == .detail && state.detail != nil:
            lines = DetailView.header(state) + DetailView.body(&state)
        default:
            lines = ListView.header(state) + ListView.body(state)
        }

        let bodyRows = layout.rows - Layout.bottomLines
        lines = Array(lines.prefix(bodyRows))
        while lines.count < bodyRows { lines.append(ScreenLine()) }
        lines.append(statusLine(state))
        lines.append(footer(state))
        return lines.map { $0.fitted(layout.cols) }
    }

    /// Builds the status bar: the spinner while work runs, else the last message.
    static func statusLine(_ state: AppState) -> ScreenLine {
        let cols = state.layout.cols
        if let busy = state.busy {
            let frame = spinner[state.spinnerFrame % spinner.count]
            return ScreenLine("[\(frame)] \(busy)...", .statusInfo).fitted(cols, fill: .statusInfo)
        }
        if let status = state.status {
            let style: Style = status.isError ? .statusError : .statusInfo
            return ScreenLine(status.text, style).fitted(cols, fill: style)
        }
        if !state.localeIsUTF8 {
            return ScreenLine("warning: the locale is not UTF-8, so non-ASCII names show as '?'; set LANG=C.UTF-8",
                              .statusError).fitted(cols, fill: .statusError)
        }
        return ScreenLine()
    }

    /// Key hints for the mode, or the search/filter prompt.
    static func footer(_ state: AppState) -> ScreenLine {
        var spans: [Span] = []
        switch state.mode {
        case .search: spans = [Span("Search: ", .footerKey), Span(state.searchText + "_", .normal), Span("  ")]
        case .filter: spans = [Span("Filter: ", .footerKey), Span(state.table.filter + "_", .normal), Span("  ")]
        case .help: spans = [Span("Up/Down/PgUp/PgDn", .footerKey), Span(" scroll  ", .footerLabel),
                             Span("any key", .footerKey), Span(" back  ", .footerLabel)]
        case .pathPrompt: spans = [Span(CaptureViews.promptLabel(state), .footerKey), Span(" " + state.captures.prompt + "_", .normal), Span("  ")]
        case .textScreen where state.captures.screen?.question != nil:
            spans = [Span(state.captures.screen?.question ?? "", .footerKey), Span(" y/n  ", .normal)]
        default: break
        }
        if state.mode != .help {
            for hint in Dispatcher.hints(for: state.mode) {
                spans.append(Span(hint.key, .footerKey))
                spans.append(Span(" " + hint.label + "  ", .footerLabel))
            }
        }
        return ScreenLine(spans).fitted(state.layout.cols, fill: .footerLabel)
    }

    /// Columns of a table fitted to `cols`: fixed widths, and the last
    /// column (or any column of width 0) takes the rest.
    static func tableLine(_ cells: [String], columns: [(width: Int, alignRight: Bool)], cols: Int, style: Style) -> ScreenLine {
        var text = ""
        var used = 0
        for (i, column) in columns.enumerated() where used < cols {
            let last = i == columns.count - 1
            let width = last || column.width == 0 ? max(0, cols - used) : min(column.width, cols - used)
            let cell = i < cells.count ? cells[i] : ""
            let gap = last ? "" : " "
            text += TextWidth.cell(cell, max(0, width - gap.count), alignRight: column.alignRight) + gap
            used += width
        }
        return ScreenLine(text, style).fitted(cols, fill: style)
    }
}

/// The help screen, listed from the action table so new actions appear by themselves.
enum HelpView {
    static func body(_ state: AppState) -> [ScreenLine] {
        let title = "Keys (arrows and pages scroll, any other key returns)"
        return [ScreenLine(title, .columnHeader).fitted(state.layout.cols, fill: .columnHeader)] + Array(lines.dropFirst(state.helpTop))
    }

    static var lineCount: Int { lines.count }

    /// One line per action of the table, then notes on the numbers shown.
    /// The key and mode columns are as wide as their longest entry.
    private static var lines: [ScreenLine] {
        var rows: [(keys: String, modes: String, help: String)] = []
        var seen = Set<String>()
        for action in ActionTable.all {
            let keys = action.keys.map(\.label).joined(separator: " ")
            guard seen.insert(keys + action.help).inserted else { continue }
            let note = action.changesState ? " (disabled by --readonly)" : ""
            rows.append((keys, modeNames(action.modes), action.help + note))
        }
        let keysWidth = rows.map { TextWidth.width($0.keys) }.max() ?? 0
        let modesWidth = rows.map { TextWidth.width($0.modes) }.max() ?? 0
        var lines = rows.map { row in
            ScreenLine([Span(TextWidth.fit(row.keys, keysWidth), .footerKey),
                        Span(" " + TextWidth.fit(row.modes, modesWidth) + " " + row.help)])
        }
        lines.append(ScreenLine())
        lines.append(ScreenLine("CPU% is CPU time used since the previous refresh per wall-clock time; above 100 means several threads ran.", .dim))
        lines.append(ScreenLine("Dumps are live: the process keeps running, so its state may move while it is read.", .dim))
        return lines
    }

    private static func modeNames(_ modes: Set<Mode>) -> String {
        if modes.count >= 5 { return "everywhere" }
        let names: [(Mode, String)] = [(.list, "list"), (.search, "search"), (.filter, "filter"),
                                       (.sortMenu, "sort"), (.detail, "dump"), (.captures, "captures"),
                                       (.textScreen, "screen"), (.pathPrompt, "path")]
        return names.filter { modes.contains($0.0) }.map(\.1).joined(separator: ",")
    }
}
