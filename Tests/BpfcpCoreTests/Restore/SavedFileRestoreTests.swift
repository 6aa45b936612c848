@testable import BpfcpCore
import XCTest

/// Restores memfds and deleted files from the content the checkpoint saved.
final class SavedFileRestoreTests: XCTestCase {
    func testMemfdsAndDeletedFileRecreated() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let shm = "/dev/shm/bpfcp-restore-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: shm, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: shm) }
        let fixture = try Fixture(c: "restore_files", arguments: [dir, shm])
        let pid = fixture.pid
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        _ = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(), kill: false)
        fixture.stop()
        try RestoredProcess.waitGone(pid)

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }

        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        XCTAssertTrue(trace.lines.contains { $0.hasPrefix("memfd_create(\"restore-memfd\", 0x12)") }, "no memfd_create in the trace")
        XCTAssertTrue(trace.lines.contains { $0.hasPrefix("memfd_create(\"plain\", 0x10)") }, "no memfd_create for plain")
        XCTAssertTrue(trace.lines.contains { $0.contains("F_ADD_SEALS, F_SEAL_SHRINK|F_SEAL_GROW)") }, "no F_ADD_SEALS in the trace")
        XCTAssertTrue(trace.lines.contains { $0.hasPrefix("unlink(\"\(shm)/gone\")") }, "no unlink in the trace")
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        XCTAssertFalse(FileManager.default.fileExists(atPath: shm + "/gone"))
        let memfd = try MemfdKind.collectBPF(pid: report.pid)
        XCTAssertEqual(memfd.map(\.name), ["restore-memfd", "restore-memfd", "plain"])
        XCTAssertEqual(memfd.map(\.position), [1234, 77, 5])
    }

    func testDeletedFileOnDiskRejected() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_refused", arguments: ["deleted"])
        let pid = fixture.pid
        try waitForNullStdout(pid)
        _ = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(), kill: false)
        fixture.stop()
        try RestoredProcess.waitGone(pid)

        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "restore_unsupported")
            XCTAssertTrue("\(error)".contains("whose content the checkpoint did not save"), "\(error)")
        }
        XCTAssertEqual(kill(pid, 0), -1, "a process took pid \(pid)")
    }

    func testPathTakenRejectedBeforeCreating() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let shm = "/dev/shm/bpfcp-restore-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: shm, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: shm) }
        let fixture = try Fixture(c: "restore_files", arguments: [dir, shm])
        let pid = fixture.pid
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        _ = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(), kill: false)
        fixture.stop()
        try RestoredProcess.waitGone(pid)
        FileManager.default.createFile(atPath: shm + "/gone", contents: Data("other".utf8))

        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "restore_unsupported")
            XCTAssertTrue("\(error)".contains("another file has its path now"), "\(error)")
        }
        XCTAssertEqual(try String(contentsOfFile: shm + "/gone", encoding: .utf8), "other")
        XCTAssertEqual(kill(pid, 0), -1, "a process took pid \(pid)")
    }
}

/// BC03: a memfd holding a script, executed through the fd after a delay.
final class MemfdExecCaseTests: XCTestCase {
    func testRestoredMemfdExecs() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let program = try FileOutputProgram(executable: try CaseProgram.compile("bc03_memfd_exec.c"), arguments: ["60"], dir: dir)
        let line = try program.waitOutput()
        XCTAssertTrue(line.hasPrefix("pid \(program.pid) memfd fd 3"), line)
        try program.checkpointAndStop()

        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        // The restored sleep() returns early, because the kernel's restart block is not in the image.
        let output = try program.waitOutput(lines: 2, timeout: 10)
        XCTAssertEqual(output.split(separator: "\n").last, "payload-ran", output)
    }
}
