import BpfcpCore
import Foundation

/// Screens of the capture features: the captures list, and the line screens
/// (diff, confirmation, restore verification, process family).
enum CaptureViews {
    static let captureColumns: [(width: Int, alignRight: Bool)] = [(4, true), (3, false), (10, false), (8, true),
                                                                  (16, false), (11, true), (11, true), (0, false)]

    static func captures(_ state: AppState) -> [ScreenLine] {
        let cols = state.layout.cols
        let titles = ["#", "", "TIME", "PID", "COMMAND", "FROZEN", "TOTAL", "IMAGE"]
        var lines = [Renderer.tableLine(titles, columns: captureColumns, cols: cols, style: .columnHeader)]
        let captures = state.captures
        if captures.list.isEmpty {
            lines.append(ScreenLine("(no captures yet: press c on a process to take one)", .dim))
            return lines
        }
        let end = min(captures.list.count, captures.cursor.top + state.layout.listHeight)
        for index in captures.cursor.top..<end {
            let capture = captures.list[index]
            let info = capture.checkpoint.info
            let mark = captures.marks.contains(.capture(capture.id)) ? "*" : ""
            let cells = ["\(capture.id)", mark, AppState.clockTime(info.takenAt), "\(capture.pid)", capture.dump.process.comm,
                         Format.milliseconds(info.stats.frozenNs), Format.milliseconds(info.stats.totalNs),
                         capture.writtenTo.map(Escape.text) ?? "-"]
            let style: Style = index == captures.cursor.selected ? .selected : .normal
            lines.append(Renderer.tableLine(cells, columns: captureColumns, cols: cols, style: style))
        }
        return lines
    }

    /// Builds the title line and the visible part of a line screen.
    static func textScreen(_ state: AppState) -> [ScreenLine] {
        guard let screen = state.captures.screen else { return [] }
        var lines = [ScreenLine(screen.title, .columnHeader).fitted(state.layout.cols, fill: .columnHeader)]
        if let message = screen.message { return lines + messageLines(message, cols: state.layout.cols) }
        let end = min(screen.lines.count, screen.cursor.top + state.layout.listHeight)
        for index in screen.cursor.top..<max(screen.cursor.top, end) {
            let line = screen.lines[index]
            lines.append(screen.linePids.isEmpty || index != screen.cursor.selected ? line
                         : ScreenLine(line.spans.map { Span($0.text, .selected) }).fitted(state.layout.cols, fill: .selected))
        }
        return lines
    }

    /// Returns the path prompt's label for the prompt's purpose.
    static func promptLabel(_ state: AppState) -> String {
        switch state.captures.promptPurpose {
        case .write(let id)?: "Write capture #\(id) to:"
        case .open?: "Open image:"
        case .restore?: "Restore image:"
        case nil: "Path:"
        }
    }

    // MARK: - line builders

    /// Wraps `text` at spaces into lines of at most `cols` columns, for a
    /// message too long for the status bar. A word longer than a line is cut into pieces.
    static func messageLines(_ text: String, cols: Int) -> [ScreenLine] {
        let width = max(10, cols - 2)
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ").flatMap({ TextWidth.wrap(String($0), width) }) {
            if current.isEmpty {
                current = word
            } else if TextWidth.width(current) + 1 + TextWidth.width(word) <= width {
                current += " " + word
            } else {
                lines.append(current)
                current = word
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines.map { ScreenLine("  " + $0, .statusError) }
    }

    /// Renders a diff as styled lines: the count per kind first, then each change,
    /// with changed fields as "name: before → after".
    static func diffLines(_ diff: DumpDiff) -> [ScreenLine] {
        var lines = [ScreenLine("\(diff.changeCount) \(diff.changeCount == 1 ? "change" : "changes") from \(diff.before) to \(diff.after)", .title)]
        lines += diff.notCompared.map { ScreenLine("  " + $0, .dim) }
        if !diff.process.isEmpty {
            lines.append(ScreenLine("  Process: \(diff.process.count) changed"))
        }
        for kind in diff.kinds {
            if let reason = kind.unavailable {
                lines.append(ScreenLine("  \(kind.title): not compared: \(reason)", .dim))
            } else {
                lines.append(ScreenLine("  \(kind.title): " + DiffText.summary(kind), kind.isEmpty ? .dim : .normal))
            }
        }
        if diff.isEmpty { lines.append(ScreenLine("no differences", .statusInfo)) }

        if !diff.process.isEmpty {
            lines.append(ScreenLine())
            lines.append(ScreenLine("Process", .columnHeader))
            lines += diff.process.map { fieldLine($0, indent: "  ~ ") }
        }
        for kind in diff.kinds where kind.unavailable == nil && !kind.isEmpty {
            lines.append(ScreenLine())
            lines.append(ScreenLine("\(kind.title): \(DiffText.summary(kind))", .columnHeader))
            lines += noteLines(kind, pages: diff.pageChanges)
            for entry in kind.entries { lines += entryLines(entry) }
        }
        return lines
    }

    /// Renders the kind-wide lines. The memory kind's page sentence becomes one
    /// line per area, so a long list of areas is not cut at the screen edge.
    private static func noteLines(_ kind: KindDiff, pages: PageComparison?) -> [ScreenLine] {
        guard kind.areasWithChangedPages > 0, let pages else { return kind.notes.map { ScreenLine("  ~ " + $0) } }
        return pages.areas.map { area in
            let noun = area.changedPages == 1 ? "page" : "pages"
            return ScreenLine("  ~ \(area.changedPages) \(noun) changed in \(area.area)")
        }
    }

    private static func entryLines(_ entry: EntryChange) -> [ScreenLine] {
        switch entry.change {
        case .added: return entry.summary.map { ScreenLine([Span("  + ", .statusInfo), Span($0)]) }
        case .removed: return entry.summary.map { ScreenLine([Span("  - ", .statusError), Span($0)]) }
        case .unchanged: return []
        case .changed:
            return [ScreenLine([Span("  ~ ", .title), Span(entry.key, .title)])] + entry.fields.map { fieldLine($0, indent: "      ") }
        }
    }

    /// "name  before → after", the two values highlighted.
    static func fieldLine(_ change: FieldChange, indent: String) -> ScreenLine {
        ScreenLine([Span(indent + change.name + " "), Span(change.before, .statusError), Span(" → "),
                    Span(change.after, .statusInfo)])
    }

    /// Renders a restore and its verification, with expected differences marked.
    static func restoreLines(_ report: RestoreReport, path: String, stdio: String?) -> [ScreenLine] {
        let pid = report.pid == report.imagePid ? "\(report.pid)" : "\(report.pid) (the image had \(report.imagePid), which was taken)"
        var lines = [
            ScreenLine("restored process \(pid) from \(Escape.text(path)) in \(Format.milliseconds(report.elapsedNs)) with \(report.syscalls) system calls", .title),
        ]
        if let stdio { lines.append(ScreenLine("its terminal output goes to \(Escape.text(stdio))", .dim)) }
        let unexpected = report.unexpected.count
        lines.append(ScreenLine("verification (\(Format.milliseconds(report.verifyNs))): \(unexpected) unexpected and \(report.differences.count - unexpected) expected differences from the image",
                                unexpected == 0 ? .statusInfo : .statusError))
        // Unexpected lines come first: one of them can hide among dozens of expected ones.
        let ordered = report.differences.filter { !$0.expected } + report.differences.filter(\.expected)
        for difference in ordered {
            let label = difference.expected ? Span("  expected ", .dim) : Span("  DIFFERS  ", .statusError)
            let reason = difference.reason.map { " (\($0))" } ?? ""
            lines.append(ScreenLine([label, Span("\(difference.subject): \(difference.summary)"), Span(reason, .dim)]))
        }
        return lines
    }

    /// Renders the family as a tree, each process with the channels it has to the
    /// others, then every channel as "writer → reader".
    static func familyScreen(_ graph: FamilyGraph) -> TextScreen {
        var lines: [ScreenLine] = []
        var pids: [Int: Int32] = [:]
        for member in graph.members {
            let p = member.process
            let indent = String(repeating: "  ", count: member.depth) + (member.depth > 0 ? "└─ " : "")
            let peers = graph.links.compactMap { link -> String? in
                if link.fromPid == p.pid { return "fd \(link.fromFd) → \(link.toPid)" }
                if link.toPid == p.pid { return "fd \(link.toFd) ← \(link.fromPid)" }
                return nil
            }
            let talk = peers.isEmpty ? "" : "   [" + peers.joined(separator: ", ") + "]"
            pids[lines.count] = p.pid
            let style: Style = p.pid == graph.focus ? .title : .normal
            lines.append(ScreenLine([Span(indent + "\(p.pid) \(p.comm)", style), Span(talk, .statusInfo)]))
        }
        lines.append(ScreenLine())
        lines.append(ScreenLine("Channels between processes (\(graph.links.count))", .columnHeader))
        if graph.links.isEmpty { lines.append(ScreenLine("  (no pipe or socket joins two processes shown here)", .dim)) }
        let names = Dictionary(graph.members.map { ($0.process.pid, $0.process.comm) }, uniquingKeysWith: { first, _ in first })
        for link in graph.links {
            let from = "\(link.fromPid) \(names[link.fromPid] ?? "?") fd \(link.fromFd)" + (link.fromEnd.isEmpty ? "" : " (\(link.fromEnd))")
            let to = "\(link.toPid) \(names[link.toPid] ?? "outside the family") fd \(link.toFd)" + (link.toEnd.isEmpty ? "" : " (\(link.toEnd))")
            let arrow = link.fromEnd.isEmpty ? " ⇄ " : " → "
            lines.append(ScreenLine("  \(link.channel): \(from)\(arrow)\(to)"))
        }
        var screen = TextScreen(title: "Family of process \(graph.focus): Enter dumps the selected process", lines: lines)
        screen.linePids = pids
        screen.cursor.selected = pids.first { $0.value == graph.focus }?.key ?? 0
        return screen
    }
}
