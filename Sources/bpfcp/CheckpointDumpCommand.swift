import BpfcpCore
import Foundation

/// The options of `bpfcp dump` that turn a live dump into a checkpoint.
let checkpointOptions = [
    OptionSpec("--images-dir", short: "-D", value: "DIR", aliases: ["--dir"],
               help: "checkpoint: hold every thread, save kernel state, registers and memory to the new image directory DIR"),
    OptionSpec("--tree", help: "with -D, checkpoint the process and all its descendants"),
    OptionSpec("--leave-running", help: "with -D, let the target run on afterwards (the default)"),
    OptionSpec("--kill", help: "with -D, keep the target held until the image is written, then kill it, unless restore would reject the image"),
    OptionSpec("--no-snapshot", help: "with -D, read memory while the target is held instead of from a copy-on-write copy made by a clone in the target"),
]

/// Rejects checkpoint options that need -D, or that contradict each other.
func validateCheckpointOptions(_ arguments: Arguments) throws {
    let needDirectory = ["--tree", "--leave-running", "--kill", "--no-snapshot"].filter { arguments.has($0) }
    if !arguments.has("--images-dir"), let first = needDirectory.first {
        throw BpfcpError("usage", "\(first) applies to checkpoints only: add -D DIR")
    }
    if arguments.has("--kill") && arguments.has("--leave-running") {
        throw BpfcpError("usage", "--kill and --leave-running exclude each other: choose one")
    }
    if arguments.has("--kill") && arguments.has("--only") {
        throw BpfcpError("usage", "--kill needs a full checkpoint, and --only leaves kinds out of the image, so restore could not bring the process back: leave out --only")
    }
    if arguments.has("--images-dir") && arguments.has("--proc") {
        throw BpfcpError("usage", "--proc applies to live dumps only: a checkpoint collects through BPF")
    }
}

/// Checkpoints `pid` to `directory` and reports the statistics.
func runCheckpoint(pid: Int32, directory: String, arguments: Arguments, kinds: [KindDescriptor], output: Output) throws -> Int32 {
    let parent = CheckpointImage.parentDirectory(of: directory)
    try checkParentDirectory(parent, of: directory)
    let kill = arguments.has("--kill")
    let options = CaptureOptions(tree: arguments.has("--tree"), scratchDirectory: parent, kinds: kinds,
                                 snapshot: !arguments.has("--no-snapshot"))
    let checkpoint = try Checkpointer.dump(pid: pid, to: directory, options: options, kill: kill)
    let stats = checkpoint.info.stats

    if output.json {
        try output.emit(CheckpointReport(schemaVersion: Dump.schemaVersion, directory: directory,
                                         pids: checkpoint.processes.map(\.pid), stats: stats))
        return ExitCode.success
    }
    output.text("checkpoint of process \(pid) written to \(Escape.text(directory)): \(Format.count(checkpoint.processes.count, "process", "processes")), \(Format.count(stats.threads, "thread", "threads")), \(Format.bytes(stats.pagesWritten * checkpoint.info.pageSize)) of memory")
    output.text("frozen time \(Format.milliseconds(stats.frozenNs)), memory \(Format.milliseconds(stats.memoryNs)), kinds \(Format.milliseconds(stats.kindsNs)), total \(Format.milliseconds(stats.totalNs))")
    if kill {
        output.text("the target stayed held from its capture until it was killed, so it ran nothing after the checkpoint")
        return ExitCode.success
    }
    if let fallback = stats.snapshotFallback {
        output.text("memory read while held (\(fallback))")
    } else if stats.memorySource == "snapshot" && stats.pageWriter == "copy" {
        output.text("memory written by a copy-on-write snapshot after the release")
    } else if stats.memorySource == "snapshot" {
        output.text("memory read from a copy-on-write snapshot after the release (\(stats.pageWriterFallback ?? "no reason recorded"))")
    }
    output.text("the target was released and runs on")
    return ExitCode.success
}

/// Rejects, in one line and before the target is touched, an image directory whose parent is missing.
private func checkParentDirectory(_ parent: String, of directory: String) throws {
    var info = stat()
    guard stat(parent, &info) == 0 else {
        let reason = errno == ENOENT ? "does not exist: create it first (mkdir -p \(Escape.text(parent)))" : "cannot be used: \(String(cString: strerror(errno)))"
        throw BpfcpError("no_directory", "the parent directory \(Escape.text(parent)) of the image directory \(Escape.text(directory)) \(reason)")
    }
    guard info.st_mode & S_IFMT == S_IFDIR else {
        throw BpfcpError("no_directory", "\(Escape.text(parent)) is not a directory, so the image directory \(Escape.text(directory)) cannot be created in it: give an image directory inside an existing directory")
    }
}

struct CheckpointReport: Encodable {
    let schemaVersion: Int
    let directory: String
    let pids: [Int32]
    let stats: CaptureStats

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case directory, pids, stats
    }
}
