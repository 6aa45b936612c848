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
        sanitize(text).unicodeScalars.reduce(0) { $0 + width($1) }
    }

    /// Replaces anything a terminal would interpret (C0 and C1 controls,
    /// DEL) or cannot display in the current locale with "?". Strings from
    /// processes arrive escaped already, and this keeps any other text
    /// (error messages, file names from the user) from reaching the screen raw.
    public static func sanitize(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let v = scalar.value
            let control = v < 0x20 || (0x7F...0x9F).contains(v)
            let unprintable = v >= 0x7F && bpfcp_wcwidth(wchar_t(v)) < 0
            out.append(control || unprintable ? "?" : scalar)
        }
        return String(out)
    }

    /// Cuts or pads `text` to exactly `columns` terminal columns. A wide
    /// character that would straddle the edge is replaced by a space.
    public static func fit(_ text: String, _ columns: Int, alignRight: Bool = false) -> String {
        guard columns > 0 else { return "" }
        var out = String.UnicodeScalarView()
        var used = 0
        for scalar in sanitize(text).unicodeScalars {
            let w = width(scalar)
            if used + w > columns { break }
            out.append(scalar)
            used += w
        }
        let padding = String(repeating: " ", count: columns - used)
        return alignRight ? padding + String(out) : String(out) + padding
    }

    /// Fits a table cell like `fit`, but ends a cut value with "…", so that a
    /// shortened address or flag list never reads as a complete one.
    public static func cell(_ text: String, _ columns: Int, alignRight: Bool = false) -> String {
        guard columns > 1, width(sanitize(text)) > columns else { return fit(text, columns, alignRight: alignRight) }
        return fit(text, columns - 1) + "…"
    }

    /// Cuts `text` to at most `columns` columns without padding.
    public static func truncate(_ text: String, _ columns: Int) -> String {
        let fitted = fit(text, columns)
        let used = width(text)
        return used >= columns ? fitted : String(fitted.dropLast(columns - used))
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
