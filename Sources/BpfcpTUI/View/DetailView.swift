import BpfcpCore
import Foundation

/// The dump screen: a header with the timings, a tab bar, and the current
/// tab's table, where expanded rows are followed by every field.
enum DetailView {
    static func header(_ state: AppState) -> [ScreenLine] {
        guard let detail = state.detail else { return [] }
        let cols = state.layout.cols
        let dump = detail.dump
        let via = dump.source == .bpf ? "eBPF" : "/proc"
        var first = "PID \(dump.pid) \(dump.process.comm) | live dump via \(via): \(Format.milliseconds(dump.totalNs))"
        if let origin = detail.origin { first = "PID \(dump.pid) \(dump.process.comm) | \(origin.label) (checkpoint)" }
        first += " | taken \(AppState.clockTime(dump.takenAt))"
        if let note = detail.exitedNote { first += " | \(note)" }

        var lines = [ScreenLine(first, .title).fitted(cols, fill: .title)]
        if let pair = detail.comparison {
            let kind = detail.currentTab.section?.kind
            lines.append(ScreenLine(comparisonLine(pair, current: kind), .statusInfo).fitted(cols, fill: .statusInfo))
        } else {
            lines.append(ScreenLine(sectionsLine(dump, current: detail.currentTab.section?.kind), .dim))
        }
        lines.append(tabBar(detail, cols: cols))
        return lines
    }

    /// Lists the rows each program returned and its time, e.g. "files 9 rows 0.41 ms".
    /// The kind of the current tab comes first, so it is never cut off.
    static func sectionsLine(_ dump: Dump, current: String?) -> String {
        let ordered = dump.sections.filter { $0.kind == current } + dump.sections.filter { $0.kind != current }
        return ordered.map { section in
            section.unavailable != nil ? "\(section.kind) unavailable"
                : "\(section.kind) \(section.entries.count) rows \(Format.milliseconds(section.elapsedNs))"
        }.joined(separator: " | ")
    }

    /// eBPF and /proc times of the same dump, in total and per kind, with the
    /// ratio. The kind of the current tab comes first, so it is never cut off.
    static func comparisonLine(_ pair: (proc: Dump, bpf: Dump), current: String?) -> String {
        func ratio(_ proc: UInt64, _ bpf: UInt64) -> String {
            String(format: "%.1fx", Double(proc) / Double(max(1, bpf)))
        }
        var text = "eBPF \(Format.milliseconds(pair.bpf.totalNs)) vs /proc \(Format.milliseconds(pair.proc.totalNs))"
        text += " (/proc takes \(ratio(pair.proc.totalNs, pair.bpf.totalNs)))"
        let ordered = pair.bpf.sections.filter { $0.kind == current } + pair.bpf.sections.filter { $0.kind != current }
        for section in ordered {
            guard let other = pair.proc.section(section.kind) else { continue }
            text += " | \(section.kind) \(Format.milliseconds(section.elapsedNs)) vs \(Format.milliseconds(other.elapsedNs))"
        }
        return text
    }

    /// Tab titles. When they do not fit, the bar starts late enough to show
    /// the current tab. `<` marks tabs hidden on the left, `>` tabs hidden on the right.
    static func tabBar(_ detail: DetailModel, cols: Int) -> ScreenLine {
        let titles = detail.tabs.map { " \($0.title)\($0.unavailable != nil ? "!" : "") " }
        var first = 0
        while first < detail.tab {
            let markers = (first > 0 ? 1 : 0) + (detail.tab < titles.count - 1 ? 1 : 0)
            let width = titles[first...detail.tab].reduce(markers) { $0 + TextWidth.width($1) + 1 }
            if width <= cols { break }
            first += 1
        }

        var spans: [Span] = first > 0 ? [Span("<", .dim)] : []
        for index in first..<titles.count {
            spans.append(Span(titles[index], index == detail.tab ? .tabActive : .tabInactive))
            spans.append(Span(" "))
        }
        // The space after the last title may be cut without hiding a tab.
        let width = spans.reduce(0) { $0 + TextWidth.width($1.text) } - 1
        guard width > cols else { return ScreenLine(spans).fitted(cols) }
        return ScreenLine(ScreenLine(spans).fitted(cols - 1).spans + [Span(">", .dim)])
    }

    static func body(_ state: inout AppState) -> [ScreenLine] {
        guard var detail = state.detail else { return [] }
        let cols = state.layout.cols
        let tab = detail.currentTab

        let specs = tab.columns.map { ($0.width, $0.alignRight) }
        let header = Renderer.tableLine(tab.columns.map(\.name), columns: specs, cols: cols - 2, style: .columnHeader)
        var lines = [ScreenLine([Span("  ", .columnHeader)] + header.spans)]
        if let reason = tab.unavailable {
            lines.append(ScreenLine("unavailable: \(reason)", .statusError))
            return lines
        }
        if tab.entries.isEmpty {
            lines.append(ScreenLine("(no rows)", .dim))
            return lines
        }

        let (all, selectedLine) = flatten(detail, specs: specs, cols: cols)
        let height = state.layout.detailHeight
        if selectedLine < detail.topLine { detail.topLine = selectedLine }
        if selectedLine >= detail.topLine + height { detail.topLine = selectedLine - height + 1 }
        detail.topLine = min(detail.topLine, max(0, all.count - height))
        state.detail = detail

        lines += all[detail.topLine..<min(all.count, detail.topLine + height)]
        return lines
    }

    /// Lays out every screen line of the tab and returns them with the index of the selected row's line.
    static func flatten(_ detail: DetailModel, specs: [(Int, Bool)], cols: Int) -> ([ScreenLine], Int) {
        var lines: [ScreenLine] = []
        var selectedLine = 0
        let typed = specs.map { (width: $0.0, alignRight: $0.1) }
        for (index, entry) in detail.currentTab.entries.enumerated() {
            let selected = index == detail.cursor.selected
            if selected { selectedLine = lines.count }
            let style: Style = selected ? .selected : .normal
            let marker = Span(detail.isExpanded(entry) ? "- " : "+ ", style)
            let row = Renderer.tableLine(entry.cells, columns: typed, cols: cols - 2, style: style)
            lines.append(ScreenLine([marker] + row.spans))
            if detail.isExpanded(entry) { lines += fieldLines(entry, cols: cols) }
        }
        return (lines, selectedLine)
    }

    /// "    name: value" for every field, long values wrapped under the value.
    static func fieldLines(_ entry: Entry, cols: Int) -> [ScreenLine] {
        let nameWidth = min(20, max(8, entry.fields.map { TextWidth.width($0.name) }.max() ?? 8))
        let indent = 4 + nameWidth + 2
        var lines: [ScreenLine] = []
        for field in entry.fields {
            let pieces = TextWidth.wrap(field.value.ifEmpty("-"), max(10, cols - indent))
            for (i, piece) in pieces.enumerated() {
                let label = i == 0 ? TextWidth.fit(field.name, nameWidth) + ": " : String(repeating: " ", count: nameWidth + 2)
                lines.append(ScreenLine([Span("    " + label, .dim), Span(piece)]))
            }
        }
        return lines
    }
}
