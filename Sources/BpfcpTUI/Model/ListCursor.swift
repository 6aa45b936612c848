/// Selection and scroll position of a vertical list, as htop's Panel keeps
/// them. `height` is the number of visible rows, set from the layout.
public struct ListCursor: Equatable, Sendable {
    public var selected = 0
    public var top = 0

    public init(selected: Int = 0, top: Int = 0) {
        self.selected = selected
        self.top = top
    }

    /// Moves the selection by `delta` rows, clamped to the list.
    public mutating func move(_ delta: Int, count: Int, height: Int) {
        selected = max(0, min(count - 1, selected + delta))
        clamp(count: count, height: height)
    }

    public mutating func home(count: Int, height: Int) {
        selected = 0
        clamp(count: count, height: height)
    }

    public mutating func end(count: Int, height: Int) {
        selected = max(0, count - 1)
        clamp(count: count, height: height)
    }

    /// Keeps the selection inside the list and the visible window around it.
    public mutating func clamp(count: Int, height: Int) {
        selected = max(0, min(selected, count - 1))
        let rows = max(1, height)
        if selected < top { top = selected }
        if selected >= top + rows { top = selected - rows + 1 }
        top = max(0, min(top, max(0, count - rows)))
    }
}
