import CNcursesw

/// Measures and fits text by terminal columns, so that wide characters
/// (CJK, emoji) keep table columns aligned. Needs `setlocale(LC_ALL, "")`
/// first, because `wcwidth` returns -1 for non-ASCII characters outside a UTF-8 locale.
public enum TextWidth {
    /// Columns that `scalar` occupies after `sanitize`: 0 for combining marks,
    /// 2 for wide characters, 1 otherwise.
    public static func width(_ scalar: Unicode.Scalar) -> Int {
        if scalar.value < 0x7F { return 1 }
        let w = Int(bpfcp_wcwidth(wchar_t(scalar.value)))
        return w < 0 ? 1 : w
    }

    public static func width(_ text: String) -> Int {
        if isPrintableASCII(text) { return text.utf8.count }
        return sanitize(text).unicodeScalars.reduce(0) { $0 + width($1) }
    }

    /// True when every byte is printable ASCII (0x20-0x7E): such text passes
    /// `sanitize` unchanged and takes one column per byte. Most cells are
    /// like this, and the checks below skip the scalar-by-scalar work for them.
    static func isPrintableASCII(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }

    /// Replaces anything a terminal would interpret (C0 and C1 controls,
    /// DEL) or cannot display in the current locale with "?". Strings from
    /// processes arrive escaped already, and this keeps any other text
    /// (error messages, file names from the user) from reaching the screen raw.
    public static func sanitize(_ text: String) -> String {
        if isPrintableASCII(text) { return text }
        guard text.unicodeScalars.contains(where: needsReplacement) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            out.append(needsReplacement(scalar) ? "?" : scalar)
        }
        return String(out)
    }

    private static func needsReplacement(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        let control = v < 0x20 || (0x7F...0x9F).contains(v)
        return control || (v >= 0x7F && bpfcp_wcwidth(wchar_t(v)) < 0)
    }

    /// Cuts or pads `text` to exactly `columns` terminal columns. A wide
    /// character that would straddle the edge is replaced by a space.
    public static func fit(_ text: String, _ columns: Int, alignRight: Bool = false) -> String {
        guard columns > 0 else { return "" }
        let cut = prefix(text, columns)
        let padding = String(repeating: " ", count: columns - cut.width)
        return alignRight ? padding + cut.text : cut.text + padding
    }

    /// Fits a table cell like `fit`, but ends a cut value with "…", so that a
    /// shortened address or flag list never reads as a complete one.
    public static func cell(_ text: String, _ columns: Int, alignRight: Bool = false) -> String {
        guard columns > 1, width(text) > columns else { return fit(text, columns, alignRight: alignRight) }
        return fit(text, columns - 1) + "…"
    }

    /// Cuts `text` to at most `columns` columns without padding, except
    /// the space that replaces a wide character straddling the edge.
    public static func truncate(_ text: String, _ columns: Int) -> String {
        guard columns > 0 else { return "" }
        let cut = prefix(text, columns)
        return cut.complete ? cut.text : cut.text + String(repeating: " ", count: columns - cut.width)
    }

    /// The longest start of sanitized `text` that fits in `columns` columns,
    /// its width, and whether it is the whole text. Slices the string
    /// instead of copying it scalar by scalar.
    private static func prefix(_ text: String, _ columns: Int) -> (text: String, width: Int, complete: Bool) {
        let clean = sanitize(text)
        if isPrintableASCII(clean) {
            let count = clean.utf8.count
            if count <= columns { return (clean, count, true) }
            return (String(decoding: clean.utf8.prefix(columns), as: UTF8.self), columns, false)
        }
        let scalars = clean.unicodeScalars
        var used = 0
        var end = scalars.startIndex
        while end < scalars.endIndex {
            let w = width(scalars[end])
            if used + w > columns { break }
            used += w
            end = scalars.index(after: end)
        }
        return (String(scalars[..<end]), used, end == scalars.endIndex)
    }

    /// Splits `text` into pieces of at most `columns` columns each.
    public static func wrap(_ text: String, _ columns: Int) -> [String] {
        guard columns > 0 else { return [] }
        var lines: [String] = []
        var current = String.UnicodeScalarView()
        var used = 0
        for scalar in sanitize(text).unicodeScalars {
            let w = width(scalar)
            if used + w > columns {
                lines.append(String(current))
                current = String.UnicodeScalarView()
                used = 0
            }
            current.append(scalar)
            used += w
        }
        lines.append(String(current))
        return lines
    }
}
