/// One command of bpfcp-top: the keys that run it, the modes it works in and
/// a small function that changes the state and returns what the main loop
/// must do next.
///
/// The action table is the only place keys are bound. Commands that act on a
/// process (checkpoint `c`, mark a capture `m`, diff two marks `D`, write an
/// image `w`, open an image `o`, restore `R`) plug in as more rows. A row whose
/// command does more than read sets `effect`, and `--readonly` then
/// rejects it before it runs.
public struct Action: Sendable {
    public let keys: [Key]
    /// Short name for the footer, e.g. "Dump".
    public let label: String
    /// One line for the help screen.
    public let help: String
    public let modes: Set<Mode>
    /// Change the command makes beyond reading, as a clause such as "creates
    /// a process". Nil for commands that only read. --readonly disables the others.
    public let effect: String?
    public var changesState: Bool { effect != nil }
    public let inFooter: Bool
    public let run: @Sendable (inout AppState) -> Reaction

    public init(_ keys: [Key], _ label: String, _ help: String, modes: Set<Mode>, effect: String? = nil,
                inFooter: Bool = true, run: @escaping @Sendable (inout AppState) -> Reaction) {
        self.keys = keys
        self.label = label
        self.help = help
        self.modes = modes
        self.effect = effect
        self.inFooter = inFooter
        self.run = run
    }
}

/// Routes keys to actions for the current mode.
public enum Dispatcher {
    /// Handles one key press. In search and filter modes, printable characters
    /// are text; everything else goes through the action table.
    public static func handle(_ key: Key, _ state: inout AppState, actions: [Action] = ActionTable.all) -> Reaction {
        if state.mode == .help, !isGlobal(key) {
            return helpKey(key, &state)
        }
        if state.mode.takesText, case .char(let c) = key {
            return TextInput.type(c, &state)
        }

        guard let action = actions.first(where: { $0.modes.contains(state.mode) && $0.keys.contains(key) }) else {
            return .none
        }
        if let effect = action.effect, state.options.readOnly {
            state.report(.error("--readonly disables \(action.label), which \(effect)"))
            return .redraw
        }
        return action.run(&state)
    }

    /// Scrolls the help screen with the arrows and pages; any other key leaves it.
    private static func helpKey(_ key: Key, _ state: inout AppState) -> Reaction {
        let page = max(1, state.layout.listHeight - 1)
        switch key {
        case .up: state.helpTop -= 1
        case .down: state.helpTop += 1
        case .pageUp: state.helpTop -= page
        case .pageDown: state.helpTop += page
        default:
            state.mode = state.modeBeforeHelp
            state.helpTop = 0
        }
        state.helpTop = max(0, min(state.helpTop, HelpView.lineCount - 1))
        return .redraw
    }

    /// Keys that work the same in every mode.
    private static func isGlobal(_ key: Key) -> Bool {
        key == .ctrl("c") || key == .ctrl("l")
    }

    /// Footer hints for `mode`: each footer action's first key and label.
    /// Help and Quit come first, so that a narrow terminal still shows them.
    public static func hints(for mode: Mode, actions: [Action] = ActionTable.all) -> [(key: String, label: String)] {
        let shown = actions.filter { $0.inFooter && $0.modes.contains(mode) }
        let first = ["Help", "Quit"]
        let ordered = shown.filter { first.contains($0.label) } + shown.filter { !first.contains($0.label) }
        return ordered.map { ($0.keys[0].label, $0.label) }
    }
}

/// Typing in the search, filter and path prompts. All three edit their line
/// with the same keys, as a shell does: Backspace, Ctrl-W and Ctrl-U.
enum TextInput {
    static let modes: Set<Mode> = [.search, .filter, .pathPrompt]

    /// A change to the line of a prompt.
    enum Edit {
        case eraseCharacter
        /// Deletes the separators (spaces and slashes) at the end, then the
        /// word or path component before them, so "/tmp/a b" becomes "/tmp/a ".
        case eraseWord
        case clear

        func apply(to line: inout String) {
            switch self {
            case .eraseCharacter:
                if !line.isEmpty { line.removeLast() }
            case .eraseWord:
                let separators: Set<Character> = [" ", "/"]
                while let last = line.last, separators.contains(last) { line.removeLast() }
                while let last = line.last, !separators.contains(last) { line.removeLast() }
            case .clear:
                line = ""
            }
        }
    }

    static func type(_ c: Character, _ state: inout AppState) -> Reaction {
        guard !(c.asciiValue.map { $0 < 0x20 || $0 == 0x7F } ?? false) else { return .none }
        return change(&state) { $0.append(c) }
    }

    static func edit(_ state: inout AppState, _ edit: Edit) -> Reaction {
        change(&state) { edit.apply(to: &$0) }
    }

    /// Applies `body` to the line of the current prompt, then updates what
    /// depends on it: the search selection or the filtered list.
    private static func change(_ state: inout AppState, _ body: (inout String) -> Void) -> Reaction {
        switch state.mode {
        case .search:
            body(&state.searchText)
            return searchMoved(&state, fromNext: false)
        case .filter:
            body(&state.table.filter)
            state.table.rebuild(height: state.layout.listHeight)
        case .pathPrompt:
            body(&state.captures.prompt)
        default:
            return .none
        }
        return .redraw
    }

    static func searchMoved(_ state: inout AppState, fromNext: Bool) -> Reaction {
        let text = state.searchText
        if !text.isEmpty, !state.table.search(text, fromNext: fromNext, height: state.layout.listHeight) {
            state.report(.error("no process matches '\(text)'"))
        } else {
            state.status = nil
        }
        return .redraw
    }
}
