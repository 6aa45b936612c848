import BpfcpCore
import Foundation

let diffCommand = Command(
    name: "diff",
    summary: "compare two captures (image directories or live:PID)",
    usage: """
    usage: bpfcp diff A B [--only KIND,...] [--show-unchanged]
      A, B              an image directory, or live:PID for a live dump of that process
      --only KINDS      compare only these resource kinds (comma-separated)
      --show-unchanged  also list entries that did not change
    With the memory kind, pages are compared by content hash at each address, e.g.
    "37 pages changed in [heap], 2 in [stack]"; for live:PID the present pages are read.
    Exit status, as diff(1): 0 when the captures are the same, 1 when they differ,
    2 when a capture could not be read or the command line is invalid, 3 when a live:PID side
    needs root. Two image directories need only read access.
    """,
    needsRoot: true
) { args, _, output in
    var positional: [String] = []
    var only: [String]?
    var showUnchanged = false
    var i = 0
    while i < args.count {
        switch args[i] {
        case "--only":
            guard i + 1 < args.count else { throw BpfcpError("usage", "--only needs a list of kinds, e.g. --only files,memory") }
            only = try KindRegistry.parseOnly(args[i + 1]).map(\.name)
            i += 1
        case "--show-unchanged":
            showUnchanged = true
        case let flag where flag.hasPrefix("-"):
            throw BpfcpError("usage", "unknown option '\(Escape.text(flag))' for diff: run `bpfcp diff --help`")
        default:
            positional.append(args[i])
        }
        i += 1
    }
    guard positional.count == 2 else { throw BpfcpError("usage", "diff takes two captures: bpfcp diff A B") }

    let refs = try positional.map { try CaptureRef(parsing: $0) }
    let comparesPages = only?.contains(MemoryKind.name) ?? true
    let captures: [LoadedCapture]
    do {
        captures = try refs.map { try CaptureLoader.capture($0, pages: comparesPages) }
    } catch let error as BpfcpError {
        // Exit 1 means "the captures differ", so a capture that cannot be read exits 2.
        output.error(error)
        return ExitCode.usage
    }
    let result = Differ.diff(captures[0], captures[1], kinds: only, showUnchanged: showUnchanged)
    if output.json {
        try output.emit(DiffReport(schemaVersion: DumpDiff.schemaVersion, diff: result))
    } else {
        DiffText.lines(result).forEach(output.text)
    }
    return result.isEmpty ? 0 : 1
}.runningWithoutRoot { arguments in
    // Two image directories are plain files; only a live side needs BPF and root.
    !arguments.raw.contains { $0.hasPrefix("live:") }
}

struct DiffReport: Encodable {
    let schemaVersion: Int
    let diff: DumpDiff
}
