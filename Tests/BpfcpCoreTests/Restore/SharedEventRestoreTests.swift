@testable import BpfcpCore
import XCTest

/// Restores timerfds and a signalfd that a parent and child share from
/// before fork(), and an epoll instance shared the same way. The
/// restore_shared_events fixture checks itself after restore.
final class SharedEventRestoreTests: XCTestCase {
    /// Starts the fixture in `mode`, checkpoints the family with --kill and
    /// waits until both processes are gone.
    private func checkpointFamily(_ mode: String, dir: String) throws -> (checkpoint: Checkpoint, fixture: Fixture, child: Int32) {
        let fixture = try Fixture(c: "restore_shared_events", arguments: [mode, dir])
        try fixture.waitStdoutClosed()
        let child = try XCTUnwrap(fixture.int("child").map { Int32($0) })
        defer {
            kill(child, SIGKILL)
            fixture.stop()
        }
        let checkpoint = try Checkpointer.dump(pid: fixture.pid, to: dir + "/image", options: CaptureOptions(tree: true), kill: true)
        kill(child, SIGKILL)
        fixture.stop()
        XCTAssertTrue(FamilyRestoreTests.waitGone(child), "the original child \(child) is still there")
        XCTAssertTrue(FamilyRestoreTests.waitGone(fixture.pid), "the original parent \(fixture.pid) is still there")
        return (checkpoint, fixture, child)
    }

    private func files(_ image: ProcessImage) throws -> [Int32: OpenFile] {
        Dictionary(try image.items("files", as: OpenFile.self).map { ($0.fd, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The timerfds and the signalfd come back as one open file
    /// description each, held by both processes, with the time left,
    /// interval, unread expiration and mask they had.
    func testFamilySharesTimerfdsAndSignalfd() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let (checkpoint, fixture, child) = try checkpointFamily("timers", dir: dir)
        let fds = try ["timer", "dup", "tick", "signal"].map { try XCTUnwrap(fixture.int($0).map { Int32($0) }, $0) }
        let (parentFiles, childFiles) = (try files(checkpoint.processes[0]), try files(checkpoint.processes[1]))
        for fd in fds {
            XCTAssertNotNil(parentFiles[fd]?.openFileId, "fd \(fd)")
            XCTAssertEqual(parentFiles[fd]?.openFileId, childFiles[fd]?.openFileId, "fd \(fd)")
        }
        XCTAssertEqual(parentFiles[fds[0]]?.openFileId, parentFiles[fds[1]]?.openFileId, "the dup of the timerfd")
        let tick = try XCTUnwrap(try checkpoint.processes[0].items("events", as: EventFile.self).first { $0.fd == fds[2] })
        XCTAssertEqual(tick.ticks, 1)
        XCTAssertEqual(tick.armed, false)

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        defer { FamilyRestoreTests.killMembers(report) }
        XCTAssertEqual(report.members.map(\.pid), [fixture.pid, child])
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        XCTAssertFalse(trace.lines.contains { $0.contains("timerfd_create(") || $0.contains("signalfd4(") },
                       "a member created its own timerfd or signalfd:\n" + trace.lines.filter { $0.contains("fd") }.joined(separator: "\n"))

        let restored = try [fixture.pid, child].map { try FilesKind.collectBPF(pid: $0) }
        let ids = restored.map { list in Dictionary(list.map { ($0.fd, $0.openFileId) }, uniquingKeysWith: { a, _ in a }) }
        for fd in fds {
            XCTAssertNotNil(ids[0][fd] ?? nil, "restored parent fd \(fd)")
        }
        XCTAssertEqual(ids[0][fds[0]], ids[0][fds[1]], "the dup of the timerfd")
        XCTAssertEqual(ids[0][fds[0]], ids[1][fds[0]], "the timerfd")
        XCTAssertEqual(ids[0][fds[2]], ids[1][fds[2]], "the one-shot timerfd")
        XCTAssertEqual(ids[0][fds[3]], ids[1][fds[3]], "the signalfd")

        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
    }

    /// The sharing check of verify names an fd that lost its shared
    /// description: here the child's timerfd, made its own in the restored files.
    func testSharingCheckNamesSplitDescription() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let (checkpoint, fixture, child) = try checkpointFamily("timers", dir: dir)
        let timer = try XCTUnwrap(fixture.int("timer").map { Int32($0) })
        let dup = try XCTUnwrap(fixture.int("dup").map { Int32($0) })
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        defer { FamilyRestoreTests.killMembers(report) }
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))

        let saved = try Dictionary(uniqueKeysWithValues: checkpoint.processes.map { ($0.pid, try $0.items("files", as: OpenFile.self)) })
        var live = try Dictionary(uniqueKeysWithValues: [fixture.pid, child].map { ($0, try FilesKind.collectBPF(pid: $0)) })
        let pids = [fixture.pid: fixture.pid, child: child]
        XCTAssertEqual(DescriptionSharing.compare(saved: saved, restored: live, pids: pids, root: fixture.pid), [])

        live[child] = live[child]!.map { file in
            var copy = file
            if copy.fd == timer { copy.openFileId = "split" }
            return copy
        }
        let found = DescriptionSharing.compare(saved: saved, restored: live, pids: pids, root: fixture.pid)
        let (parent, both) = ("process \(fixture.pid)", "process \(child)")
        XCTAssertEqual(found.map(\.key), ["fd \(timer)", "fd \(dup)", "\(both) fd \(timer)", "\(both) fd \(dup)"])
        XCTAssertEqual(found.first?.summary,
                       "shares its open file description with \(parent) fd \(dup), \(both) fd \(timer), \(both) fd \(dup) → \(parent) fd \(dup), \(both) fd \(dup)")
        XCTAssertEqual(found[2].summary,
                       "shares its open file description with \(parent) fd \(timer), \(parent) fd \(dup), \(both) fd \(dup) → no other fd")
        XCTAssertEqual(found.filter(\.expected), [])
    }

    /// A family restore reports the time of each phase, as a single process does.
    func testFamilyReportsPhases() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        _ = try checkpointFamily("timers", dir: dir)
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        defer { FamilyRestoreTests.killMembers(report) }
        let phases = report.phases
        let filled: [(String, UInt64)] = [
            ("open", phases.openNs), ("plan", phases.planNs), ("shared", phases.sharedNs), ("spawn", phases.spawnNs),
            ("memory", phases.memoryNs), ("pages", phases.pagesNs), ("pages check", phases.pagesCheckNs),
            ("process", phases.processNs), ("files", phases.filesNs), ("settings", phases.settingsNs),
            ("signals", phases.signalsNs), ("registers", phases.registersNs), ("verify", phases.verifyNs),
        ]
        for (name, ns) in filled {
            XCTAssertGreaterThan(ns, 0, "\(name) phase")
        }
        XCTAssertLessThanOrEqual(phases.pagesNs, phases.memoryNs)
        guard case .object(let top) = try JSONValueEncoder.encode(report), case .object(let encoded)? = top["phases"] else {
            return XCTFail("the report encodes no phases object")
        }
        XCTAssertEqual(encoded["shared_ns"], .int(Int64(phases.sharedNs)))
    }

    /// An epoll instance that both processes have open comes back as one
    /// instance: its watch is added once, by the parent, and both see it.
    func testFamilySharesEpollInstance() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let (checkpoint, fixture, child) = try checkpointFamily("epoll", dir: dir)
        let epoll = try XCTUnwrap(fixture.int("epoll").map { Int32($0) })
        let event = try XCTUnwrap(fixture.int("event").map { Int32($0) })
        let (parentFiles, childFiles) = (try files(checkpoint.processes[0]), try files(checkpoint.processes[1]))
        XCTAssertNotNil(parentFiles[epoll]?.openFileId)
        XCTAssertEqual(parentFiles[epoll]?.openFileId, childFiles[epoll]?.openFileId)

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        defer { FamilyRestoreTests.killMembers(report) }
        XCTAssertEqual(report.members.map(\.pid), [fixture.pid, child])
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        let adds = trace.lines.filter { $0.contains("EPOLL_CTL_ADD") }
        XCTAssertEqual(adds.count, 1, adds.joined(separator: "\n"))
        XCTAssertTrue(adds.first?.hasPrefix("[pid \(fixture.pid)] epoll_ctl(\(epoll), EPOLL_CTL_ADD, \(event), {EPOLLIN|EPOLLERR|EPOLLHUP, data=0x7}) = 0") ?? false,
                      adds.first ?? "no EPOLL_CTL_ADD")
        XCTAssertFalse(trace.lines.contains { $0.contains("epoll_create1(") }, "a member created its own epoll instance")

        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
    }

    /// A TCP and a unix listener created before fork() come back as one
    /// socket each that both processes have open, where a second bind()
    /// would fail with EADDRINUSE.
    func testFamilySharesListeners() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let (_, fixture, child) = try checkpointFamily("listener", dir: dir)
        let listeners = try ["listener", "unix"].map { try XCTUnwrap(fixture.int($0).map { Int32($0) }, $0) }

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        defer { FamilyRestoreTests.killMembers(report) }
        XCTAssertEqual(report.members.map(\.pid), [fixture.pid, child])
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        XCTAssertFalse(trace.lines.contains { $0.contains("bind(") }, "a member bound its own listener")

        let files = try [fixture.pid, child].map { try FilesKind.collectBPF(pid: $0) }
        for listener in listeners {
            let ids = files.map { list in list.first { $0.fd == listener }?.openFileId }
            XCTAssertNotNil(ids[0] ?? nil, "fd \(listener)")
            XCTAssertEqual(ids[0], ids[1], "fd \(listener)")
        }
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
    }

    /// A FIFO opened before fork() comes back as one description that both
    /// processes have open, with its unread bytes.
    func testFamilySharesFifoDescription() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let (_, fixture, child) = try checkpointFamily("fifo", dir: dir)

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        defer { FamilyRestoreTests.killMembers(report) }
        XCTAssertEqual(report.members.map(\.pid), [fixture.pid, child])
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        XCTAssertFalse(trace.lines.contains { $0.contains("openat(") && $0.contains("/fifo\"") }, "a member opened the FIFO by its path")
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
    }
}
