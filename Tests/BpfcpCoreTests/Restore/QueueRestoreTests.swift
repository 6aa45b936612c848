@testable import BpfcpCore
import Foundation
import XCTest

/// Checkpoints restore_queues with some of its parts, checks that the
/// original still passes its own check (the capture consumed nothing),
/// restores it from the image and lets the restored copy check itself.
final class QueueRestoreTests: XCTestCase {
    func testPipeQueuesRestored() throws {
        try requireBPF()
        let (dir, checkpoint) = try checkpointQueues(["pipe"])
        let image = try XCTUnwrap(checkpoint.processes.first)
        let sizes = image.queues.map { $0.byteCount }.sorted()
        XCTAssertEqual(sizes, [5, 100_000])
        XCTAssertTrue(image.queues.allSatisfy { $0.identity.hasPrefix("pipe:[") })

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        XCTAssertTrue(trace.lines.contains { $0.contains("F_SETPIPE_SZ, 1048576) = 1048576") }, "no F_SETPIPE_SZ in the trace")
        XCTAssertEqual(trace.lines.filter { $0.hasPrefix("write(") }.count, 2, "one write per pipe: \(trace.lines.filter { $0.hasPrefix("write(") })")
        XCTAssertEqual(try QueueFixture.ask(dir: dir, pid: report.pid), "pass")
    }

    func testFifoQueuesRestored() throws {
        try requireBPF()
        let (dir, checkpoint) = try checkpointQueues(["fifo"])
        let queues = try XCTUnwrap(checkpoint.processes.first).queues
        XCTAssertEqual(queues.map(\.byteCount).sorted(), [7, 10])
        XCTAssertTrue(queues.allSatisfy { $0.identity.hasPrefix("fifo:[") }, "\(queues.map(\.identity))")

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        XCTAssertEqual(trace.lines.filter { $0.contains("/* helper of fifo:[") }.count, 2)
        XCTAssertTrue(trace.lines.contains { $0.contains("F_SETPIPE_SZ, 131072) = 131072") }, "no F_SETPIPE_SZ in the trace")
        XCTAssertEqual(try QueueFixture.ask(dir: dir, pid: report.pid), "pass")
    }

    func testSocketPairQueuesRestored() throws {
        try requireBPF()
        let (dir, checkpoint) = try checkpointQueues(["socketpair"])
        let image = try XCTUnwrap(checkpoint.processes.first)
        let sizes: [String] = image.queues.map { queue in queue.messages.map { "\($0.count)" }.joined(separator: ",") }
        XCTAssertEqual(sizes.sorted(), ["3", "3,500,7", "3011", "4", "5,7"])

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        XCTAssertEqual(trace.lines.filter { $0.hasPrefix("socketpair(AF_UNIX") }.count, 4)
        XCTAssertEqual(trace.lines.filter { $0.hasPrefix("shutdown(") && $0.contains("SHUT_WR") }.count, 1)
        XCTAssertEqual(try QueueFixture.ask(dir: dir, pid: report.pid), "pass")
    }

    func testEpollWatchesRestored() throws {
        try requireBPF()
        let (dir, _) = try checkpointQueues(["socketpair", "epoll"])
        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        let adds = trace.lines.filter { $0.hasPrefix("epoll_ctl(") }
        XCTAssertEqual(adds.count, 3, "\(adds)")
        let eventfdWatch = try XCTUnwrap(adds.first { $0.contains("data=0xdeadbeefcafe") }, "\(adds)")
        XCTAssertTrue(eventfdWatch.contains("EPOLLET"), eventfdWatch)
        let lastCreate = try XCTUnwrap(trace.lines.lastIndex { $0.hasPrefix("socketpair(") || $0.hasPrefix("pipe2(") || $0.hasPrefix("eventfd2(") })
        let firstAdd = try XCTUnwrap(trace.lines.firstIndex { $0.hasPrefix("epoll_ctl(") })
        XCTAssertLessThan(lastCreate, firstAdd, "a watch was added before its target existed")
        XCTAssertEqual(try QueueFixture.ask(dir: dir, pid: report.pid), "pass")
    }

    func testListenersRestored() throws {
        try requireBPF()
        let (dir, checkpoint) = try checkpointQueues(["listen"])
        let sockets = try XCTUnwrap(checkpoint.processes.first).items("sockets", as: Socket.self)
        XCTAssertEqual(sockets.compactMap(\.listenBacklog).sorted(), [3, 5, 7])
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/listener.sock"), "the killed fixture left no socket file")

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        XCTAssertTrue(trace.lines.contains { $0.hasPrefix("unlink(\"\(dir)/listener.sock\")") }, "the stale socket file was not removed")
        XCTAssertEqual(trace.lines.filter { $0.hasPrefix("listen(") }.map { $0.components(separatedBy: ", ").last ?? "" }.sorted(),
                       ["3) = 0", "5) = 0", "7) = 0"])
        XCTAssertEqual(try QueueFixture.ask(dir: dir, pid: report.pid), "pass")
    }

    func testFamilyPipeQueueRestored() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let program = try FileOutputProgram(executable: try CaseProgram.compile("bc14_pipe.c"), arguments: [], dir: dir)
        let line = try program.waitOutput()
        let child = try XCTUnwrap(line.split(separator: " ").dropFirst(3).first.flatMap { Int32($0.trimmingCharacters(in: .punctuationCharacters)) }, line)
        let checkpoint = try Checkpointer.dump(pid: program.pid, to: dir + "/image", options: CaptureOptions(tree: true), kill: false)
        kill(child, SIGKILL)
        program.stop()
        try RestoredProcess.waitGone(program.pid)
        XCTAssertTrue(FamilyRestoreTests.waitGone(child), "the original child \(child) still exists")
        let message = Data("bc14 queued bytes that nobody has read yet".utf8)
        XCTAssertEqual(checkpoint.processes.flatMap(\.queues).map(\.messages), [[message]])

        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        defer { FamilyRestoreTests.killMembers(report) }
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        let parentQueues = try QueueCapture().capture(pid: report.pid)
        XCTAssertEqual(parentQueues.map(\.messages), [[message]])
        let childQueues = try QueueCapture().capture(pid: child)
        XCTAssertEqual(childQueues.map(\.messages), [[message]])
        XCTAssertEqual(childQueues.first?.identity, parentQueues.first?.identity, "parent and child hold different pipes")
    }

    func testFamilySocketPairsRestored() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let program = try FileOutputProgram(executable: try Fixture.compile("family_socketpair"), arguments: [], dir: dir)
        let line = try program.waitOutput()
        let child = try XCTUnwrap(line.split(separator: "=").last.flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }, line)
        _ = try Checkpointer.dump(pid: program.pid, to: dir + "/image", options: CaptureOptions(tree: true), kill: false)
        kill(child, SIGKILL)
        program.stop()
        try RestoredProcess.waitGone(program.pid)
        XCTAssertTrue(FamilyRestoreTests.waitGone(child), "the original child \(child) still exists")

        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        defer { FamilyRestoreTests.killMembers(report) }
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        let parentQueues = try QueueCapture().capture(pid: report.pid).map(\.messages)
        XCTAssertEqual(parentQueues, [[Data("to-parent!".utf8)]])
        let childQueues = try QueueCapture().capture(pid: child).map(\.messages).sorted { $0.count < $1.count }
        XCTAssertEqual(childQueues, [[Data("to-child".utf8)], [Data("d1".utf8), Data("d22".utf8)]])
    }

    func testImageWithoutQueueRejected() throws {
        try requireBPF()
        let (dir, checkpoint) = try checkpointQueues(["pipe"])
        var altered = checkpoint
        altered.processes[0].queues = []
        try CheckpointImage.write(altered, to: dir + "/altered")
        let pid = checkpoint.info.rootPid

        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/altered", options: RestoreOptions())) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "restore_unsupported")
            XCTAssertTrue("\(error)".contains("queued bytes, but the image contains 0 of them"), "\(error)")
        }
        XCTAssertEqual(kill(pid, 0), -1, "a process took pid \(pid)")
    }

    func testQueuesSectionRoundTrip() throws {
        try requireBPF()
        let (dir, checkpoint) = try checkpointQueues(["pipe"])
        let read = try CheckpointImage.open(dir + "/image")
        XCTAssertEqual(read.processes.first?.queues, checkpoint.processes.first?.queues)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/image/queues-\(checkpoint.info.rootPid).img"))

        let path = dir + "/image/queues-\(checkpoint.info.rootPid).img"
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: 40)
        let byte = try XCTUnwrap(handle.readData(ofLength: 1).first)
        try handle.seek(toOffset: 40)
        handle.write(Data([byte ^ 0x20]))
        try handle.close()
        XCTAssertThrowsError(try CheckpointImage.open(dir + "/image")) { error in
            XCTAssertTrue("\(error)".contains("queues-\(checkpoint.info.rootPid)"), "\(error)")
        }
    }

    /// Starts restore_queues with `parts`, checkpoints it to DIR/image,
    /// checks that the original still passes, and kills it.
    private func checkpointQueues(_ parts: [String]) throws -> (String, Checkpoint) {
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_queues", arguments: [dir] + parts)
        let pid = fixture.pid
        try QueueFixture.waitStdioNull(pid)
        let checkpoint = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(), kill: false)
        XCTAssertEqual(try QueueFixture.ask(dir: dir, pid: pid), "pass", "the checkpoint disturbed the original")
        fixture.stop()
        try RestoredProcess.waitGone(pid)
        return (dir, checkpoint)
    }
}

/// Talks to the restore_queues and restore_zdtm fixtures, which check
/// themselves on SIGUSR1 and write the outcome to DIR/result.
enum QueueFixture {
    /// Waits until the fixture has moved its stdin, stdout and stderr from the harness to /dev/null.
    static func waitStdioNull(_ pid: Int32) throws {
        for _ in 0..<1000 {
            let links = (0...2).map { ProcFS.readLink("/proc/\(pid)/fd/\($0)") }
            if links.allSatisfy({ $0 == Array("/dev/null".utf8) }) { return }
            usleep(1000)
        }
        throw FixtureError("fixture \(pid) kept its harness stdio")
    }

    static func ask(dir: String, pid: Int32, timeout: TimeInterval = 10) throws -> String {
        try? FileManager.default.removeItem(atPath: dir + "/result")
        kill(pid, SIGUSR1)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: dir + "/result", encoding: .utf8) {
                return text.hasPrefix("pass") ? "pass" : text.trimmingCharacters(in: .newlines)
            }
            usleep(2000)
        }
        return "no answer within \(Int(timeout)) s"
    }
}
