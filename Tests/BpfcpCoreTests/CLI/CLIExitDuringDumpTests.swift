import BpfcpCore
import XCTest

/// A process that exits while it is dumped must give either a complete dump
/// or the one-line "exited during the dump" error, never a partial dump.
final class CLIExitDuringDumpTests: XCTestCase {
    /// Stops bpfcp once it has validated the target and loaded the files
    /// object, kills the target, then lets bpfcp finish.
    func testKilledMidDumpReportsExit() throws {
        try requireBPF()
        let taskPrograms = try BPFProbe.programs(of: ProcessListBPF.object).count
        let fixture = try Fixture(c: "cli_target")
        let pid = fixture.pid

        let outPath = FileManager.default.temporaryDirectory.path + "/bpfcp-exit-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: outPath) }
        let dump = try Spawned(CLI.binary, ["--json", "dump", "--only", "files,memory", "\(pid)"],
                               stdout: outPath, stderr: "/dev/null")

        // Objects load on first use: the task object's programs for target
        // validation, then the files object's. A dump that preloads every
        // object up front would break this wait.
        try waitForProgramCount(of: dump.pid, above: taskPrograms)
        kill(dump.pid, SIGSTOP)
        fixture.stop()
        kill(dump.pid, SIGCONT)

        let (exitedNormally, status) = try dump.wait(timeout: 60)
        XCTAssertTrue(exitedNormally)
        XCTAssertEqual(status, 1)
        let text = try String(contentsOfFile: outPath, encoding: .utf8)
        XCTAssertEqual(text, #"{"error":{"code":"process_exited","message":"process \#(pid) exited during the dump: nothing was kept; run the dump again if it restarts"},"schema_version":1}"# + "\n")
    }

    /// Targets that exit on their own 0 ms to 5 s after starting, while
    /// bpfcp dumps them: every run is complete or one of the exit errors.
    /// The delays span a dump's length (hundreds of milliseconds, most of it
    /// loading BPF objects), so some runs end mid-dump and the last completes.
    func testSelfExitingTargetsGiveCompleteDumpOrError() throws {
        try requireBPF()
        var outcomes: [String: Int] = [:]
        let delays = Array(stride(from: 0, through: 600, by: 40)) + [5000]
        for delay in delays {
            let fixture = try Fixture(c: "cli_target", arguments: ["\(delay)"])
            let fd = try XCTUnwrap(fixture.int("fd"))
            let result = try CLI.run(["--json", "dump", "--only", "threads,files,memory", "\(fixture.pid)"])
            fixture.stop()

            XCTAssertTrue(result.exitedNormally)
            let object = try result.json()
            if result.status == 0 {
                try assertComplete(object, fd: fd)
                outcomes["complete", default: 0] += 1
                continue
            }
            XCTAssertEqual(result.status, 1)
            let code = try XCTUnwrap((object["error"] as? [String: Any])?["code"] as? String)
            XCTAssertTrue(["process_exited", "no_such_process", "zombie"].contains(code), "unexpected error \(code)")
            XCTAssertEqual(result.outLines.count, 1)
            outcomes[code, default: 0] += 1
        }
        XCTAssertEqual(outcomes.values.reduce(0, +), delays.count, "outcomes: \(outcomes)")
        XCTAssertGreaterThanOrEqual(outcomes["complete"] ?? 0, 1, "outcomes: \(outcomes)")
        XCTAssertGreaterThanOrEqual(outcomes["process_exited"] ?? 0, 1, "no run ended mid-dump; outcomes: \(outcomes)")
    }

    /// The /proc collectors are too fast to end mid-dump on purpose, but every
    /// run must still be complete or one of the exit errors.
    func testSelfExitingTargetsWithProc() throws {
        try requireBPF()
        for delay in stride(from: 0, through: 200, by: 10) {
            let fixture = try Fixture(c: "cli_target", arguments: ["\(delay)"])
            let fd = try XCTUnwrap(fixture.int("fd"))
            let result = try CLI.run(["--json", "dump", "--proc", "--only", "threads,files,memory", "\(fixture.pid)"])
            fixture.stop()

            XCTAssertTrue(result.exitedNormally)
            let object = try result.json()
            if result.status == 0 {
                try assertComplete(object, fd: fd)
                continue
            }
            XCTAssertEqual(result.status, 1)
            let code = try XCTUnwrap((object["error"] as? [String: Any])?["code"] as? String)
            XCTAssertTrue(["process_exited", "no_such_process", "zombie"].contains(code), "unexpected error \(code)")
        }
    }

    /// Checks that a dump of cli_target is complete: both threads, the /dev/null fd and the
    /// mapping of the executable.
    private func assertComplete(_ object: [String: Any], fd: Int64) throws {
        let kinds = try XCTUnwrap(object["kinds"] as? [String: Any])
        let threads = try XCTUnwrap((kinds["threads"] as? [String: Any])?["items"] as? [[String: Any]])
        XCTAssertEqual(threads.count, 2)
        let files = try XCTUnwrap((kinds["files"] as? [String: Any])?["items"] as? [[String: Any]])
        XCTAssertEqual(files.first { ($0["fd"] as? Int) == Int(fd) }?["path"] as? String, "/dev/null")
        let memory = try XCTUnwrap((kinds["memory"] as? [String: Any])?["items"] as? [[String: Any]])
        XCTAssertTrue(memory.contains { ($0["path"] as? String)?.hasSuffix("/cli_target") == true }, "memory lists the executable")
    }

    /// Polls until process `pid` has more than `count` BPF program fds.
    private func waitForProgramCount(of pid: Int32, above count: Int) throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            let programs = fds.filter { ProcFS.readLink("/proc/\(pid)/fd/\($0)").map { String(decoding: $0, as: UTF8.self) } == "anon_inode:bpf-prog" }
            if programs.count > count { return }
            usleep(500)
        }
        throw FixtureError("bpfcp \(pid) never loaded more than \(count) BPF programs")
    }
}
