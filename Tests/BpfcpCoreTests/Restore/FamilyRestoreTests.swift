@testable import BpfcpCore
import XCTest

/// Checkpoints process families with `--tree`, restores them and lets the
/// restore_family fixture check itself: zombie, stopped child, session and
/// group, pipes shared with a child, pidfds.
final class FamilyRestoreTests: XCTestCase {
    func testFamilyChecksItselfAfterRestore() throws {
        try requireBPF()
        let (dir, family) = try checkpointFamily()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        defer { Self.killMembers(report) }

        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        XCTAssertEqual(report.members.map(\.pid).sorted(), family.values.sorted())
        XCTAssertEqual(report.members.filter(\.zombie).map(\.pid), [family["zombie"]!])
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        XCTAssertEqual(Freezer.taskState(family["zombie"]!), "Z")
        XCTAssertEqual(Freezer.taskState(family["stopped"]!), "T")

        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/reap", contents: Data()))
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        XCTAssertTrue(Self.waitGone(family["zombie"]!, seconds: 2), "the zombie was not reaped by its restored parent")
    }

    func testFamilyWithNewPid() throws {
        try requireBPF()
        let (dir, family) = try checkpointFamily()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(newPid: true))
        defer { Self.killMembers(report) }

        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        let pids = Dictionary(report.members.map { ($0.imagePid, $0.pid) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(Set(pids.keys), Set(family.values))
        XCTAssertTrue(Set(pids.values).isDisjoint(with: family.values), "\(pids)")
        let zombie = try XCTUnwrap(ProcessListBPF.collect(pid: pids[family["zombie"]!]!).first)
        XCTAssertEqual(zombie.state, .zombie)
        XCTAssertEqual(zombie.ppid, pids[family["parent"]!])
        let grandchild = try XCTUnwrap(ProcessListBPF.collect(pid: pids[family["grandchild"]!]!).first)
        XCTAssertEqual(grandchild.ppid, pids[family["worker"]!])
        XCTAssertEqual(grandchild.sid, pids[family["worker"]!])
        XCTAssertEqual(grandchild.pgid, pids[family["worker"]!])
    }

    func testMultiThreadedChildRestored() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let threads = try Fixture.compile("restore_threads")
        let script = "echo READY pid=$$; exec </dev/null >/dev/null 2>&1; \(threads) \(dir) 3 & wait"
        let fixture = try Fixture(executable: try Fixture.compile("exec_clean"), arguments: ["/bin/bash", "-c", script])
        defer { fixture.stop() }
        XCTAssertEqual(try RestoredProcess.ask(dir: dir, timeout: 20), "pass")
        let checkpoint = try Checkpointer.dump(pid: fixture.pid, to: dir + "/image", options: CaptureOptions(tree: true), kill: false)
        let members = checkpoint.processes.map(\.pid)
        XCTAssertEqual(members.count, 2)
        XCTAssertEqual(checkpoint.processes.last?.threads.count, 5)
        for member in members.reversed() { kill(member, SIGKILL) }
        fixture.stop()
        for member in members { XCTAssertTrue(Self.waitGone(member), "process \(member) is still there") }

        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        defer { Self.killMembers(report) }
        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        XCTAssertEqual(Freezer.taskIds(members[1]).sorted(), checkpoint.processes[1].threads.map(\.tid).sorted())
    }

    func testFamilyFailureMidwayLeavesNothing() throws {
        try requireBPF()
        let (dir, family) = try checkpointFamily()
        var checkpoint = try CheckpointImage.open(dir + "/image")
        let last = try XCTUnwrap(checkpoint.processes.firstIndex { $0.pid == family["grandchild"] })
        var image = checkpoint.processes[last]
        let index = try XCTUnwrap(image.sections.firstIndex { $0.kind == "files" })
        var files = try image.sections[index].items.map { try $0.decode(as: OpenFile.self) }
        var missing = try XCTUnwrap(files.first)
        missing.fd = 9
        missing.path = dir + "/missing"
        missing.openFileId = nil
        files.append(missing)
        let old = image.sections[index]
        image.sections[index] = Section(kind: old.kind, source: old.source, unavailable: nil, elapsedNs: old.elapsedNs,
                                        items: try files.map { try JSONValue.from($0) }, entries: files.map(FilesKind.entry))
        checkpoint.processes[last] = image
        try CheckpointImage.write(checkpoint, to: dir + "/altered")

        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/altered", options: RestoreOptions())) { error in
            XCTAssertTrue("\(error)".contains("\(dir)/missing"), "\(error)")
        }
        for (name, pid) in family {
            XCTAssertTrue(Self.waitGone(pid), "the half-restored \(name) \(pid) was left behind")
        }
    }

    func testTakenMemberPidRejected() throws {
        try requireBPF()
        let (dir, family) = try checkpointFamily()
        let taken = family["worker"]!
        let holder = try ThreadRestoreTests.holdPid(taken)
        defer { holder.kill() }

        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "pid_in_use")
            XCTAssertTrue("\(error)".contains("pid \(taken) is in use by"), "\(error)")
        }
        XCTAssertEqual(kill(family["parent"]!, 0), -1, "a process took the parent's pid")
    }

    /// Starts restore_family in a new directory, checks it once, checkpoints
    /// it with its descendants to DIR/image and kills every member by pid.
    private func checkpointFamily() throws -> (String, [String: Int32]) {
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_family", arguments: [dir])
        try fixture.waitStdoutClosed()
        var family = ["parent": fixture.pid]
        for name in ["zombie", "stopped", "worker", "grandchild"] {
            family[name] = try XCTUnwrap(fixture.int(name).map { Int32($0) }, "no \(name) in \(fixture.firstLine)")
        }
        defer {
            for name in ["stopped", "worker", "grandchild"] { kill(family[name]!, SIGKILL) }
            fixture.stop()
        }
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        let checkpoint = try Checkpointer.dump(pid: fixture.pid, to: dir + "/image", options: CaptureOptions(tree: true), kill: false)
        XCTAssertEqual(checkpoint.processes.count, 5)
        for name in ["stopped", "worker", "grandchild"] { kill(family[name]!, SIGKILL) }
        fixture.stop()
        for (name, pid) in family where !Self.waitGone(pid) {
            throw FixtureError("the original \(name) \(pid) still exists after it was killed")
        }
        return (dir, family)
    }

    /// Waits until `pid` no longer exists. Orphans go to this machine's
    /// init, which can take seconds to reap them, so the wait is long.
    static func waitGone(_ pid: Int32, seconds: Double = 15) -> Bool {
        CheckpointSupport.waitUntil(seconds) {
            var status: Int32 = 0
            _ = waitpid(pid, &status, WNOHANG | Int32(__WALL))
            return kill(pid, 0) != 0 && errno == ESRCH
        }
    }

    /// Kills every restored member by pid, children first, and reaps the root.
    static func killMembers(_ report: RestoreReport) {
        for member in report.members.reversed() where member.pid != report.pid { kill(member.pid, SIGKILL) }
        RestoredProcess(pid: report.pid).stop()
    }
}
