import BpfcpCore
import Foundation

/// A dump of every kind from eBPF and from /proc plus netlink (sock_diag),
/// side by side, for a process with about 10,000 fds of mixed kinds.
enum FullDumpBench {
    /// Medians per kind and for the whole dump, by source.
    struct Figures {
        var fds = 0
        /// Collector alone (`collectCount`), wall time.
        var collectNs: [String: [CollectorSource: UInt64]] = [:]
        /// Collector alone, CPU time of the calling thread.
        var collectCpuNs: [String: [CollectorSource: UInt64]] = [:]
        /// `Dumper.dump` of every kind: collectors, JSON items and rendered entries.
        var dumpNs: [CollectorSource: UInt64] = [:]
        var dumpCpuNs: [CollectorSource: UInt64] = [:]
        var items: [String: Int] = [:]
    }

    /// The row of the shared pass over the fd table, which the eBPF side runs
    /// once per dump for its eight fd kinds. Their rows then time the reading
    /// of its records alone.
    static let sharedPass = "fd table, one shared pass (eBPF only)"

    /// The row of the eight fd kinds each run with its own program, as
    /// `dump --only` runs one and as every dump did before the shared pass.
    static let fdKindsAlone = "eight fd kinds, each its own pass (eBPF), for comparison"

    /// Times every kind's collector and whole dumps of `pid`, `runs` times
    /// from each source, alternately, after one warm-up dump of each, which
    /// also loads the BPF objects.
    static func measure(pid: Int32, runs: Int) throws -> Figures {
        var figures = Figures()
        figures.fds = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
        let sources = [CollectorSource.bpf, .proc]
        for source in sources {
            let dump = try Dumper.dump(pid: pid, source: source)
            if source == .bpf, let missing = dump.sections.first(where: { $0.unavailable != nil }) {
                throw BenchError("\(missing.kind) unavailable from eBPF: \(missing.unavailable ?? "")")
            }
        }
        let plain = try target(pid)

        var collect: [String: [CollectorSource: [Sample]]] = [:]
        var dumps: [CollectorSource: [Sample]] = [:]
        for _ in 0..<runs {
            for source in sources {
                var target = plain
                if source == .bpf {
                    var pass: FdTablePass?
                    let sample = try Measure.time {
                        pass = try FdTablePass.run(pid: pid)
                        return 0
                    }
                    collect[sharedPass, default: [:]][.bpf, default: []].append(sample)
                    target = Target(pid: pid, process: plain.process, fdTable: pass)
                    collect[fdKindsAlone, default: [:]][.bpf, default: []].append(try fdKindsEachAlone(plain))
                }
                for kind in KindRegistry.all {
                    var count = 0
                    let sample = try Measure.time {
                        count = (try? kind.collectCount(target, source)) ?? 0
                        return count
                    }
                    collect[kind.name, default: [:]][source, default: []].append(sample)
                    if source == .bpf { figures.items[kind.name] = count }
                }
                dumps[source, default: []].append(try Measure.time { try Dumper.dump(pid: pid, source: source).sections.count })
            }
        }
        figures.collectNs = collect.mapValues { $0.mapValues { Measure.median($0.map(\.wallNs)) } }
        figures.collectCpuNs = collect.mapValues { $0.mapValues { Measure.median($0.map(\.cpuNs)) } }
        figures.dumpNs = dumps.mapValues { Measure.median($0.map(\.wallNs)) }
        figures.dumpCpuNs = dumps.mapValues { Measure.median($0.map(\.cpuNs)) }
        return figures
    }

    /// Runs each fd kind's collector without the shared pass; one sample for all eight.
    private static func fdKindsEachAlone(_ target: Target) throws -> Sample {
        try Measure.time {
            try KindRegistry.all.filter(\.readsFdTable).reduce(0) { $0 + (try $1.collectCount(target, .bpf)) }
        }
    }

    private static func target(_ pid: Int32) throws -> Target {
        guard let process = try ProcessListBPF.collect(pid: pid).first else { throw BenchError("process \(pid) not found") }
        return Target(pid: pid, process: process)
    }

    static func markdown(_ f: Figures, runs: Int) -> String {
        var lines = [
            "Target: \(f.fds) open fds of mixed kinds (tools/bench/mixed_fds.c). Medians of \(runs) runs",
            "of each source, alternated, after one warm-up dump each (which loads the BPF objects).",
            "Wall time, then CPU time of the calling thread (user plus kernel).",
            "",
            "| kind | items | eBPF wall | /proc wall | ratio | eBPF CPU | /proc CPU | CPU ratio |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        var sumWall: [CollectorSource: UInt64] = [:]
        var sumCpu: [CollectorSource: UInt64] = [:]
        for kind in [sharedPass] + KindRegistry.all.map(\.name) {
            let wall = f.collectNs[kind] ?? [:]
            let cpu = f.collectCpuNs[kind] ?? [:]
            for source in [CollectorSource.bpf, .proc] {
                sumWall[source, default: 0] += wall[source] ?? 0
                sumCpu[source, default: 0] += cpu[source] ?? 0
            }
            lines.append(row(kind, items: kind == sharedPass ? "" : "\(f.items[kind] ?? 0)", wall: wall, cpu: cpu))
        }
        lines.append(row("**collectors of every kind**", items: "", wall: sumWall, cpu: sumCpu))
        let fdKinds = KindRegistry.all.filter(\.readsFdTable).map(\.name)
        var aloneWall = [CollectorSource.bpf: f.collectNs[fdKindsAlone]?[.bpf] ?? 0]
        var aloneCpu = [CollectorSource.bpf: f.collectCpuNs[fdKindsAlone]?[.bpf] ?? 0]
        aloneWall[.proc] = fdKinds.reduce(0) { $0 + (f.collectNs[$1]?[.proc] ?? 0) }
        aloneCpu[.proc] = fdKinds.reduce(0) { $0 + (f.collectCpuNs[$1]?[.proc] ?? 0) }
        var passWall = aloneWall
        var passCpu = aloneCpu
        passWall[.bpf] = ([sharedPass] + fdKinds).reduce(0) { $0 + (f.collectNs[$1]?[.bpf] ?? 0) }
        passCpu[.bpf] = ([sharedPass] + fdKinds).reduce(0) { $0 + (f.collectCpuNs[$1]?[.bpf] ?? 0) }
        lines.append(row("eight fd kinds through the shared pass (pass plus reading)", items: "", wall: passWall, cpu: passCpu))
        lines.append(row(fdKindsAlone, items: "", wall: aloneWall, cpu: aloneCpu))
        lines.append(row("**whole dump** (collectors, JSON items, rendered entries)", items: "", wall: f.dumpNs, cpu: f.dumpCpuNs))
        return lines.joined(separator: "\n") + "\n"
    }

    private static func row(_ name: String, items: String, wall: [CollectorSource: UInt64], cpu: [CollectorSource: UInt64]) -> String {
        "| \(name) | \(items) | \(ms(wall[.bpf])) | \(ms(wall[.proc])) | \(ratio(wall)) | \(ms(cpu[.bpf])) | \(ms(cpu[.proc])) | \(ratio(cpu)) |"
    }

    private static func ms(_ ns: UInt64?) -> String {
        ns.map(Format.milliseconds) ?? "-"
    }

    private static func ratio(_ times: [CollectorSource: UInt64]) -> String {
        guard let bpf = times[.bpf], let proc = times[.proc], bpf > 0 else { return "-" }
        return String(format: "%.1fx", Double(proc) / Double(bpf))
    }
}
