@testable import BpfcpCore
import XCTest

/// How `bpfcp restore` classifies and prints the differences verify finds,
/// on a process whose stdin, stdout and stderr are a pty and which has a
/// regular file open at fd 3.
final class CLIVerifyReportTests: XCTestCase {
    private var dir = ""
    private var dataFile = ""
    private var restoredPids: [Int32] = []

    override func setUpWithError() throws {
        try requireBPF()
        dir = try RestoredProcess.makeDirectory()
        dataFile = dir + "/data.txt"
        try Data(repeating: 0x61, count: 1039).write(to: URL(fileURLWithPath: dataFile))
    }

    override func tearDown() {
        // A process restored in this test process is its child and is reaped
        // here. For the others, restored by the CLI, waitpid fails with ECHILD.
        for pid in restoredPids {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
    }

    func testStdioRedirectIsExpected() throws {
        let (fixture, image) = try dumpKilled()
        let stdio = dir + "/stdio.txt"

        let result = try CLI.run(["--json", "restore", "-D", image, "--new-pid", "--stdio", stdio])
        let differences = try restoredDifferences(result)

        // grantpt() gives the slave mode 0620 where a tty group exists, else 0600,
        // which is the --stdio file's mode, and then the mode does not differ.
        var slaveStat = stat()
        XCTAssertEqual(stat(fixture.slave, &slaveStat), 0)
        let modeDiffers = slaveStat.st_mode & 0o7777 != 0o600
        XCTAssertEqual(result.status, 0, result.out + result.err)
        XCTAssertEqual(differences.filter { !($0["expected"] as? Bool ?? false) }.count, 0, result.out)
        for fd in 0...2 {
            let reason = "fd \(fd) was a terminal, and restore attached it to the --stdio file \(stdio)"
            let fields = terminalFields(differences, fd: fd)
            XCTAssertEqual(fields["path"]?.summary, "path \(fixture.slave) → \(stdio)")
            XCTAssertEqual(fields["type"]?.summary, "type char-device → regular")
            XCTAssertEqual(fields["flags"]?.summary, "flags O_RDWR|O_LARGEFILE → O_RDWR|O_APPEND|O_LARGEFILE")
            let changed: Set<String> = ["type", "path", "device", "inode", "mount id", "flags"]
            XCTAssertEqual(Set(fields.keys), modeDiffers ? changed.union(["mode"]) : changed, "fd \(fd)")
            XCTAssertEqual(Set(fields.values.map(\.reason)), [reason], "fd \(fd)")
        }
    }

    func testOwnStdioRedirectIsExpected() throws {
        let (_, image) = try dumpKilled()

        // CLI.run gives restore /dev/null as stdin and files as stdout and stderr.
        let result = try CLI.run(["--json", "restore", "-D", image, "--new-pid"])
        let differences = try restoredDifferences(result)

        XCTAssertEqual(result.status, 0, result.out + result.err)
        XCTAssertEqual(differences.filter { !($0["expected"] as? Bool ?? false) }.count, 0, result.out)
        for (fd, name) in [(0, "stdin"), (1, "stdout"), (2, "stderr")] {
            let fields = terminalFields(differences, fd: fd)
            XCTAssertEqual(fields["path"]?.summary.hasPrefix("path /dev/pts/"), true, "fd \(fd): \(fields)")
            XCTAssertEqual(Set(fields.values.map(\.reason)), ["fd \(fd) was a terminal, and restore attached it to its own \(name)"])
        }
    }

    func testOnlyRedirectedFieldsExpected() throws {
        let (_, image) = try dumpKilled()
        let checkpoint = try CheckpointImage.open(image)
        let process = try XCTUnwrap(checkpoint.process(checkpoint.info.rootPid))
        let plan = try ImagePlan.build(process, checkpoint: checkpoint)

        let reasons = try FileVerifyReasons(image: process, plan: plan, stdio: "/tmp/x/stdio.txt")

        let terminal = "fd 1 was a terminal, and restore attached it to the --stdio file /tmp/x/stdio.txt"
        XCTAssertEqual(reasons.reason(kind: "files", key: "fd 1", field: "flags"), terminal)
        XCTAssertEqual(reasons.reason(kind: "files", key: "fd 1", field: "position"), terminal)
        XCTAssertNil(reasons.reason(kind: "files", key: "fd 1", field: "close-on-exec"))
        XCTAssertNil(reasons.reason(kind: "files", key: "fd 1", field: "fd"))
        XCTAssertNil(reasons.reason(kind: "sockets", key: "fd 1", field: "path"))
        XCTAssertEqual(reasons.reason(kind: "files", key: "fd 3", field: "size"), "the file changed on disk after the checkpoint")
        XCTAssertNil(reasons.reason(kind: "files", key: "fd 3", field: "position"))
        XCTAssertNil(reasons.reason(kind: "files", key: "fd 3", field: "flags"))
        XCTAssertNil(reasons.reason(kind: "files", key: "fd 3", field: "mode"))
    }

    /// Restore opens the --stdio file in the restored process, whose cwd is the image's, not the caller's.
    func testRelativeStdioIsCallersCwd() throws {
        let (_, image) = try dumpKilled()
        let callerDir = dir + "/caller"
        try FileManager.default.createDirectory(atPath: callerDir, withIntermediateDirectories: false)
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(callerDir))
        defer { FileManager.default.changeCurrentDirectoryPath(previous) }

        let result = try CLI.run(["--json", "restore", "-D", image, "--new-pid", "--stdio", "stdio.txt"])
        let differences = try restoredDifferences(result)

        XCTAssertEqual(result.status, 0, result.out + result.err)
        XCTAssertTrue(FileManager.default.fileExists(atPath: callerDir + "/stdio.txt"))
        XCTAssertEqual(terminalFields(differences, fd: 0)["path"]?.reason,
                       "fd 0 was a terminal, and restore attached it to the --stdio file \(callerDir)/stdio.txt")
    }

    func testGrownFileIsExpected() throws {
        let fixture = try PtyProcess(file: dataFile)
        let image = dir + "/image"
        let dump = try CLI.run(["dump", "\(fixture.pid)", "-D", image])
        XCTAssertEqual(dump.status, 0, dump.out + dump.err)
        try appendToDataFile(2832)

        let result = try CLI.run(["--json", "restore", "-D", image, "--new-pid", "--stdio", dir + "/stdio.txt"])
        let differences = try restoredDifferences(result)

        XCTAssertEqual(result.status, 0, result.out + result.err)
        let fd3 = differences.filter { $0["kind"] as? String == "files" && $0["key"] as? String == "fd 3" }
        XCTAssertEqual(fd3.count, 1, "\(fd3)")
        XCTAssertEqual(fd3.first?["summary"] as? String, "size 1039 → 3871")
        XCTAssertEqual(fd3.first?["expected"] as? Bool, true)
        XCTAssertEqual(fd3.first?["reason"] as? String, "the file changed on disk after the checkpoint")
    }

    func testReportPrintsUnexpectedFirst() throws {
        let fixture = try PtyProcess(file: dataFile)
        let image = dir + "/image"
        let dump = try CLI.run(["dump", "\(fixture.pid)", "-D", image])
        XCTAssertEqual(dump.status, 0, dump.out + dump.err)
        // A changed mode stays unexpected, because the process may depend on it.
        XCTAssertEqual(chmod(dataFile, 0o600), 0)
        let stdio = dir + "/stdio.txt"

        let json = try CLI.run(["--json", "restore", "-D", image, "--new-pid", "--stdio", stdio])
        let all = try restoredDifferences(json)
        let plain = try CLI.run(["restore", "-D", image, "--new-pid", "--stdio", stdio])
        let verbose = try CLI.run(["restore", "-D", image, "--new-pid", "--stdio", stdio, "-v"])

        let expected = all.filter { $0["expected"] as? Bool == true }
        XCTAssertEqual(all.count - expected.count, 1, json.out)
        XCTAssertEqual(json.status, 1)
        let restored = try restoredPid(plain)
        let lines = plain.outLines
        XCTAssertEqual(plain.status, 1, plain.out + plain.err)
        XCTAssertEqual(lines.count, 5, plain.out)
        XCTAssertTrue(lines.first?.hasPrefix("restored process \(restored) (was \(fixture.pid)) in ") ?? false, plain.out)
        XCTAssertTrue(lines[1].hasPrefix("verify ("), lines[1])
        XCTAssertTrue(lines[1].hasSuffix("): 1 unexpected difference from the image"), lines[1])
        XCTAssertEqual(lines[2], "  DIFFERS: files fd 3: mode 0644 → 0600")
        // Each restore counts its own expected differences, and the number can
        // differ by one between runs (a timer or signal that fired meanwhile).
        XCTAssertTrue(lines[3].hasSuffix(" expected differences (list them with -v)"), lines[3])
        XCTAssertGreaterThan(Int(lines[3].prefix { $0.isNumber }) ?? 0, 0, lines[3])
        XCTAssertEqual(lines[4], "the restored process \(restored) is running; compare it with `bpfcp diff` or stop it with kill \(restored)")

        let verboseRestored = try restoredPid(verbose)
        let verboseLines = verbose.outLines
        XCTAssertEqual(verboseLines[2], "  DIFFERS: files fd 3: mode 0644 → 0600")
        XCTAssertTrue(verboseLines[3].hasSuffix(" expected differences:"), verboseLines[3])
        let listed = verboseLines.dropFirst(4).dropLast()
        XCTAssertEqual(listed.count, Int(verboseLines[3].prefix { $0.isNumber }), verbose.out)
        XCTAssertGreaterThan(listed.count, 0, verbose.out)
        XCTAssertTrue(listed.allSatisfy { $0.hasPrefix("  expected: ") }, verbose.out)
        XCTAssertTrue(listed.contains("  expected: process \(verboseRestored): pid \(fixture.pid) → \(verboseRestored) (restored with --new-pid)"),
                      verbose.out)
    }

    /// Restore with a new pid that the caller chose, as bpfcp-top does, names no option the user did not type.
    func testNewPidReasonWithoutOption() throws {
        let fixture = try PtyProcess(file: dataFile)
        let image = dir + "/image"
        let dump = try CLI.run(["dump", "\(fixture.pid)", "-D", image])
        XCTAssertEqual(dump.status, 0, dump.out + dump.err)

        let report = try Restore.run(imageDirectory: image, options: RestoreOptions(newPid: true, stdio: dir + "/stdio.txt"))
        restoredPids.append(report.pid)

        let pid = report.differences.first { $0.kind == "process" && $0.summary.hasPrefix("pid ") }
        XCTAssertEqual(pid?.summary, "pid \(fixture.pid) → \(report.pid)")
        XCTAssertEqual(pid?.reason, "restored with a new pid")
        XCTAssertFalse(report.differences.contains { $0.reason?.contains("--new-pid") ?? false }, "\(report.differences)")
    }

    // MARK: - Helpers

    /// Starts the fixture on a pty and checkpoints it with --kill.
    private func dumpKilled() throws -> (PtyProcess, String) {
        let fixture = try PtyProcess(file: dataFile)
        let image = dir + "/image"
        let dump = try CLI.run(["dump", "\(fixture.pid)", "-D", image, "--kill"])
        XCTAssertEqual(dump.status, 0, dump.out + dump.err)
        try RestoredProcess.waitGone(fixture.pid)
        return (fixture, image)
    }

    private func appendToDataFile(_ count: Int) throws {
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: dataFile))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(repeating: 0x62, count: count))
    }

    /// Returns the differences of a `--json restore`, and remembers the restored pid to kill it.
    private func restoredDifferences(_ result: CLIResult) throws -> [[String: Any]] {
        let restore = try XCTUnwrap(try result.json()["restore"] as? [String: Any], result.out + result.err)
        if let pid = restore["pid"] as? Int { restoredPids.append(Int32(pid)) }
        return try XCTUnwrap(restore["differences"] as? [[String: Any]], result.out)
    }

    /// Returns the pid of a text-mode restore from its first line, and remembers it to kill it.
    private func restoredPid(_ result: CLIResult) throws -> Int32 {
        let words = try XCTUnwrap(result.outLines.first, result.err).split(separator: " ")
        let pid = try XCTUnwrap(words.count > 2 ? Int32(words[2]) : nil, result.out)
        restoredPids.append(pid)
        return pid
    }

    /// Returns the files differences of `fd` by field name, with the summary and reason of each expected one.
    private func terminalFields(_ differences: [[String: Any]], fd: Int) -> [String: (summary: String, reason: String)] {
        var out: [String: (summary: String, reason: String)] = [:]
        for difference in differences where difference["kind"] as? String == "files" && difference["key"] as? String == "fd \(fd)" {
            let summary = difference["summary"] as? String ?? ""
            let field = String(summary.prefix { $0 != " " })
            let name = ["mount"].contains(field) ? "mount id" : field
            out[name] = (summary, difference["expected"] as? Bool == true ? difference["reason"] as? String ?? "" : "UNEXPECTED")
        }
        return out
    }
}
