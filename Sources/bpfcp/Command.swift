import BpfcpCore
import Foundation

/// Options every subcommand accepts.
struct GlobalOptions: Sendable {
    var json = false
}

/// One subcommand of `bpfcp`. Each lives in its own file and is listed in `commands`.
struct Command: Sendable {
    let name: String
    let summary: String
    /// Usage lines shown by `bpfcp NAME --help`.
    let usage: String
    /// Whether the command loads BPF or touches other processes, so needs root.
    let needsRoot: Bool
    /// Runs with the arguments after the command name (global options removed). Returns the exit code.
    let run: @Sendable ([String], GlobalOptions, Output) throws -> Int32
}

/// Every subcommand, in the order `bpfcp --help` lists them.
let commands: [Command] = [
    psCommand,
    dumpCommand,
    diffCommand,
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

    /// Reports a failure in one line: to stderr as text, or to stdout as a JSON error object.
    func error(_ error: BpfcpError) {
        if json {
            let object = ErrorReport(schemaVersion: Dump.schemaVersion, error: .init(code: error.code, message: error.message))
            try? emit(object)
        } else {
            FileHandle.standardError.write(Data(("bpfcp: " + error.message + "\n").utf8))
        }
    }
}

struct ErrorReport: Encodable {
    struct Body: Encodable {
        let code: String
        let message: String
    }

    let schemaVersion: Int
    let error: Body

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version"
        case error
    }
}

/// Parses a pid argument, rejecting anything but a positive decimal number.
func parsePid(_ text: String) throws -> Int32 {
    guard let pid = Int32(text), pid > 0 else { throw BpfcpError.invalidPid(text) }
    return pid
}

/// Fails with one line and the fix unless running as root.
func requireRoot(_ action: String) throws {
    guard geteuid() == 0 else { throw BpfcpError.notRoot(action) }
}
