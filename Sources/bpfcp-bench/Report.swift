import BpfcpCore
import Foundation

/// Writes docs/BENCHMARKS.md from one run's figures.
struct Report {
    let runs: Int
    /// Each comparison with its target ratio, nil for a row shown for information only.
    let comparisons: [(Comparison, target: Double?)]
    let loads: [(String, UInt64)]
    let breakdowns: [Breakdown]
    let top: TopFigures?
    let topError: String?

    func markdown() -> String {
        var lines = [
            "## Collectors: eBPF against /proc (`tools/bench/collectors.sh`)",
            "",
            "Written by `.build/release/bpfcp-bench --output docs/BENCHMARKS.md`, which replaces only this section.",
            "Do not edit it by hand: rerun the command on the machine you want figures for.",
            "",
            "### Machine",
            "",
            "- CPU: \(Machine.cpuModel()), \(ProcessInfo.processInfo.activeProcessorCount) cores",
            "- Kernel: \(Machine.kernel())",
            "- Date: \(Machine.date())",
            "- Load average at the start: \(Machine.loadAverage()) (other work on the machine inflates wall times; thread CPU times are steadier)",
            "",
            "### eBPF against /proc, one collection",
            "",
            "Medians of \(runs) runs of each collector, alternated, after one warm-up call each, in wall time and in CPU time of the calling thread (user plus kernel). The workload processes are started and killed by the benchmark. Rows with page counts include PAGEMAP_SCAN on both sides. The target is met when the wall-time ratio reaches it.",
            "",
            "| workload | items | eBPF wall | /proc wall | ratio | eBPF CPU | /proc CPU | CPU ratio | target |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for (c, target) in comparisons {
            let verdict = target.map { String(format: "%.0fx ", $0) + (c.ratio >= $0 ? "met" : "missed") } ?? "none"
            let cells = [c.name, "\(c.items)", Format.milliseconds(c.bpfNs), Format.milliseconds(c.procNs), String(format: "%.1fx", c.ratio),
                         Format.milliseconds(c.bpfCpuNs), Format.milliseconds(c.procCpuNs), String(format: "%.1fx", c.cpuRatio),
                         verdict]
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        lines += ["", "### Where the eBPF time goes", "", "Medians of the steps of one eBPF collection.", "",
                  "| workload | step | time |", "| --- | --- | ---: |"]
        for b in breakdowns {
            for (step, ns) in b.steps {
                lines.append("| \(b.name) | \(step) | \(Format.milliseconds(ns)) |")
            }
        }
        lines += ["", "### One-time BPF object load", "", "Open and load (BTF parse and verification) of each object, excluded from the figures above.", "",
                  "| object | load |", "| --- | ---: |"]
        for (name, ns) in loads {
            lines.append("| \(name) | \(Format.milliseconds(ns)) |")
        }
        lines += ["", "### bpfcp-top", ""]
        if let top {
            lines.append("- Start: \(Format.milliseconds(top.startNs)). \(top.startWhat).")
            lines.append("- CPU with 1,000 extra processes: \(String(format: "%.2f%%", top.cpuPercent)) of one core. \(top.cpuWhat).")
            if let startup = top.startupCpuNs {
                lines.append("- One-time start-up CPU, loading the BPF objects included: \(Format.milliseconds(startup)). \(top.startupWhat).")
            }
        } else {
            lines.append("- Not measured: \(topError ?? "unknown error").")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension Report {
    static let beginMarker = "<!-- bpfcp-bench: begin -->"
    static let endMarker = "<!-- bpfcp-bench: end -->"

    /// Replaces the text between the bpfcp-bench markers in `path` with
    /// `section`, or appends the section with its markers, so that the other
    /// sections of the file stay as they are.
    static func replaceSection(in path: String, with section: String) throws {
        let existing = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "# Benchmarks\n"
        let block = beginMarker + "\n" + section + endMarker + "\n"
        var updated: String
        if let begin = existing.range(of: beginMarker), let end = existing.range(of: endMarker), begin.lowerBound < end.lowerBound {
            let afterEnd = existing[end.upperBound...].drop { $0 == "\n" }
            updated = String(existing[..<begin.lowerBound]) + block + (afterEnd.isEmpty ? "" : "\n" + afterEnd)
        } else {
            updated = existing + (existing.hasSuffix("\n\n") ? "" : "\n") + block
        }
        try updated.write(toFile: path, atomically: true, encoding: .utf8)
    }
}

enum Machine {
    static func cpuModel() -> String {
        let info = (try? ProcFS.readText("/proc/cpuinfo")) ?? ""
        let line = info.split(separator: "\n").first { $0.hasPrefix("model name") }
        return line.flatMap { $0.split(separator: ":", maxSplits: 1).last }.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown"
    }

    static func kernel() -> String {
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let machine = withUnsafeBytes(of: name.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return "Linux \(release) \(machine)"
    }

    static func loadAverage() -> String {
        let text = (try? ProcFS.readText("/proc/loadavg")) ?? ""
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    static func date() -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date())
    }
}
