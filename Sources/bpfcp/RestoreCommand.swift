import BpfcpCore
import Foundation

let restoreCommand = Command(
    name: "restore",
    summary: "bring a checkpointed process back to life from an image",
    options: [
        OptionSpec("--images-dir", short: "-D", value: "DIR", aliases: ["--dir"],
                   help: "image directory written by `bpfcp dump PID -D DIR`"),
        OptionSpec("--new-pid", help: "let the kernel pick a new pid instead of the image's"),
        OptionSpec("--stdio", value: "FILE", help: "attach the fds that were a terminal to FILE (appended to, created 0600)"),
        OptionSpec("--no-verify", help: "skip the comparison of the restored process with the image"),
        OptionSpec("--verbose", short: "-v", help: "print each system call injected into the new process, and each expected difference"),
    ],
    needsRoot: true,
    validate: { arguments in
        guard arguments.value("--images-dir") != nil else {
            throw BpfcpError("usage", "restore needs an image directory: bpfcp restore -D DIR")
        }
        guard arguments.operands.isEmpty else {
            throw BpfcpError("usage", "restore takes no operands: bpfcp restore -D DIR [--new-pid] [--stdio FILE]")
        }
    },
    run: runRestore
)

private func runRestore(_ arguments: Arguments, _ output: Output) throws -> Int32 {
    // Restore opens the --stdio file in the restored process, after it changed
    // to the image's cwd, so a relative path must be made absolute here.
    let stdio = arguments.value("--stdio").map { URL(fileURLWithPath: $0).standardizedFileURL.path }
    var options = RestoreOptions(newPid: arguments.has("--new-pid"), stdio: stdio)
    if options.newPid { options.newPidOption = "--new-pid" }
    if arguments.has("--verbose") {
        options.trace = { @Sendable line in FileHandle.standardError.write(Data(("  " + line + "\n").utf8)) }
    }
    let directory = arguments.value("--images-dir") ?? ""
    let report = try Restore.run(imageDirectory: directory, options: options, verify: !arguments.has("--no-verify"))

    if output.json {
        try output.emit(RestoreJSON(schemaVersion: Dump.schemaVersion, restore: report))
    } else {
        printRestore(report, verbose: arguments.has("--verbose"), output: output)
    }
    return report.unexpected.isEmpty ? ExitCode.success : ExitCode.failure
}

struct RestoreJSON: Encodable {
    let schemaVersion: Int
    let restore: RestoreReport
}

private func printRestore(_ report: RestoreReport, verbose: Bool, output: Output) {
    let pid = report.pid == report.imagePid ? "\(report.pid)" : "\(report.pid) (was \(report.imagePid))"
    output.text("restored process \(pid) in \(Format.milliseconds(report.elapsedNs)) with \(report.syscalls) system calls")
    for member in report.members where member.imagePid != report.imagePid {
        let was = member.pid == member.imagePid ? "" : " (was \(member.imagePid))"
        output.text("  with \(member.zombie ? "zombie" : "process") \(member.pid)\(was)")
    }
    for line in report.lowered {
        output.text("lowered: \(line)")
    }
    guard report.verified else { return }
    printVerify(report, verbose: verbose, output: output)
}

/// Prints the unexpected differences first, then the count of expected
/// ones, which are listed only with `verbose`.
private func printVerify(_ report: RestoreReport, verbose: Bool, output: Output) {
    let unexpected = report.unexpected
    let expected = report.differences.filter(\.expected)
    output.text("verify (\(Format.milliseconds(report.verifyNs))): \(Format.count(unexpected.count, "unexpected difference", "unexpected differences")) from the image")
    for difference in unexpected {
        output.text("  DIFFERS: \(difference.subject): \(difference.summary)")
    }
    if !expected.isEmpty {
        let count = Format.count(expected.count, "expected difference", "expected differences")
        output.text(verbose ? "\(count):" : "\(count) (list them with -v)")
    }
    for difference in expected where verbose {
        let reason = difference.reason.map { " (\($0))" } ?? ""
        output.text("  expected: \(difference.subject): \(difference.summary)\(reason)")
    }
    if !unexpected.isEmpty {
        output.text("the restored process \(report.pid) is running; compare it with `bpfcp diff` or stop it with kill \(report.pid)")
    }
}
