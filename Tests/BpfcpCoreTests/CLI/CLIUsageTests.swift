import BpfcpCore
import XCTest

/// Command lines that must fail before anything is collected, each with one
/// line of text or one JSON error object, and the documented exit code.
final class CLIUsageTests: XCTestCase {
    func testUsageErrorsAreOneLine() throws {
        let kinds = (KindRegistry.all + KindRegistry.optIn).map(\.name).joined(separator: ", ")
        let cases: [(args: [String], code: String, message: String)] = [
            (["frob"], "unknown_command", "unknown command 'frob': run `bpfcp --help` for the list"),
            (["--frob"], "unknown_option", "unknown option '--frob': run `bpfcp --help` for the list"),
            (["dump", "--frob", "1"], "unknown_option", "unknown option '--frob' for `bpfcp dump`: run `bpfcp dump --help` for its options"),
            (["ps", "-x"], "unknown_option", "unknown option '-x' for `bpfcp ps`: run `bpfcp ps --help` for its options"),
            (["dump", "0"], "invalid_pid", "invalid pid '0': give a positive process id, as listed by `bpfcp ps`"),
            (["dump", "-5"], "invalid_pid", "invalid pid '-5': give a positive process id, as listed by `bpfcp ps`"),
            (["dump", "abc"], "invalid_pid", "invalid pid 'abc': give a positive process id, as listed by `bpfcp ps`"),
            (["dump", "99999999999"], "invalid_pid", "invalid pid '99999999999': give a positive process id, as listed by `bpfcp ps`"),
            (["dump"], "usage", "dump takes one PID, got 0 operands: bpfcp dump PID"),
            (["dump", "1", "2"], "usage", "dump takes one PID, got 2 operands: bpfcp dump PID"),
            (["dump", "--only"], "missing_value", "option --only needs a value: --only KINDS"),
            (["dump", "1", "-D"], "missing_value", "option -D needs a value: -D DIR"),
            (["restore", "--dir"], "missing_value", "option --dir needs a value: --dir DIR"),
            (["dump", "1", "-D", ""], "usage", "option -D needs a non-empty value: -D DIR"),
            (["dump", "1", "--images-dir="], "usage", "option --images-dir needs a non-empty value: --images-dir DIR"),
            (["restore", "-D", ""], "usage", "option -D needs a non-empty value: -D DIR"),
            (["restore", "-D", "/tmp/bpfcp-never", "--stdio", ""], "usage", "option --stdio needs a non-empty value: --stdio FILE"),
            (["dump", "--only", "files,frob", "1"], "unknown_kind", "unknown resource kind 'frob': choose from \(kinds)"),
            (["dump", "--proc=yes", "1"], "usage", "option --proc takes no value: remove '=yes'"),
            (["dump", "--only", ",", "1"], "usage", "--only needs at least one kind: choose from \(kinds)"),
            (["dump", "1", "-D", "/tmp/bpfcp-never", "--kill", "--only", "files"], "usage",
             "--kill needs a full checkpoint, and --only leaves kinds out of the image, so restore could not bring the process back: leave out --only"),
            (["ps", "--pid", "x1"], "invalid_pid", "invalid pid 'x1': give a positive process id, as listed by `bpfcp ps`"),
            (["ps", "-u", "no-such-user-bpfcp"], "unknown_user", "unknown user 'no-such-user-bpfcp': give a login name from /etc/passwd or a numeric uid"),
            (["check", "extra"], "usage", "check takes no operands, got 'extra': run `bpfcp check`"),
        ]
        for asNobody in [false, true] {
            for c in cases {
                try assertOneLineError(c.args, status: 2, code: c.code, message: c.message, asNobody: asNobody)
            }
        }
    }

    /// An empty -D is rejected before the process is held, so `--kill` kills nothing and no partial directory is left.
    func testEmptyImagesDirLeavesProcessAlone() throws {
        try requireBPF()
        let fixture = try Fixture(c: "cli_target")
        let cwd = FileManager.default.currentDirectoryPath
        let before = try FileManager.default.contentsOfDirectory(atPath: cwd)

        try assertOneLineError(["dump", "\(fixture.pid)", "-D", "", "--kill"], status: 2, code: "usage",
                               message: "option -D needs a non-empty value: -D DIR")

        XCTAssertEqual(kill(fixture.pid, 0), 0, "process \(fixture.pid) was killed")
        let stat = try String(contentsOfFile: "/proc/\(fixture.pid)/stat", encoding: .utf8)
        let state = stat[stat.index(after: try XCTUnwrap(stat.lastIndex(of: ")")))...].dropFirst().first
        XCTAssertEqual(state, "S", stat)
        let after = try FileManager.default.contentsOfDirectory(atPath: cwd)
        XCTAssertEqual(Set(after).subtracting(before).filter { $0.contains("partial") }, [])
    }

    func testEscapesControlBytesInUnknownCommand() throws {
        try assertOneLineError(["\u{1b}[2Jx"], status: 2, code: "unknown_command",
                               message: "unknown command '\\x1b[2Jx': run `bpfcp --help` for the list")
    }

    func testHelpAndVersionWorkWithoutRoot() throws {
        let help = try CLI.run(["--help"], asNobody: true)
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.out.hasPrefix("bpfcp 0.1.0: inspect and checkpoint Linux processes through eBPF\n"))
        for name in ["ps", "dump", "check"] {
            XCTAssertTrue(help.outLines.contains { $0.hasPrefix("  " + name + " ") }, "help lists \(name)")
        }

        let dumpHelp = try CLI.run(["dump", "--help"], asNobody: true)
        XCTAssertEqual(dumpHelp.status, 0)
        XCTAssertEqual(dumpHelp.outLines.first, "usage: bpfcp [-j|--json] dump [OPTIONS] PID")
        XCTAssertEqual(try CLI.run(["help", "ps"], asNobody: true).outLines.first, "usage: bpfcp [-j|--json] ps [OPTIONS]")

        let version = try CLI.run(["--version"], asNobody: true)
        XCTAssertEqual(version.status, 0)
        XCTAssertEqual(version.out, "bpfcp 0.1.0\n")
        let versionJSON = try CLI.run(["--json", "--version"], asNobody: true).json()
        XCTAssertEqual(versionJSON["version"] as? String, "0.1.0")
        XCTAssertEqual(versionJSON["schema_version"] as? Int, 1)
    }

    func testNoArgumentsPrintsHelpAndFails() throws {
        let result = try CLI.run([])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.out, "")
        XCTAssertTrue(result.err.hasPrefix("bpfcp 0.1.0: "))
    }

    func testWithoutRootSaysHowToFix() throws {
        let needsRoot = "needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE): run it as root, e.g."
        let readsProc = "which reads /proc and works without root"
        let cases: [([String], String)] = [
            (["ps"], "bpfcp ps \(needsRoot) `sudo bpfcp ps`, or run `bpfcp ps --proc`, \(readsProc)"),
            (["ps", "-u", "root", "--pid", "1"], "bpfcp ps \(needsRoot) `sudo bpfcp ps -u root --pid 1`, or run `bpfcp ps --proc -u root --pid 1`, \(readsProc)"),
            (["dump", "\(getpid())"], "bpfcp dump \(needsRoot) `sudo bpfcp dump \(getpid())`, or run `bpfcp dump --proc \(getpid())`, \(readsProc)"),
            (["dump", "\(getpid())", "--only", "files,memory"],
             "bpfcp dump \(needsRoot) `sudo bpfcp dump \(getpid()) --only files,memory`, or run `bpfcp dump --proc \(getpid()) --only files,memory`, \(readsProc)"),
            // A checkpoint and a diff of a live process have no /proc form.
            (["dump", "\(getpid())", "-D", "/tmp/image"], "bpfcp dump \(needsRoot) `sudo bpfcp dump \(getpid()) -D /tmp/image`"),
            (["dump", "\(getpid())", "-D", "/tmp/an image"], "bpfcp dump \(needsRoot) `sudo bpfcp dump \(getpid()) -D '/tmp/an image'`"),
            (["diff", "live:\(getpid())", "live:1"], "bpfcp diff \(needsRoot) `sudo bpfcp diff live:\(getpid()) live:1`"),
        ]
        for (args, message) in cases {
            try assertOneLineError(args, status: 3, code: "not_root", message: message, asNobody: true)
        }
    }
}

/// Runs `args` in text mode and in JSON mode and checks that each prints
/// exactly one line: "bpfcp: MESSAGE" on stderr, or one JSON error object on stdout.
func assertOneLineError(_ args: [String], status: Int32, code: String, message: String, asNobody: Bool = false,
                        file: StaticString = #filePath, line: UInt = #line) throws {
    let label = args.joined(separator: " ") + (asNobody ? " (as nobody)" : "")

    let text = try CLI.run(args, asNobody: asNobody)
    XCTAssertTrue(text.exitedNormally, "\(label): killed by a signal", file: file, line: line)
    XCTAssertEqual(text.status, status, "\(label): exit code", file: file, line: line)
    XCTAssertEqual(text.out, "", "\(label): stdout", file: file, line: line)
    XCTAssertEqual(text.errLines, ["bpfcp: " + message], "\(label): stderr", file: file, line: line)

    let json = try CLI.run(["--json"] + args, asNobody: asNobody)
    XCTAssertTrue(json.exitedNormally, "\(label) --json: killed by a signal", file: file, line: line)
    XCTAssertEqual(json.status, status, "\(label) --json: exit code", file: file, line: line)
    XCTAssertEqual(json.err, "", "\(label) --json: stderr", file: file, line: line)
    XCTAssertEqual(json.outLines.count, 1, "\(label) --json: one line", file: file, line: line)
    let object = try json.json(file: file, line: line)
    XCTAssertEqual(Set(object.keys), ["schema_version", "error"], "\(label) --json: keys", file: file, line: line)
    XCTAssertEqual(object["schema_version"] as? Int, 1, "\(label) --json: schema_version", file: file, line: line)
    let error = try XCTUnwrap(object["error"] as? [String: Any], file: file, line: line)
    XCTAssertEqual(error["code"] as? String, code, "\(label) --json: code", file: file, line: line)
    XCTAssertEqual(error["message"] as? String, message, "\(label) --json: message", file: file, line: line)
}
