import BpfcpCore

/// Every key binding of bpfcp-top, in the order the help screen lists them.
/// Keys follow htop where htop has the same command.
public enum ActionTable {
    static let browse: Set<Mode> = [.list, .detail]
    static let everywhere: Set<Mode> = [.list, .search, .filter, .sortMenu, .detail, .help, .captures, .textScreen, .pathPrompt]

    public static let all: [Action] = navigation + list + prompts + sortMenu + detail + CaptureActions.all + lineEditing + common

    static let navigation: [Action] = [
        Action([.up, .char("k")], "Up", "move the selection up", modes: browse, inFooter: false) { move(&$0, -1) },
        Action([.down, .char("j")], "Down", "move the selection down", modes: browse, inFooter: false) { move(&$0, 1) },
        Action([.pageUp], "PgUp", "move one page up", modes: browse, inFooter: false) { move(&$0, -page($0)) },
        Action([.pageDown], "PgDn", "move one page down", modes: browse, inFooter: false) { move(&$0, page($0)) },
        Action([.home], "Home", "go to the first row", modes: browse, inFooter: false) { edge(&$0, first: true) },
        Action([.end], "End", "go to the last row", modes: browse, inFooter: false) { edge(&$0, first: false) },
    ]

    static let list: [Action] = [
        Action([.enter, .char("d")], "Dump", "dump the selected process live (it keeps running)", modes: [.list]) { state in
            guard let pid = state.table.selectedRow?.process.pid else { return .none }
            state.requestDump(pid)
            return .redraw
        },
        Action([.char("/"), .function(3)], "Search", "search commands incrementally", modes: [.list]) { state in
            state.mode = .search
            state.searchText = ""
            return .redraw
        },
        Action([.char("\\"), .function(4)], "Filter", "show only commands containing a text", modes: [.list]) { state in
            state.mode = .filter
            return .redraw
        },
        Action([.char("t"), .function(5)], "Tree", "show processes as a tree", modes: [.list]) { state in
            state.table.treeView.toggle()
            state.table.rebuild(height: state.layout.listHeight)
            return .redraw
        },
        Action([.function(6)], "SortBy", "pick the sort column from a menu", modes: [.list]) { state in
            state.mode = .sortMenu
            state.sortMenu = ListCursor(selected: state.table.sortColumn.rawValue)
            return .redraw
        },
        Action([.char(">"), .char(".")], "Next column", "sort by the next column", modes: [.list], inFooter: false) {
            shiftSort(&$0, 1)
        },
        Action([.char("<"), .char(",")], "Previous column", "sort by the previous column", modes: [.list], inFooter: false) {
            shiftSort(&$0, -1)
        },
        Action([.char("I")], "Invert", "invert the sort order", modes: [.list], inFooter: false) { state in
            state.table.descending.toggle()
            state.table.rebuild(height: state.layout.listHeight)
            return .redraw
        },
        Action([.char("K")], "Kernel", "show or hide kernel threads", modes: [.list], inFooter: false) { state in
            state.table.showKernelThreads.toggle()
            state.table.rebuild(height: state.layout.listHeight)
            return .redraw
        },
    ]

    static let prompts: [Action] = [
        Action([.function(3)], "Next", "go to the next match", modes: [.search]) { state in
            TextInput.searchMoved(&state, fromNext: true)
        },
        Action([.enter], "Done", "keep the search or filter and go back to the list", modes: [.search, .filter]) { state in
            state.mode = .list
            return .redraw
        },
        Action([.escape], "Cancel", "leave the search, or clear the filter", modes: [.search, .filter]) { state in
            if state.mode == .filter {
                state.table.filter = ""
                state.table.rebuild(height: state.layout.listHeight)
            }
            state.mode = .list
            return .redraw
        },
        Action([.up], "Up", "move the selection up", modes: [.search, .filter], inFooter: false) { move(&$0, -1) },
        Action([.down], "Down", "move the selection down", modes: [.search, .filter], inFooter: false) { move(&$0, 1) },
    ]

    /// Line editing in the search, filter and path prompts, after their own keys so the footer shows those first.
    static let lineEditing: [Action] = [
        Action([.backspace], "Erase", "delete the last character", modes: TextInput.modes, inFooter: false) {
            TextInput.edit(&$0, .eraseCharacter)
        },
        Action([.ctrl("w")], "Erase word", "delete the last word or path component", modes: TextInput.modes, inFooter: false) {
            TextInput.edit(&$0, .eraseWord)
        },
        Action([.ctrl("u")], "Clear", "clear the line", modes: TextInput.modes) { TextInput.edit(&$0, .clear) },
    ]

    static let sortMenu: [Action] = [
        Action([.up], "Up", "previous column", modes: [.sortMenu], inFooter: false) { state in
            state.sortMenu.move(-1, count: ProcessColumn.allCases.count, height: state.layout.listHeight)
            return .redraw
        },
        Action([.down], "Down", "next column", modes: [.sortMenu], inFooter: false) { state in
            state.sortMenu.move(1, count: ProcessColumn.allCases.count, height: state.layout.listHeight)
            return .redraw
        },
        Action([.home], "Home", "first column", modes: [.sortMenu], inFooter: false) { state in
            state.sortMenu.home(count: ProcessColumn.allCases.count, height: state.layout.listHeight)
            return .redraw
        },
        Action([.end], "End", "last column", modes: [.sortMenu], inFooter: false) { state in
            state.sortMenu.end(count: ProcessColumn.allCases.count, height: state.layout.listHeight)
            return .redraw
        },
        Action([.enter], "Sort", "sort by the chosen column", modes: [.sortMenu]) { state in
            if let column = ProcessColumn(rawValue: state.sortMenu.selected) {
                state.table.sort(by: column, height: state.layout.listHeight)
            }
            state.mode = .list
            return .redraw
        },
        Action([.escape, .function(6)], "Cancel", "keep the current sort", modes: [.sortMenu]) { state in
            state.mode = .list
            return .redraw
        },
    ]

    static let detail: [Action] = [
        Action([.tab, .right], "Next tab", "show the next tab", modes: [.detail]) { switchTab(&$0, 1) },
        Action([.backTab, .left], "Prev tab", "show the previous tab", modes: [.detail], inFooter: false) { switchTab(&$0, -1) },
        Action([.enter, .char(" ")], "Expand", "show or hide every field of the row", modes: [.detail]) { state in
            state.detail?.toggleExpanded()
            return .redraw
        },
        Action([.char("p")], "vs /proc", "dump again through /proc and through eBPF; the header shows both times", modes: [.detail]) { state in
            guard let pid = state.detail?.pid, state.busy == nil else { return .none }
            state.busy = "timing the dump of \(pid) through /proc and eBPF"
            state.jobs.append(.compare(pid: pid))
            return .redraw
        },
        Action([.char("r"), .function(5)], "Re-dump",
               "dump this pid live again; replaces a capture or image shown", modes: [.detail]) { state in
            guard let pid = state.detail?.pid, state.busy == nil else { return .none }
            state.requestDump(pid)
            return .redraw
        },
        Action([.escape, .backspace], "Back", "return to the process list", modes: [.detail]) { state in
            state.mode = .list
            state.awaitedDump = nil
            state.busy = nil
            return .redraw
        },
    ]

    static let common: [Action] = [
        Action([.function(1), .char("h"), .char("?")], "Help", "show this help", modes: browse.union([.captures])) { state in
            state.modeBeforeHelp = state.mode
            state.mode = .help
            return .redraw
        },
        Action([.escape], "Cancel", "stop waiting for the dump", modes: [.list], inFooter: false) { state in
            guard state.awaitedDump != nil else { return .none }
            state.awaitedDump = nil
            state.busy = nil
            return .redraw
        },
        Action([.char("q"), .function(10)], "Quit", "quit", modes: browse.union([.captures])) { _ in .quit },
        Action([.ctrl("c")], "Quit", "quit at once", modes: everywhere, inFooter: false) { _ in .quit },
        Action([.ctrl("l")], "Redraw", "repaint the whole screen", modes: everywhere, inFooter: false) { _ in .repaintAll },
    ]

    private static func page(_ state: AppState) -> Int {
        state.mode == .detail ? state.layout.detailHeight : state.layout.listHeight
    }

    private static func move(_ state: inout AppState, _ delta: Int) -> Reaction {
        if state.mode == .detail {
            state.detail?.move(delta, height: state.layout.detailHeight)
        } else {
            state.table.cursor.move(delta, count: state.table.rows.count, height: state.layout.listHeight)
            state.table.followSelection()
        }
        return .redraw
    }

    private static func edge(_ state: inout AppState, first: Bool) -> Reaction {
        if state.mode == .detail {
            if first { state.detail?.home(height: state.layout.detailHeight) } else { state.detail?.end(height: state.layout.detailHeight) }
        } else if first {
            state.table.cursor.home(count: state.table.rows.count, height: state.layout.listHeight)
        } else {
            state.table.cursor.end(count: state.table.rows.count, height: state.layout.listHeight)
        }
        if state.mode != .detail { state.table.followSelection() }
        return .redraw
    }

    private static func shiftSort(_ state: inout AppState, _ delta: Int) -> Reaction {
        let count = ProcessColumn.allCases.count
        let next = (state.table.sortColumn.rawValue + delta + count) % count
        state.table.sort(by: ProcessColumn(rawValue: next) ?? .pid, height: state.layout.listHeight)
        return .redraw
    }

    private static func switchTab(_ state: inout AppState, _ delta: Int) -> Reaction {
        guard let tab = state.detail?.tab else { return .none }
        state.detail?.selectTab(tab + delta)
        return .redraw
    }
}
