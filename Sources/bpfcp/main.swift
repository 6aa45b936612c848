import BpfcpCore
import Foundation

let version = "0.1.0"

/// Splits global options (-j/--json) from the command's own arguments.
func splitGlobal(_ args: [String]) -> (GlobalOptions, [String]) {
    var options = GlobalOptions()
    var rest: [String] = []
    for arg in args {
        if arg == "-j" || arg == "--json" {
            options.json = true
        } else {
            rest.append(arg)
        }
    }
    return (options, rest)
}

func helpText() -> String {
    var lines = [
        "bpfcp \(version): inspect and checkpoint Linux processes through eBPF",
        "",
        "usage: bpfcp [-j|--json] COMMAND [ARGS]",
        "",
        "commands:",
    ]
    for command in commands {
        lines.append("  " + command.name.padding(toLength: 10, withPad: " ", startingAt: 0) + command.summary)
    }
    lines += ["", "options:", "  -j, --json   print JSON (errors too), with a schema_version field",
              "  -h, --help   show help; `bpfcp COMMAND --help` shows a command's usage",
              "  --version    print the version", "",
              "Exit codes: 0 success, 1 failure, 2 invalid command line, 3 not root or BPF unavailable.",
              "Run `bpfcp check` to see which kernel features are present and how to fix missing ones."]
    return lines.joined(separator: "\n")
}

struct VersionReport: Encodable {
    let schemaVersion: Int
    let version: String
}

/// Runs one command line and returns the exit code. Every error becomes one
/// line (or one JSON object) through `output`.
func run(_ args: [String], output: Output, options: GlobalOptions) throws -> Int32 {
    guard let name = args.first else {
        FileHandle.standardError.write(Data((helpText() + "\n").utf8))
        return ExitCode.usage
    }
    if name == "-h" || name == "--help" || name == "help" {
        return try showHelp(topic: args.dropFirst().first)
    }
    if name == "--version" || name == "-V" {
        if output.json {
            try output.emit(VersionReport(schemaVersion: Dump.schemaVersion, version: version))
        } else {
            output.text("bpfcp \(version)")
        }
        return ExitCode.success
    }
    guard let command = commands.first(where: { $0.name == name }) else {
        let kind = name.hasPrefix("-") ? "option" : "command"
        throw BpfcpError(kind == "option" ? "unknown_option" : "unknown_command",
                         "unknown \(kind) '\(Escape.text(name))': run `bpfcp --help` for the list")
    }

    let rest = Array(args.dropFirst())
    if rest.contains("-h") || rest.contains("--help") {
        print(command.usage)
        return ExitCode.success
    }
    let arguments = try command.parse(rest)
    if command.needsRoot && !command.runsWithoutRoot(arguments) {
        let typed = (["bpfcp", command.name] + rest.map(shellWord)).joined(separator: " ")
        try requireRoot("bpfcp \(command.name)", commandLine: typed, withoutRoot: procAlternative(command, rest))
    }
    return try command.runParsed(arguments, options, output)
}

/// Returns the command line that runs `command` with `rest` from /proc
/// without root, or nil when `--proc` is not valid there (a checkpoint, a diff).
func procAlternative(_ command: Command, _ rest: [String]) -> String? {
    let withProc = ["--proc"] + rest
    guard let arguments = try? command.parse(withProc), command.runsWithoutRoot(arguments) else { return nil }
    return (["bpfcp", command.name] + withProc.map(shellWord)).joined(separator: " ")
}

/// Quotes `word` for a shell when it contains anything but letters, digits and
/// `-_.,:/=@%+`, and escapes control characters and invalid UTF-8.
func shellWord(_ word: String) -> String {
    let plain = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/=@%+")
    let escaped = Escape.text(word)
    guard escaped.isEmpty || !escaped.unicodeScalars.allSatisfy(plain.contains) else { return escaped }
    return "'" + escaped.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

func showHelp(topic: String?) throws -> Int32 {
    guard let topic else {
        print(helpText())
        return ExitCode.success
    }
    guard let command = commands.first(where: { $0.name == topic }) else {
        throw BpfcpError("unknown_command", "unknown command '\(Escape.text(topic))': run `bpfcp --help` for the list")
    }
    print(command.usage)
    return ExitCode.success
}

func main() -> Int32 {
    let (options, args) = splitGlobal(Array(CommandLine.arguments.dropFirst()))
    let output = Output(json: options.json)

    do {
        return try run(args, output: output, options: options)
    } catch let error as BpfcpError {
        output.error(error)
        return ExitCode.of(error)
    } catch {
        output.error(BpfcpError("internal", "internal error: \(error); please report it with the command line"))
        return ExitCode.failure
    }
}

exit(main())
