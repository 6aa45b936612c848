import CNcursesw
import Foundation

/// The curses terminal: set up on init, restored by `end()`. The only file
/// besides TextWidth that calls curses.
final class CursesScreen {
    private let color: Bool
    private var attributes: [Style: UInt32] = [:]
    /// The frame drawn last, so that an unchanged frame costs no curses calls.
    private var shown: [ScreenLine] = []
    private(set) var ended = false

    /// Switches to the alternate screen in raw mode, so Ctrl-C and Ctrl-Z
    /// arrive as keys. `getKey` waits at most `tickMs` milliseconds.
    init(color: Bool, tickMs: Int32) {
        initscr()
        raw()
        noecho()
        nonl()
        _ = bpfcp_keypad_on()
        curs_set(0)
        set_escdelay(25)
        timeout(tickMs)
        self.color = color && has_colors()
        setUpAttributes()
    }

    deinit {
        end()
    }

    /// Restores the terminal: leaves the alternate screen and cooked mode. Safe to call twice.
    func end() {
        guard !ended else { return }
        ended = true
        endwin()
    }

    var size: Layout {
        Layout(rows: Int(bpfcp_lines()), cols: Int(bpfcp_cols()))
    }

    /// Forces the next paint to redraw every cell (Ctrl-L).
    func invalidate() {
        _ = bpfcp_clear_all()
        shown = []
    }

    /// Draws `lines` from the top and refreshes the terminal. curses sends
    /// only the cells that changed; a frame equal to the last one is skipped.
    func paint(_ lines: [ScreenLine]) {
        guard lines != shown else { return }
        shown = lines
        erase()
        for (y, line) in lines.enumerated() {
            var x: Int32 = 0
            for span in line.spans where !span.text.isEmpty {
                let text = TextWidth.sanitize(span.text)
                var chars: [wchar_t] = []
                chars.reserveCapacity(text.utf8.count + 1)
                chars.append(contentsOf: text.unicodeScalars.lazy.map { wchar_t(Int32(bitPattern: $0.value)) })
                chars.append(0)
                _ = bpfcp_attrset(attributes[span.style] ?? 0)
                _ = bpfcp_addwstr(Int32(y), x, chars, Int32(chars.count - 1))
                x += Int32(TextWidth.width(text))
            }
        }
        _ = bpfcp_attrset(0)
        refresh()
    }

    /// Waits for one key; nil when the tick passed without one.
    func getKey() -> Key? {
        var ch: wint_t = 0
        let result = get_wch(&ch)
        if result == ERR { return nil }
        if result == bpfcp_key_code_yes() { return functionKey(Int32(ch)) }
        return characterKey(UInt32(ch))
    }

    private func functionKey(_ code: Int32) -> Key? {
        switch code {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_BACKSPACE: return .backspace
        case KEY_BTAB: return .backTab
        case KEY_ENTER: return .enter
        case bpfcp_key_resize(): return .resize
        default:
            for n in 1...12 where code == bpfcp_key_f(Int32(n)) { return .function(n) }
            return nil
        }
    }

    private func characterKey(_ value: UInt32) -> Key? {
        switch value {
        case 10, 13: return .enter
        case 27: return .escape
        case 8, 127: return .backspace
        case 9: return .tab
        case 1...26: return .ctrl(Character(Unicode.Scalar(value + 0x60)!))
        default: return Unicode.Scalar(value).map { .char(Character($0)) }
        }
    }

    /// Colors as htop uses them, or bold, reverse and dim alone under --no-color.
    private func setUpAttributes() {
        let bold = bpfcp_a_bold(), reverse = bpfcp_a_reverse(), dim = bpfcp_a_dim()
        attributes = [.normal: 0, .title: bold, .columnHeader: reverse | bold, .selected: reverse,
                      .tabActive: reverse | bold, .tabInactive: 0, .statusInfo: bold, .statusError: bold,
                      .footerKey: reverse | bold, .footerLabel: 0, .dim: dim]
        guard color else { return }

        start_color()
        use_default_colors()
        let pairs: [(Style, Int16, Int16, UInt32)] = [
            (.title, Int16(COLOR_CYAN), -1, bold), (.columnHeader, Int16(COLOR_BLACK), Int16(COLOR_GREEN), 0),
            (.selected, Int16(COLOR_BLACK), Int16(COLOR_CYAN), 0), (.tabActive, Int16(COLOR_BLACK), Int16(COLOR_CYAN), bold),
            (.statusInfo, Int16(COLOR_GREEN), -1, bold), (.statusError, Int16(COLOR_RED), -1, bold),
            (.footerKey, Int16(COLOR_WHITE), Int16(COLOR_BLACK), bold), (.footerLabel, Int16(COLOR_BLACK), Int16(COLOR_CYAN), 0),
        ]
        for (index, pair) in pairs.enumerated() {
            init_pair(Int16(index + 1), pair.1, pair.2)
            attributes[pair.0] = bpfcp_color_pair(Int32(index + 1)) | pair.3
        }
    }
}
