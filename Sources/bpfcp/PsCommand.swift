import BpfcpCore
import Foundation

let psCommand = Command(
    name: "ps",
    summary: "list processes as the task iterator reports them",
    usage: """
    usage: bpfcp ps [--proc]
      --proc   read /proc instead of BPF (the fallback and oracle)
    """,
    needsRoot: true
) { args, _, output in
    let source: CollectorSource = args.contains("--proc") ? .proc : .bpf
    let list = source == .bpf ? try ProcessListBPF.collect() : try ProcessListProc.collect()
    let sorted = list.sorted { $0.pid < $1.pid }

    if output.json {
        try output.emit(PsReport(schemaVersion: Dump.schemaVersion, source: source, processes: sorted))
        return 0
    }
    output.text("    PID    PPID S THR       RSS COMMAND")
    for p in sorted {
        let command = p.isKernelThread ? "[\(p.comm)]" : (p.commandLine.isEmpty ? p.comm : p.commandLine)
        output.text(String(format: "%7d %7d %@ %3d %9@ %@", p.pid, p.ppid, p.state.rawValue, p.threads,
                           Format.bytes(p.rssBytes), command))
    }
    return 0
}

struct PsReport: Encodable {
    let schemaVersion: Int
    let source: CollectorSource
    let processes: [ProcessEntry]

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case source, processes
    }
}
