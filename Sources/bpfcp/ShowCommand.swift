import BpfcpCore
import Foundation

let showCommand = Command(
    name: "show",
    summary: "print a checkpoint image like a live dump",
    operands: "DIR [KIND...]",
    options: [],
    needsRoot: false,
    validate: { arguments in
        guard !arguments.operands.isEmpty else {
            throw BpfcpError("usage", "show takes an image directory: bpfcp show DIR [KIND...]")
        }
        for kind in arguments.operands.dropFirst() where CheckpointView.layout(kind) == nil {
            let known = (KindRegistry.all.map(\.name) + [CheckpointView.registersKind, CheckpointView.pagesKind, CheckpointView.savedFilesKind]).joined(separator: ", ")
            throw BpfcpError("unknown_kind", "unknown kind '\(Escape.text(kind))': choose from \(known)")
        }
    }
) { arguments, output in
    let directory = arguments.operands[0]
    let wanted = Array(arguments.operands.dropFirst())
    let checkpoint = try CheckpointImage.open(directory)
    let dumps = CheckpointView.dumps(checkpoint).map { dump in
        var filtered = dump
        if !wanted.isEmpty { filtered.sections = dump.sections.filter { wanted.contains($0.kind) } }
        return filtered
    }

    if output.json {
        try output.emit(ShowReport(checkpoint: checkpoint, dumps: dumps))
        return ExitCode.success
    }
    printCheckpointHeader(checkpoint, directory: directory, output: output)
    for dump in dumps {
        output.text("")
        printImageDump(dump, stopSignal: checkpoint.process(dump.pid)?.stopSignal, output: output)
    }
    return ExitCode.success
}

private func printCheckpointHeader(_ checkpoint: Checkpoint, directory: String, output: Output) {
    let info = checkpoint.info
    let stats = info.stats
    let taken = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: info.takenAt))
    output.text("image \(Escape.text(directory)): format \(checkpoint.formatVersion), bpfcp \(Escape.text(info.toolVersion)), kernel \(Escape.text(info.kernelRelease)), taken \(taken)")
    output.text("process \(info.rootPid)\(info.tree ? " and its descendants" : ""): \(Format.count(checkpoint.processes.count, "process", "processes")), \(Format.count(stats.threads, "thread", "threads")), \(Format.bytes(stats.pagesWritten * info.pageSize)) of memory saved")
    output.text("frozen time \(Format.milliseconds(stats.frozenNs)), total \(Format.milliseconds(stats.totalNs))")
}

/// Prints one process of an image with the layout of `bpfcp dump`.
private func printImageDump(_ dump: Dump, stopSignal: String?, output: Output) {
    let p = dump.process
    let stopped = stopSignal.map { ", stopped by \($0)" } ?? ""
    output.text("process \(p.pid) (\(p.comm)) state \(p.state.rawValue) threads \(p.threads)\(stopped)")
    for section in dump.sections {
        guard let layout = CheckpointView.layout(section.kind) else { continue }
        output.text("")
        if let reason = section.unavailable {
            output.text("\(layout.title): unavailable: \(reason)")
            continue
        }
        output.text("\(layout.title) (\(section.entries.count))")
        output.text(layout.columns.map { padCell($0.name, $0) }.joined(separator: " "))
        for entry in section.entries {
            output.text(zip(layout.columns, entry.cells).map { padCell($1, $0) }.joined(separator: " "))
        }
    }
}

private func padCell(_ text: String, _ column: Column) -> String {
    guard text.count < column.width else { return text }
    let fill = String(repeating: " ", count: column.width - text.count)
    return column.alignRight ? fill + text : text + fill
}

/// JSON form of an image: its facts and each process like `bpfcp dump --json`.
struct ShowReport: Encodable {
    let checkpoint: Checkpoint
    let dumps: [Dump]

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case imageFormat = "image_format"
        case image, processes
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Dump.schemaVersion, forKey: .schemaVersion)
        try c.encode(checkpoint.formatVersion, forKey: .imageFormat)
        try c.encode(checkpoint.info, forKey: .image)
        try c.encode(dumps.map(DumpReport.init), forKey: .processes)
    }
}
