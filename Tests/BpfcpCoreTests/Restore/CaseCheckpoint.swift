@testable import BpfcpCore
import Foundation
import XCTest

/// A shared case or fixture run with its stdin on /dev/null, its stdout
/// and stderr in DIR/output and no other fd, so that no fd of it is a pipe
/// or socket of the test process, which restore would reject. Restored
/// copies keep writing to the same file.
final class FileOutputProgram {
    let process = Process()
    let dir: String
    private var stopped = false
    var pid: Int32 { process.processIdentifier }
    var outputPath: String { dir + "/output" }

    init(executable: String, arguments: [String], dir: String) throws {
        self.dir = dir
        FileManager.default.createFile(atPath: dir + "/output", contents: nil)
        let output = try XCTUnwrap(FileHandle(forWritingAtPath: dir + "/output"))
        process.executableURL = URL(fileURLWithPath: try Fixture.compile("exec_clean"))
        process.arguments = [executable] + arguments
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        process.standardOutput = output
        process.standardError = output
        let child = process
        try Fixture.withNoSignalsBlocked { try child.run() }
        try output.close()
    }

    /// Waits until the output has `lines` lines and returns the text.
    @discardableResult
    func waitOutput(lines: Int = 1, timeout: TimeInterval = 20) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let text = output
            if text.filter({ $0 == "\n" }).count >= lines { return text }
            usleep(2000)
        }
        throw FixtureError("\(process.executableURL?.path ?? "program") printed \(output.debugDescription), not \(lines) lines, within \(Int(timeout)) s")
    }

    var output: String {
        (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    }

    /// Checkpoints the program to DIR/image, kills it by pid and waits until it is gone.
    func checkpointAndStop() throws {
        _ = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(), kill: false)
        stop()
        try RestoredProcess.waitGone(pid)
    }

    func stop() {
        guard !stopped else { return }
        stopped = true
        kill(pid, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        stop()
    }
}

/// Waits until the fixture `pid` has moved its stdout from the harness pipe to /dev/null.
func waitForNullStdout(_ pid: Int32) throws {
    for _ in 0..<1000 {
        if ProcFS.readLink("/proc/\(pid)/fd/1") == Array("/dev/null".utf8) { return }
        usleep(1000)
    }
    throw FixtureError("fixture \(pid) kept its stdout pipe")
}

/// Formats the unexpected differences of a restore report, one per line.
func describeUnexpected(_ report: RestoreReport) -> String {
    report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n")
}
