import BpfcpCore
import Foundation

/// bpfcp-bench: compares the eBPF and /proc collectors on workloads it
/// starts itself, and writes docs/BENCHMARKS.md. Run as root through `make bench`.
let arguments = Array(CommandLine.arguments.dropFirst())

func value(after flag: String) -> String? {
    guard let i = arguments.firstIndex(of: flag), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}

if let count = value(after: "--hold-fds").flatMap(Int.init) { Holder.holdFds(count) }
if let count = value(after: "--hold-maps").flatMap(Int.init) { Holder.holdMaps(count) }
if let pid = value(after: "--full-dump").flatMap(Int32.init) {
    let runs = value(after: "--runs").flatMap(Int.init) ?? 9
    print(FullDumpBench.markdown(try FullDumpBench.measure(pid: pid, runs: runs), runs: runs), terminator: "")
    exit(0)
}
if arguments.contains("--breakdown") {
    let workloads = Workloads()
    let fdHolder = try workloads.spawnHolder(["--hold-fds", "10000"])
    let mapHolder = try workloads.spawnHolder(["--hold-maps", "20000"])
    let items = try MemoryKind.collectBPF(pid: mapHolder)
    let (_, entryNs) = Clock.measure { items.map(MemoryKind.entry) }
    let (_, jsonNs) = try Clock.measure { try JSONValue.from(items) }
    let (_, encodeNs) = try Clock.measure { try JSONCoding.encoder.encode(items) }
    print("memory entries \(Format.milliseconds(entryNs)), JSON \(Format.milliseconds(jsonNs)), encode only \(Format.milliseconds(encodeNs))")
    for b in [try Breakdown.files(pid: fdHolder, runs: 5), try Breakdown.memory(pid: mapHolder, runs: 5)] {
        print(b.name, b.steps.map { "\($0.0): \(Format.milliseconds($0.1))" })
    }
    workloads.stopAll()
    exit(0)
}
if let seconds = value(after: "--refresh-loop").flatMap(Int.init) {
    try TopBench.refreshLoop(seconds: seconds)
    exit(0)
}

let output = value(after: "--output")
let runs = value(after: "--runs").flatMap(Int.init) ?? 9
let binDir = URL(fileURLWithPath: selfPath()).deletingLastPathComponent().path

func log(_ line: String) {
    FileHandle.standardError.write(Data(("bpfcp-bench: " + line + "\n").utf8))
}

guard geteuid() == 0 else {
    log("needs root for BPF (CAP_BPF, CAP_PERFMON): run `sudo make bench`")
    exit(1)
}

let workloads = Workloads()
do {
    log("starting 1,000 sleeping processes")
    try workloads.spawnSleepers(1000)
    let fdHolder = try workloads.spawnHolder(["--hold-fds", "10000"])
    let mapHolder = try workloads.spawnHolder(["--hold-maps", "20000"])

    log("timing the process list")
    let tasks = try Measure.compare("process list, 1,000 extra processes", runs: runs,
                                    bpf: { try ProcessListBPF.collect().count },
                                    proc: { try ProcessListProc.collect().count })
    log("timing the files of one process")
    let files = try Measure.compare("files of one process, 10,000 fds", runs: runs,
                                    bpf: { try FilesKind.collectBPF(pid: fdHolder).count },
                                    proc: { try FilesProc.collect(pid: fdHolder).count })
    log("timing the memory areas of one process")
    // The same fields on both sides: the areas with resident and swapped
    // page counts, then with dirty counts too, which collectBPF(pid:) takes
    // from a page-table walk and MemoryProc.collect(pid:) from /proc/PID/smaps.
    let areas = try Measure.compare("memory areas of one process, 20,000 areas, resident and swapped page counts", runs: runs,
                                    bpf: {
                                        var listed = try MemoryKind.collectBPF(pid: mapHolder, pageCounts: false)
                                        PageCounts.fill(&listed, pid: mapHolder)
                                        return listed.count
                                    },
                                    proc: {
                                        var listed = try MemoryProc.collect(pid: mapHolder, pageCounts: false)
                                        PageCounts.fill(&listed, pid: mapHolder)
                                        return listed.count
                                    })
    let withDirty = try Measure.compare("memory areas of one process, 20,000 areas, with dirty page counts", runs: runs,
                                        bpf: { try MemoryKind.collectBPF(pid: mapHolder).count },
                                        proc: { try MemoryProc.collect(pid: mapHolder).count })
    let listing = try Measure.compare("memory areas of one process, 20,000 areas, without page counts", runs: runs,
                                      bpf: { try MemoryKind.collectBPF(pid: mapHolder, pageCounts: false).count },
                                      proc: { try MemoryProc.collect(pid: mapHolder, pageCounts: false).count })
    let breakdowns = [try Breakdown.files(pid: fdHolder, runs: runs), try Breakdown.memory(pid: mapHolder, runs: runs)]
    let loads = BPFRuntime.shared.loadTimes.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }

    log("timing bpfcp-top")
    var top: TopFigures?
    var topError: String?
    do {
        top = try TopBench.run(binDir: binDir, seconds: 30)
    } catch {
        topError = "\(error)"
    }
    workloads.stopAll()

    let report = Report(runs: runs, comparisons: [(tasks, 20), (files, 20), (areas, 3), (withDirty, 3), (listing, 3)], loads: loads,
                        breakdowns: breakdowns, top: top, topError: topError)
    let text = report.markdown()
    print(text, terminator: "")
    if let output {
        try Report.replaceSection(in: output, with: text)
        log("wrote its section of \(output)")
    }
} catch {
    workloads.stopAll()
    log("failed: \(error)")
    exit(1)
}
