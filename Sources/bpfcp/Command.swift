import BpfcpCore
import Foundation

/// Options every subcommand accepts.
struct GlobalOptions: Sendable {
    var json = false
}

/// One subcommand of `bpfcp`. Each lives in its own file and is listed in `commands`.
///
/// `parse` runs before the privilege check, so usage errors and `--help` work
/// without root; `run` runs after it.
struct Command: Sendable {
    let name: String
    let summary: String
    /// Usage lines shown by `bpfcp NAME --help`.
    let usage: String
    /// Whether the command loads BPF or touches other processes, so needs root.
    let needsRoot: Bool
    /// Whether these arguments let a command that needs root run without it, because it then reads /proc only.
    var runsWithoutRoot: @Sendable (Arguments) -> Bool = { _ in false }
    /// Parses and validates the arguments after the command name (global options removed).
    let parse: @Sendable ([String]) throws -> Arguments
    /// Runs the command with its parsed arguments. Returns the exit code.
    let runParsed: @Sendable (Arguments, GlobalOptions, Output) throws -> Int32

    /// A command that parses its own arguments inside `run`, after the privilege check.
    init(name: String, summary: String, usage: String, needsRoot: Bool,
         run: @escaping @Sendable ([String], GlobalOptions, Output) throws -> Int32) {
        self.name = name
        self.summary = summary
        self.usage = usage
        self.needsRoot = needsRoot
        self.parse = { Arguments(raw: $0) }
        self.runParsed = { arguments, global, output in try run(arguments.raw, global, output) }
    }

    /// A command whose options are declared, parsed and checked by `validate`
    /// before the privilege check. `operands` names the positional arguments
    /// in the usage line, e.g. "PID".
    init(name: String, summary: String, operands: String = "", options: [OptionSpec], needsRoot: Bool,
         validate: @escaping @Sendable (Arguments) throws -> Void = { _ in },
         run: @escaping @Sendable (Arguments, Output) throws -> Int32) {
        self.name = name
        self.summary = summary
        self.usage = Command.usageText(name: name, operands: operands, options: options)
        self.needsRoot = needsRoot
        self.parse = { raw in
            let arguments = try Arguments.parse(raw, options: options, command: name)
            try validate(arguments)
            return arguments
        }
        self.runParsed = { arguments, _, output in try run(arguments, output) }
    }

    /// Returns this command, allowed to run without root when `condition` holds for its arguments.
    func runningWithoutRoot(when condition: @escaping @Sendable (Arguments) -> Bool) -> Command {
        var copy = self
        copy.runsWithoutRoot = condition
        return copy
    }

    private static func usageText(name: String, operands: String, options: [OptionSpec]) -> String {
        var synopsis = "usage: bpfcp [-j|--json] \(name)"
        if !options.isEmpty { synopsis += " [OPTIONS]" }
        if !operands.isEmpty { synopsis += " " + operands }
        let rows = options.map { ($0.label, $0.help) }
        let width = rows.map(\.0.count).max() ?? 0
        let lines = rows.map { "  " + $0.0.padding(toLength: width + 3, withPad: " ", startingAt: 0) + $0.1 }
        return ([synopsis] + lines).joined(separator: "\n")
    }
}

/// Every subcommand, in the order `bpfcp --help` lists them.
let commands: [Command] = [
    psCommand,
    dumpCommand,
    diffCommand,
    checkCommand,
    showCommand,
    restoreCommand,
]

/// Writes results and errors, as text or as JSON objects in JSON mode.
struct Output: Sendable {
    let json: Bool

    func text(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    func emit<T: Encodable>(_ value: T) throws {
        var data = try JSONCoding.prettyEncoder.encode(value)
        data.append(0x0A)
        FileHandle.standardOutput.write(data)
    }

    /// Writes one line about the results to stderr, in text and JSON mode alike, so stdout stays parseable.
    func note(_ line: String) {
        FileHandle.standardError.write(Data(("bpfcp: note: " + line + "\n").utf8))
    }

    /// Reports a failure in one line: to stderr as text, or to stdout as a
    /// one-line JSON error object.
    func error(_ error: BpfcpError) {
        guard json else {
            FileHandle.standardError.write(Data(("bpfcp: " + error.message + "\n").utf8))
            return
        }
        let report = ErrorReport(schemaVersion: Dump.schemaVersion, error: .init(code: error.code, message: error.message))
        guard var data = try? JSONCoding.encoder.encode(report) else { return }
        data.append(0x0A)
        FileHandle.standardOutput.write(data)
    }
}

struct ErrorReport: Encodable {
    struct Body: Encodable {
        let code: String
        let message: String
    }

    let schemaVersion: Int
    let error: Body
}

/// Exit codes shared by all commands, documented in docs/JSON.md.
enum ExitCode {
    static let success: Int32 = 0
    /// The command ran and failed: no such process, process exited, a missing feature.
    static let failure: Int32 = 1
    /// The command line was invalid: unknown command, option or kind, invalid pid.
    static let usage: Int32 = 2
    /// The environment cannot run the command: not root, or BPF unavailable.
    static let environment: Int32 = 3

    static let usageCodes: Set<String> = ["usage", "unknown_command", "unknown_option", "missing_value",
                                          "invalid_pid", "unknown_kind", "unknown_user"]
    static let environmentCodes: Set<String> = ["not_root", "bpf_unavailable", "permission_denied"]

    static func of(_ error: BpfcpError) -> Int32 {
        if usageCodes.contains(error.code) { return usage }
        if environmentCodes.contains(error.code) { return environment }
        return failure
    }
}

/// Parses a pid argument, rejecting anything but a positive decimal number.
func parsePid(_ text: String) throws -> Int32 {
    guard text.allSatisfy(\.isASCII), let pid = Int32(text), pid > 0 else { throw BpfcpError.invalidPid(text) }
    return pid
}

/// Fails with one line and the fix unless running as root. `commandLine`
/// is the command as typed, for the sudo hint. `withoutRoot` is a command
/// line that works without root, named as the other fix.
func requireRoot(_ action: String, commandLine: String? = nil, withoutRoot: String? = nil) throws {
    guard geteuid() == 0 else { throw BpfcpError.notRoot(action, commandLine: commandLine, withoutRoot: withoutRoot) }
}
