/// Screen mode, which decides the body shown and how keys are read (bpftop
/// keeps a mode enum the same way). Each mode has its own footer of key
/// hints, built from the action table.
public enum Mode: Equatable, Sendable {
    case list
    /// Incremental search: typed text moves the selection to the next match.
    case search
    /// Filter: typed text hides the processes that do not contain it.
    case filter
    /// The sort column menu (F6).
    case sortMenu
    case detail
    case help
    /// The checkpoints taken in this run (C).
    case captures
    /// A screen of lines: a diff, a question before writing or restoring, a restore's verification, the process family.
    case textScreen
    /// Typing an image directory path.
    case pathPrompt

    /// Modes that read typed characters as text instead of commands.
    public var takesText: Bool { self == .search || self == .filter || self == .pathPrompt }
}

/// A key press, independent of curses.
public enum Key: Hashable, Sendable {
    case char(Character)
    case ctrl(Character)
    case up, down, left, right, pageUp, pageDown, home, end
    case enter, escape, backspace, tab, backTab
    case function(Int)
    case resize

    /// The key as the help screen and footer name it.
    public var label: String {
        switch self {
        case .char(" "): "Space"
        case .char(let c): String(c)
        case .ctrl(let c): "^" + String(c).uppercased()
        case .up: "Up"
        case .down: "Down"
        case .left: "Left"
        case .right: "Right"
        case .pageUp: "PgUp"
        case .pageDown: "PgDn"
        case .home: "Home"
        case .end: "End"
        case .enter: "Enter"
        case .escape: "Esc"
        case .backspace: "Bksp"
        case .tab: "Tab"
        case .backTab: "S-Tab"
        case .function(let n): "F\(n)"
        case .resize: "resize"
        }
    }
}

/// Follow-up work for the main loop after an action, like htop's reaction flags.
public struct Reaction: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    public static let redraw = Reaction(rawValue: 1 << 0)
    /// Refresh the process list now instead of waiting for the delay.
    public static let rescan = Reaction(rawValue: 1 << 1)
    /// Clear the terminal and repaint everything (Ctrl-L).
    public static let repaintAll = Reaction(rawValue: 1 << 2)
    public static let quit = Reaction(rawValue: 1 << 3)
    public static let none: Reaction = []
}
