@testable import BpfcpCore
import Foundation
import XCTest

/// A process whose forked child, left out of the image (no --tree), shares
/// its process group and listening socket, as `bpfcp dump` and `bpfcp
/// restore` report it.
final class CLIForkedChildTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = try RestoredProcess.makeDirectory()
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Starts forked_listener and waits until parent and child have moved their stdio to /dev/null.
    private func start(_ arguments: [String] = []) throws -> (fixture: Fixture, child: Int32, port: Int64, fd: Int64) {
        let fixture = try Fixture(c: "forked_listener", arguments: arguments)
        let child = try XCTUnwrap(fixture.int("child").map { Int32($0) }, fixture.firstLine)
        try QueueFixture.waitStdioNull(fixture.pid)
        try QueueFixture.waitStdioNull(child)
        return (fixture, child, try XCTUnwrap(fixture.int("port")), try XCTUnwrap(fixture.int("fd")))
    }

    func testDumpKillKeepsGroupShared() throws {
        try requireBPF()
        let (fixture, child, _, _) = try start()
        let image = dir + "/image"

        let dump = try CLI.run(["dump", "\(fixture.pid)", "-D", image, "--kill"])

        XCTAssertEqual(dump.status, 1, dump.out + dump.err)
        XCTAssertEqual(dump.errLines, [
            "bpfcp: process \(fixture.pid) was not killed because its image could not be restored while another process runs: "
            + "process \(child) (lchild), which is not in the image, is in the process group \(fixture.pid) that process \(fixture.pid) leads, "
            + "so pid \(fixture.pid) would stay taken and restore could not have it back; the image \(image) is kept and the process runs on; "
            + "dump again with --tree to take that process too, or leave out --kill",
        ])
        XCTAssertTrue(fixture.process.isRunning)
        CheckpointSupport.assertReleased(fixture.pid)
        XCTAssertNoThrow(try CheckpointImage.open(image))
    }

    func testDumpKillKeepsListenerShared() throws {
        try requireBPF()
        let (fixture, child, port, fd) = try start(["own-group"])
        defer { kill(child, SIGKILL) }
        let image = dir + "/image"

        let dump = try CLI.run(["dump", "\(fixture.pid)", "-D", image, "--kill"])

        XCTAssertEqual(dump.status, 1, dump.out + dump.err)
        XCTAssertEqual(dump.errLines, [
            "bpfcp: process \(fixture.pid) was not killed because its image could not be restored while another process runs: "
            + "process \(child) (lchild), which is not in the image, holds fd \(fd) of process \(fixture.pid), "
            + "the inet listener 127.0.0.1:\(port), as its fd \(fd), so the address would stay bound and restore could not listen on it; "
            + "the image \(image) is kept and the process runs on; dump again with --tree to take that process too, or leave out --kill",
        ])
        XCTAssertTrue(fixture.process.isRunning)
        CheckpointSupport.assertReleased(fixture.pid)
    }

    func testDumpTreeKillTakesChild() throws {
        try requireBPF()
        let (fixture, child, _, _) = try start()

        let dump = try CLI.run(["dump", "\(fixture.pid)", "-D", dir + "/image", "--tree", "--kill"])

        XCTAssertEqual(dump.status, 0, dump.out + dump.err)
        try RestoredProcess.waitGone(fixture.pid)
        try RestoredProcess.waitGone(child)
    }

    func testRestoreListsGroupMembers() throws {
        try requireBPF()
        let (fixture, child, _, _) = try start()
        let image = dir + "/image"
        let dump = try CLI.run(["dump", "\(fixture.pid)", "-D", image])
        XCTAssertEqual(dump.status, 0, dump.out + dump.err)
        kill(fixture.pid, SIGKILL)
        try RestoredProcess.waitGone(fixture.pid)

        let restore = try CLI.run(["restore", "-D", image])

        XCTAssertEqual(restore.status, 1, restore.out + restore.err)
        XCTAssertEqual(restore.errLines, [
            "bpfcp: pid \(fixture.pid) is still the process group id of these running processes: \(child) (lchild); "
            + "stop them, or restore with --new-pid",
        ])
        XCTAssertEqual(kill(child, 0), 0, "the child \(child) should still run")
    }

    func testRestoreVerifyExpectsChildGone() throws {
        try requireBPF()
        let (fixture, child, _, _) = try start()
        let image = dir + "/image"
        let dump = try CLI.run(["dump", "\(fixture.pid)", "-D", image])
        XCTAssertEqual(dump.status, 0, dump.out + dump.err)
        fixture.stop()
        // The orphaned child is init's to reap, which can take longer than waitGone waits.
        XCTAssertTrue(CheckpointSupport.waitUntil(10) { kill(child, 0) != 0 }, "the child \(child) is still there")

        let restore = try CLI.run(["restore", "-D", image, "-v"])
        defer { kill(fixture.pid, SIGKILL) }

        XCTAssertEqual(restore.status, 0, restore.out + restore.err)
        XCTAssertTrue(restore.outLines.contains(
            "  expected: context identity children: children \(child) → none (a child that is not in the image does not come back; "
            + "take the checkpoint with --tree to restore it too)"), restore.out)
        XCTAssertFalse(restore.out.contains("DIFFERS"), restore.out)
    }
}
