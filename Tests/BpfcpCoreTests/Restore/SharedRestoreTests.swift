@testable import BpfcpCore
import XCTest

/// Restores memory and open files that several mappings or processes
/// share; the restore_shared fixture checks itself after restore.
final class SharedRestoreTests: XCTestCase {
    /// A memfd mapped shared, privately with a written page, and shared
    /// read-only comes back as one object at the same addresses.
    func testMappedMemfdRestoresAndPasses() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_shared", arguments: ["memfd", dir])
        try fixture.waitStdoutClosed()
        let pid = fixture.pid
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        _ = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(), kill: true)
        try RestoredProcess.waitGone(pid)
        fixture.stop()

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.pid, pid)
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        XCTAssertEqual(trace.lines.filter { $0.contains("created shared object") }.count, 1, trace.lines.joined(separator: "\n"))
        XCTAssertTrue(report.differences.contains { $0.key == "0x5a0000100000 /memfd:shared-map (deleted)" && $0.expected })
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
    }

    /// A parent and child share an anonymous page, a memfd page and one
    /// open file description, all from before fork().
    func testFamilySharesMemoryAndFileDescription() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_shared", arguments: ["family", dir])
        try fixture.waitStdoutClosed()
        let child = try XCTUnwrap(fixture.int("child").map { Int32($0) })
        defer {
            kill(child, SIGKILL)
            fixture.stop()
        }
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        let checkpoint = try Checkpointer.dump(pid: fixture.pid, to: dir + "/image", options: CaptureOptions(tree: true), kill: true)
        XCTAssertEqual(checkpoint.processes.map(\.pid), [fixture.pid, child])
        fixture.stop()
        XCTAssertTrue(FamilyRestoreTests.waitGone(child), "the original child \(child) is still there")
        XCTAssertTrue(FamilyRestoreTests.waitGone(fixture.pid), "the original parent \(fixture.pid) is still there")

        let files = try checkpoint.processes.map { try $0.items("files", as: OpenFile.self).first { $0.path.hasSuffix("/data") } }
        XCTAssertNotNil(files[0]?.openFileId)
        XCTAssertEqual(files[0]?.openFileId, files[1]?.openFileId)

        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        defer { FamilyRestoreTests.killMembers(report) }
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        XCTAssertEqual(report.members.map(\.pid), [fixture.pid, child])
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
    }

    /// A listener bound to a path in the parent, with the connection it
    /// accepted from the child, and unread bytes on both sides.
    func testUnixListenerWithAcceptedChild() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_shared", arguments: ["unix", dir])
        try fixture.waitStdoutClosed()
        let child = try XCTUnwrap(fixture.int("child").map { Int32($0) })
        defer {
            kill(child, SIGKILL)
            fixture.stop()
        }
        _ = try Checkpointer.dump(pid: fixture.pid, to: dir + "/image", options: CaptureOptions(tree: true), kill: true)
        fixture.stop()
        XCTAssertTrue(FamilyRestoreTests.waitGone(child), "the original child \(child) is still there")
        XCTAssertTrue(FamilyRestoreTests.waitGone(fixture.pid), "the original parent \(fixture.pid) is still there")

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        defer { FamilyRestoreTests.killMembers(report) }
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        XCTAssertTrue(trace.lines.contains { $0.hasPrefix("bound the listener \(dir)/sock with 1 accepted connection") }, "no listener in the trace")
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
    }
}
