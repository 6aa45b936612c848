@testable import BpfcpCore
import CBpfcpShim
import XCTest

/// Restores shared cases with O_PATH fds, open flags, no vDSO, a fast
/// timerfd and a long argv. The cases do not check themselves, so each test
/// checks from outside, and verify compares the rest with the image.
final class CaseRestoreTests: XCTestCase {
    func testOpathSymlinkReopensLink() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let program = try FileOutputProgram(executable: try CaseProgram.compile("bc05_opath_symlink.c"), arguments: [], dir: dir)
        XCTAssertTrue(try program.waitOutput().contains("symlink O_PATH fd 3, dir O_PATH fd 4"), program.output)
        try program.checkpointAndStop()

        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        let files = try FilesKind.collectBPF(pid: report.pid)
        let link = try XCTUnwrap(files.first { $0.fd == 3 })
        XCTAssertEqual(link.type, .symlink)
        XCTAssertEqual(link.path, "/tmp/bc05-link")
        XCTAssertTrue(link.flags.contains("O_PATH"), "\(link.flags)")
        XCTAssertTrue(link.flags.contains("O_NOFOLLOW"), "\(link.flags)")
        let directory = try XCTUnwrap(files.first { $0.fd == 4 })
        XCTAssertEqual(directory.type, .directory)
        XCTAssertTrue(directory.flags.contains("O_PATH"), "\(directory.flags)")

        // A copy of fd 3 names the link itself: readlinkat() on it returns the link's target.
        let copy = try copyFd(3, of: report.pid)
        defer { close(copy) }
        var buffer = [CChar](repeating: 0, count: 256)
        let n = readlinkat(copy, "", &buffer, buffer.count - 1)
        XCTAssertEqual(n, 39, String(cString: strerror(errno)))
        XCTAssertEqual(String(cString: buffer), "/tmp/bc05-target-does-not-need-to-exist")
    }

    func testFlagsAppendAndCloseOnExec() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let program = try FileOutputProgram(executable: "/usr/bin/python3", arguments: [Fixture.casePath("bc06_flags.py")], dir: dir)
        XCTAssertTrue(try program.waitOutput().contains("'rdwr_append': 7"), program.output)
        try program.checkpointAndStop()

        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        let files = try FilesKind.collectBPF(pid: report.pid)
        XCTAssertEqual(files.filter(\.closeOnExec).map(\.fd), [4])
        XCTAssertEqual(files.first { $0.fd == 3 }?.flags.prefix(2), ["O_WRONLY", "O_APPEND"])
        XCTAssertTrue(files.first { $0.fd == 5 }?.flags.contains("O_NONBLOCK") == true)
        XCTAssertTrue(files.first { $0.fd == 6 }?.flags.contains("__O_SYNC") == true, "\(files.first { $0.fd == 6 }?.flags ?? [])")
        XCTAssertTrue(files.first { $0.fd == 6 }?.flags.contains("O_DSYNC") == true, "\(files.first { $0.fd == 6 }?.flags ?? [])")
        XCTAssertEqual(files.first { $0.fd == 7 }?.position, 3)

        // The fd's own open file description: a write appends at the end, and a read starts at offset 3.
        let copy = try copyFd(7, of: report.pid)
        defer { close(copy) }
        XCTAssertEqual(write(copy, "X", 1), 1)
        XCTAssertEqual(try String(contentsOfFile: "/tmp/bc06.log", encoding: .utf8), "0123456789X")
        XCTAssertEqual(lseek(copy, 3, SEEK_SET), 3)
        var two = [UInt8](repeating: 0, count: 2)
        XCTAssertEqual(read(copy, &two, 2), 2)
        XCTAssertEqual(two, Array("34".utf8))
        let append = try copyFd(3, of: report.pid)
        defer { close(append) }
        XCTAssertEqual(write(append, "Y", 1), 1)
        XCTAssertEqual(try String(contentsOfFile: "/tmp/bc06.log", encoding: .utf8), "0123456789XY")
    }

    func testNoVdsoStaysWithout() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let program = try FileOutputProgram(executable: try CaseProgram.compile("bc20_no_vdso.c"), arguments: [], dir: dir)
        XCTAssertTrue(try program.waitOutput().contains("unmapping vdso"), program.output)
        XCTAssertTrue(CheckpointSupport.waitUntil(5) { !((try? ProcFS.readText("/proc/\(program.pid)/maps")) ?? "[vdso]").contains("[vdso]") })
        try program.checkpointAndStop()

        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        let maps = try ProcFS.readText("/proc/\(report.pid)/maps")
        XCTAssertFalse(maps.contains("[vdso]"), maps)
        XCTAssertTrue(maps.contains("[vvar]"), maps)
        XCTAssertTrue(maps.contains("[vvar_vclock]"), maps)
        let auxv = try ProcFS.readBytes("/proc/\(report.pid)/auxv")
        XCTAssertFalse(auxv.isEmpty)
    }

    func testFastTimerfdKeepsTicking() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let program = try FileOutputProgram(executable: try CaseProgram.compile("bc26_timerfd.c"), arguments: [], dir: dir)
        try program.waitOutput(lines: 2)
        // Stopped first, so the original writes no tick line between the checkpoint and its end.
        kill(program.pid, SIGSTOP)
        XCTAssertTrue(CheckpointSupport.waitUntil(5) { Freezer.taskState(program.pid) == "T" })
        let before = ticks(program.output).last ?? 0
        try program.checkpointAndStop()

        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        XCTAssertTrue(CheckpointSupport.waitUntil(5) { Freezer.taskState(report.pid) == "T" }, "the restored copy is not stopped")
        kill(report.pid, SIGCONT)
        let lines = ticks(program.output).count
        try program.waitOutput(lines: lines + 1 + 3, timeout: 10)
        let after = ticks(program.output)
        XCTAssertGreaterThan(after.count, lines + 2)
        XCTAssertTrue(zip(after, after.dropFirst()).allSatisfy { $0 < $1 }, "\(after)")
        XCTAssertGreaterThan(after.last ?? 0, before + 1000, "\(after)")
    }

    func testLongArgvByteIdentical() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let text = try Self.runScript(Fixture.casePath("bc35_long_argv.sh"), output: dir + "/pid")
        let pid = try XCTUnwrap(Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), text)
        var family = [pid]
        defer { for member in family { kill(member, SIGKILL) } }
        XCTAssertTrue(CheckpointSupport.waitUntil(10) {
            ((try? ProcFS.readBytes("/proc/\(pid)/cmdline")) ?? []).count == 600_177 && !Self.children(pid).isEmpty
        })
        family += Self.children(pid)
        let argv = try ProcFS.readBytes("/proc/\(pid)/cmdline")
        _ = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(tree: true), kill: false)
        for member in family.reversed() { kill(member, SIGKILL) }
        // The shell's parent is init, which reaps it in its own time.
        for member in family {
            XCTAssertTrue(CheckpointSupport.waitUntil(20) { kill(member, 0) != 0 }, "process \(member) still exists after it was killed")
        }

        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.pid, pid)
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        XCTAssertEqual(try ProcFS.readBytes("/proc/\(report.pid)/cmdline"), argv)
    }

    /// Copies fd `fd` of `pid` into this process with pidfd_getfd, sharing its open file description.
    private func copyFd(_ fd: Int32, of pid: Int32) throws -> Int32 {
        let pidfd = Int32(bpfcp_syscall6(434, Int(pid), 0, 0, 0, 0, 0))  // pidfd_open
        guard pidfd >= 0 else { throw FixtureError("pidfd_open(\(pid)) failed: \(String(cString: strerror(errno)))") }
        defer { close(pidfd) }
        let copy = Int32(bpfcp_syscall6(438, Int(pidfd), Int(fd), 0, 0, 0, 0))  // pidfd_getfd
        guard copy >= 0 else { throw FixtureError("pidfd_getfd(\(pid), \(fd)) failed: \(String(cString: strerror(errno)))") }
        return copy
    }

    /// Returns the totals of the "ticks N" lines of BC26, in order.
    private func ticks(_ output: String) -> [UInt64] {
        output.split(separator: "\n").compactMap { $0.hasPrefix("ticks ") ? UInt64($0.dropFirst(6)) : nil }
    }

    /// Runs a shell script with posix_spawn and waitpid and returns what it printed. Foundation's
    /// Process is not used, because its waitUntilExit() did not return for this script here.
    private static func runScript(_ script: String, output: String) throws -> String {
        // exec_clean closes the fds the test runner leaked, which the case's processes would inherit.
        let execClean = try Fixture.compile("exec_clean")
        let arguments = [execClean, "/bin/sh", "-c", "sh \"$0\" > \"$1\"", script, output]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let rc = Fixture.withNoSignalsBlocked { posix_spawn(&pid, execClean, nil, nil, &argv, environ) }
        guard rc == 0 else { throw FixtureError("posix_spawn of \(execClean) failed: \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return try String(contentsOfFile: output, encoding: .utf8)
    }

    private static func children(_ pid: Int32) -> [Int32] {
        let text = (try? ProcFS.readText("/proc/\(pid)/task/\(pid)/children")) ?? ""
        return text.split(separator: " ").compactMap { Int32($0) }
    }
}
