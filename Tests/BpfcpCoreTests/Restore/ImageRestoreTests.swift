@testable import BpfcpCore
import XCTest

/// Checkpoints fixtures with `Checkpointer`, restores them from the image
/// with `Restore.run`, and lets each fixture check itself.
final class ImageRestoreTests: XCTestCase {
    func testRestoreFromImageSamePid() throws {
        try requireBPF()
        let (dir, pid) = try CheckpointSupport.checkpointBasic(mib: 1, files: 3)
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }

        XCTAssertEqual(report.pid, pid)
        XCTAssertTrue(report.verified)
        XCTAssertEqual(report.unexpected, [], report.unexpected.map(\.summary).joined(separator: "\n"))
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        let first = try counter(dir)
        XCTAssertGreaterThan(try counter(dir), first, "the restored loop does not advance")
    }

    func testPidInUseRejectedThenNewPid() throws {
        try requireBPF()
        let (dir, pid) = try CheckpointSupport.checkpointBasic(mib: 1, files: 2)
        let first = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(), verify: false)
        let restored = RestoredProcess(pid: first.pid)
        defer { restored.stop() }

        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "pid_in_use")
            XCTAssertTrue("\(error)".contains("pid \(pid) is in use"), "\(error)")
        }
        let second = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(newPid: true))
        let copy = RestoredProcess(pid: second.pid)
        defer { copy.stop() }
        XCTAssertNotEqual(second.pid, pid)
        XCTAssertEqual(second.unexpected, [], second.unexpected.map(\.summary).joined(separator: "\n"))
        XCTAssertTrue(second.differences.contains { $0.summary == "pid \(pid) → \(second.pid)" && $0.expected })
        XCTAssertTrue(kill(first.pid, 0) == 0, "the first restored process died")
    }

    func testRejectedResourcesCreateNothing() throws {
        try requireBPF()
        let cases = [("tcp", "ESTABLISHED TCP connection 127.0.0.1:"), ("deleted", "the deleted file"),
                     ("privatememfd", "maps /memfd:private-only (deleted), whose content the image does not hold"),
                     ("sysvshm", "is sysv-shm memory (/SYSV00000000 (deleted)), which restore cannot map yet")]
        for (mode, message) in cases {
            let dir = try RestoredProcess.makeDirectory()
            let fixture = try Fixture(c: "restore_refused", arguments: [mode])
            let pid = fixture.pid
            try waitStdoutNull(pid)
            _ = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(), kill: false)
            fixture.stop()
            try RestoredProcess.waitGone(pid)

            XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions()), mode) { error in
                XCTAssertEqual((error as? BpfcpError)?.code, "restore_unsupported", mode)
                XCTAssertTrue("\(error)".contains(message), "\(mode): \(error)")
            }
            XCTAssertEqual(kill(pid, 0), -1, "\(mode): a process took pid \(pid)")
        }
    }

    func testCorruptImageRejected() throws {
        try requireBPF()
        let (dir, pid) = try CheckpointSupport.checkpointBasic(mib: 1, files: 1)
        let pages = dir + "/image/pages.img"
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: pages))
        try handle.seek(toOffset: 4096 + 100)
        let byte = try XCTUnwrap(handle.readData(ofLength: 1).first)
        try handle.seek(toOffset: 4096 + 100)
        handle.write(Data([byte ^ 0xFF]))
        try handle.close()

        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())) { error in
            XCTAssertTrue("\(error)".contains("pages"), "\(error)")
        }
        XCTAssertEqual(kill(pid, 0), -1, "a process took pid \(pid)")
    }

    func testFailureMidwayLeavesNothing() throws {
        try requireBPF()
        let (dir, pid) = try CheckpointSupport.checkpointBasic(mib: 1, files: 3)
        try FileManager.default.removeItem(atPath: dir + "/f1")

        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())) { error in
            XCTAssertTrue("\(error)".contains("\(dir)/f1"), "\(error)")
            XCTAssertTrue("\(error)".contains("No such file"), "\(error)")
        }
        XCTAssertEqual(kill(pid, 0), -1, "the half-restored process \(pid) was left behind")
        var status: Int32 = 0
        XCTAssertEqual(waitpid(pid, &status, WNOHANG), -1, "the half-restored process \(pid) was not reaped")
    }

    func testVerifyReportsAlteredImage() throws {
        try requireBPF()
        let (dir, _) = try CheckpointSupport.checkpointBasic(mib: 1, files: 1)
        var checkpoint = try CheckpointImage.open(dir + "/image")
        var image = checkpoint.processes[0]
        let index = try XCTUnwrap(image.sections.firstIndex { $0.kind == "memory" })
        var areas = try image.sections[index].items.map { try $0.decode(as: MemoryArea.self) }
        let target = try XCTUnwrap(areas.firstIndex { $0.path == "[stack]" })
        areas[target].permissions = "rwxp"
        let old = image.sections[index]
        image.sections[index] = Section(kind: old.kind, source: old.source, unavailable: nil, elapsedNs: old.elapsedNs,
                                        items: try areas.map { try JSONValue.from($0) }, entries: areas.map(MemoryKind.entry))
        checkpoint.processes[0] = image
        try CheckpointImage.write(checkpoint, to: dir + "/altered")

        let report = try Restore.run(imageDirectory: dir + "/altered", options: RestoreOptions())
        defer { RestoredProcess(pid: report.pid).stop() }
        XCTAssertEqual(report.unexpected.map(\.summary), ["permissions rwxp → rw-p"])
        XCTAssertEqual(report.unexpected.first?.kind, "memory")
    }

    /// Waits until the fixture has moved its stdout from the harness pipe to /dev/null.
    private func waitStdoutNull(_ pid: Int32) throws {
        for _ in 0..<1000 {
            if ProcFS.readLink("/proc/\(pid)/fd/1") == Array("/dev/null".utf8) { return }
            usleep(1000)
        }
        throw FixtureError("fixture \(pid) kept its stdout pipe")
    }

    /// The loop counter the fixture reports with "pass COUNTER PID".
    private func counter(_ dir: String) throws -> Int {
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        let text = try String(contentsOfFile: dir + "/result", encoding: .utf8)
        return Int(text.split(separator: " ")[1]) ?? -1
    }
}

final class EventFilesRestoreTests: XCTestCase {
    func testEventfdPipeTimerfdSignalfd() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_basic", arguments: [dir, "1", "2", "events"])
        let pid = fixture.pid
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        _ = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(), kill: false)
        fixture.stop()
        try RestoredProcess.waitGone(pid)

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        XCTAssertTrue(trace.lines.contains { $0.hasPrefix("eventfd2(42, ") }, "no eventfd2 in the trace")
        XCTAssertTrue(trace.lines.contains { $0.hasPrefix("timerfd_settime(") && $0.contains("interval=1000000 ns") })
        XCTAssertTrue(trace.lines.contains { $0.hasPrefix("signalfd4(-1, [SIGUSR2]") })
        XCTAssertTrue(trace.lines.contains { $0.hasPrefix("pipe2(") })
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
    }
}
