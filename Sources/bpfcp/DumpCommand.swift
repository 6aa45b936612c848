import BpfcpCore
import Foundation

let dumpCommand = Command(
    name: "dump",
    summary: "dump a running process live, or checkpoint it to an image with -D",
    operands: "PID",
    options: [
        OptionSpec("--only", value: "KINDS", help: "collect only these resource kinds (comma-separated): "
                   + KindRegistry.all.map(\.name).joined(separator: ", ")
                   + "; collected only when named here, because they may contain secrets: "
                   + KindRegistry.optIn.map(\.name).joined(separator: ", ")
                   + "; with -D the image can be shown and diffed, but restore refuses it"),
        OptionSpec("--proc", help: "read /proc instead of BPF; works without root, and kinds that /proc shows only to root are marked unavailable"),
    ] + checkpointOptions,
    needsRoot: true,
    validate: { arguments in
        guard arguments.operands.count == 1 else {
            throw BpfcpError("usage", "dump takes one PID, got \(arguments.operands.count) operands: bpfcp dump PID")
        }
        _ = try parsePid(arguments.operands[0])
        _ = try selectedKinds(arguments)
        try validateCheckpointOptions(arguments)
    }
) { arguments, output in
    let pid = try parsePid(arguments.operands[0])
    let source: CollectorSource = arguments.has("--proc") ? .proc : .bpf
    let kinds = try selectedKinds(arguments)
    if let directory = arguments.value("--images-dir") {
        return try runCheckpoint(pid: pid, directory: directory, arguments: arguments, kinds: kinds, output: output)
    }

    let dump = try Dumper.dump(pid: pid, source: source, kinds: kinds)
    if output.json {
        try output.emit(DumpReport(dump))
        return ExitCode.success
    }
    printDump(dump, output: output)
    return ExitCode.success
}.runningWithoutRoot { $0.has("--proc") }

/// Returns the kinds `--only` names, in registry order and each once, or every kind without `--only`.
func selectedKinds(_ arguments: Arguments) throws -> [KindDescriptor] {
    guard arguments.has("--only") else { return KindRegistry.all }
    let names = Set(try KindRegistry.parseOnly(arguments.list("--only").joined(separator: ",")).map(\.name))
    guard !names.isEmpty else {
        throw BpfcpError("usage", "--only needs at least one kind: choose from \((KindRegistry.all + KindRegistry.optIn).map(\.name).joined(separator: ", "))")
    }
    return KindRegistry.all.filter { names.contains($0.name) }
}

/// JSON form of a dump: kinds keyed by name, each with its typed items.
struct DumpReport: Encodable {
    let schemaVersion: Int
    let dump: Dump

    init(_ dump: Dump) {
        self.schemaVersion = Dump.schemaVersion
        self.dump = dump
    }

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case pid, process, source, takenAt = "taken_at", totalNs = "total_ns", kinds
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schemaVersion, forKey: .schemaVersion)
        try c.encode(dump.pid, forKey: .pid)
        try c.encode(dump.process, forKey: .process)
        try c.encode(dump.source, forKey: .source)
        try c.encode(dump.takenAt, forKey: .takenAt)
        try c.encode(dump.totalNs, forKey: .totalNs)
        var kinds: [String: JSONValue] = [:]
        for section in dump.sections {
            var object: [String: JSONValue] = ["elapsed_ns": .uint(section.elapsedNs), "items": .array(section.items)]
            if let reason = section.unavailable { object["unavailable"] = .string(reason) }
            kinds[section.kind] = .object(object)
        }
        try c.encode(kinds, forKey: .kinds)
    }
}

func printDump(_ dump: Dump, output: Output) {
    let p = dump.process
    output.text("process \(p.pid) (\(p.comm)) state \(p.state.rawValue) threads \(p.threads), source \(dump.source.rawValue), \(Format.milliseconds(dump.totalNs))")
    output.text("command: " + displayCommand(p))
    for section in dump.sections {
        guard let kind = KindRegistry.named(section.kind) else { continue }
        output.text("")
        if let reason = section.unavailable {
            output.text("\(kind.title): unavailable: \(reason)")
            continue
        }
        output.text("\(kind.title) (\(section.entries.count), \(Format.milliseconds(section.elapsedNs)))")
        output.text(kind.columns.map { pad($0.name, $0) }.joined(separator: " "))
        for entry in section.entries {
            output.text(zip(kind.columns, entry.cells).map { pad($1, $0) }.joined(separator: " "))
        }
    }
}

private func pad(_ text: String, _ column: Column) -> String {
    guard text.count < column.width else { return text }
    let fill = String(repeating: " ", count: column.width - text.count)
    return column.alignRight ? fill + text : text + fill
}
