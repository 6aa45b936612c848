import Foundation

/// Formatting shared by the TUI and text output.
public enum Format {
    public static func bytes(_ n: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(format: value < 10 ? "%.1f %@" : "%.0f %@", value, units[unit])
    }

    public static func duration(_ ns: UInt64) -> String {
        let seconds = Double(ns) / 1e9
        if seconds < 60 { return String(format: "%.2fs", seconds) }
        let total = Int(seconds)
        if total < 3600 { return String(format: "%d:%02d", total / 60, total % 60) }
        return String(format: "%dh%02dm", total / 3600, (total / 60) % 60)
    }

    /// Returns "1 thread" or "2 threads": `n` with the singular or plural noun.
    public static func count(_ n: Int, _ singular: String, _ plural: String) -> String {
        "\(n) \(n == 1 ? singular : plural)"
    }

    public static func milliseconds(_ ns: UInt64) -> String {
        String(format: "%.2f ms", Double(ns) / 1e6)
    }

    public static func hex(_ v: UInt64) -> String {
        "0x" + String(v, radix: 16)
    }

    public static func octal(_ v: UInt32) -> String {
        "0" + String(v, radix: 8)
    }

    /// Kernel dev_t (major << 20 | minor) as "major:minor".
    public static func kernelDev(_ dev: UInt32) -> String {
        "\(dev >> 20):\(dev & 0xFFFFF)"
    }
}

extension String {
    func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
