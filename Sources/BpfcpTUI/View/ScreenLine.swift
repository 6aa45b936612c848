/// Role of a span of text on screen. The curses layer maps each style to
/// colors or, without colors, to bold, reverse and dim.
public enum Style: Int, CaseIterable, Sendable {
    case normal
    case title
    case columnHeader
    case selected
    case tabActive
    case tabInactive
    case statusInfo
    case statusError
    case footerKey
    case footerLabel
    case dim
}

public struct Span: Equatable, Sendable {
    public let text: String
    public let style: Style

    public init(_ text: String, _ style: Style = .normal) {
        self.text = text
        self.style = style
    }
}

/// One row of the screen as styled spans, already cut to the screen width.
public struct ScreenLine: Equatable, Sendable {
    public var spans: [Span]

    public init(_ spans: [Span] = []) {
        self.spans = spans
    }

    public init(_ text: String, _ style: Style = .normal) {
        spans = [Span(text, style)]
    }

    /// The plain text, as a test or a screenshot reads it.
    public var text: String { spans.map(\.text).joined() }

    /// Cuts the spans to `cols` columns, and pads with `fill` style when `fill` is given.
    public func fitted(_ cols: Int, fill: Style? = nil) -> ScreenLine {
        var out: [Span] = []
        var used = 0
        for span in spans where used < cols {
            let piece = TextWidth.truncate(span.text, cols - used)
            used += TextWidth.width(piece)
            out.append(Span(piece, span.style))
        }
        if let fill, used < cols { out.append(Span(String(repeating: " ", count: cols - used), fill)) }
        return ScreenLine(out)
    }
}
