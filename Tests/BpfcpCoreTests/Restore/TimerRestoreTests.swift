@testable import BpfcpCore
import XCTest

/// Checkpoints restore_timers with --kill and restores it. Its POSIX timers
/// must come back with their ids, clocks, signals, values and times, with
/// ITIMER_REAL, nice, policy and personality, and the fixture checks them
/// itself on SIGUSR1. An ITIMER_REAL stopped by a pending SIGALRM must run
/// again once SIGALRM is taken. Timers whose time left the image lacks are rejected.
final class TimerRestoreTests: XCTestCase {
    private static let second: UInt64 = 1_000_000_000

    func testTimersAndSchedulingRestored() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let (checkpoint, ids, worker) = try checkpointTimers(dir: dir)
        let saved = try XCTUnwrap(checkpoint.processes.first).items("timers", as: TimerInfo.self)
        let posix = saved.filter { $0.id != nil }
        XCTAssertEqual(posix.map(\.id), ids.map { Optional($0) })
        XCTAssertEqual(posix.map(\.intervalNs), [7 * Self.second, 11 * Self.second, 13 * Self.second])
        XCTAssertEqual(posix.map(\.armed), [true, true, true])
        XCTAssertEqual(posix.map(\.targetPid)[1], worker)

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.pid, checkpoint.info.rootPid)
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        XCTAssertEqual(report.lowered, [])

        let lines = trace.lines
        for expected in ["setpriority(PRIO_PROCESS, 0, 5) = 0", "sched_setscheduler(0, SCHED_BATCH, {sched_priority=0}) = 0",
                         "personality(PER_LINUX|ADDR_NO_RANDOMIZE) = 0",
                         "prctl(PR_TIMER_CREATE_RESTORE_IDS, PR_TIMER_CREATE_RESTORE_IDS_ON) = 0",
                         "timer_create(CLOCK_MONOTONIC, {sigev_value=0xabc123, sigev_signo=SIGRTMIN+3, sigev_notify=SIGEV_SIGNAL}, [\(ids[0])]) = 0",
                         "timer_create(CLOCK_MONOTONIC, {sigev_value=0x5150, sigev_signo=SIGRTMIN+4, sigev_notify=SIGEV_THREAD_ID, sigev_notify_thread_id=\(worker)}, [\(ids[1])]) = 0",
                         "timer_create(CLOCK_BOOTTIME, {sigev_value=0x77, sigev_signo=0, sigev_notify=SIGEV_NONE}, [\(ids[2])]) = 0"] {
            XCTAssertTrue(lines.contains(expected), "no \(expected) in the trace")
        }
        XCTAssertTrue(lines.contains { $0.hasPrefix("setitimer(ITIMER_REAL, {it_interval=250000000 µs, it_value=") }, "no setitimer in the trace")

        let now = try TimersKind.collectBPF(pid: report.pid)
        for timer in saved where timer.armed {
            let after = try XCTUnwrap(now.first { $0.name == timer.name }, timer.name)
            XCTAssertEqual(after.intervalNs, timer.intervalNs, timer.name)
            XCTAssertLessThanOrEqual(try XCTUnwrap(after.remainingNs), try XCTUnwrap(timer.remainingNs), timer.name)
        }
        XCTAssertEqual(try QueueFixture.ask(dir: dir, pid: report.pid), "pass")
    }

    func testThreadTimerFollowsNewPid() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let (checkpoint, ids, worker) = try checkpointTimers(dir: dir)

        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(newPid: true))
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertNotEqual(report.pid, checkpoint.info.rootPid)
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        let tids = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(report.pid)/task").compactMap { Int32($0) }
        let newWorker = try XCTUnwrap(tids.first { $0 != report.pid })
        XCTAssertNotEqual(newWorker, worker)
        let timers = try TimersKind.collectProc(pid: report.pid)
        XCTAssertEqual(timers.map(\.id), ids.map { Optional($0) })
        XCTAssertEqual(timers.map(\.targetPid), [report.pid, newWorker, report.pid])
    }

    func testStoppedAlarmRestartsAfterRestore() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let (checkpoint, _, _) = try checkpointTimers(dir: dir, mode: "alarm")
        let image = try XCTUnwrap(checkpoint.processes.first)
        let real = try XCTUnwrap(try image.items("timers", as: TimerInfo.self).first { $0.name == "ITIMER_REAL" })
        XCTAssertFalse(real.armed)
        XCTAssertEqual(real.intervalNs, 200_000_000)
        XCTAssertEqual(try image.items("sigqueue", as: QueuedSignal.self).map(\.signal), ["SIGALRM"])

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        let setitimer = "setitimer(ITIMER_REAL, {it_interval=200000 µs, it_value=1 µs}, NULL) = 0"
        XCTAssertTrue(trace.lines.contains(setitimer), "no \(setitimer) in the trace")
        XCTAssertEqual(try QueueFixture.ask(dir: dir, pid: report.pid), "pass")
    }

    func testExpiryBeforeVerifyExpected() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let (_, ids, _) = try checkpointTimers(dir: dir)
        try alterTimers(dir) { timers in
            let index = try XCTUnwrap(timers.firstIndex { $0.id == ids[0] })
            timers[index].remainingNs = 1000
        }

        let report = try Restore.run(imageDirectory: dir + "/altered", options: RestoreOptions())
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        let expired = report.differences.filter { $0.reason == TimerDifferences.expiredReason }
        XCTAssertEqual(expired.map(\.kind).sorted(), ["signals", "sigqueue", "timers", "timers"], "\(expired)")
        let queued = try XCTUnwrap(expired.first { $0.kind == "sigqueue" })
        XCTAssertTrue(queued.summary.contains("SIGRTMIN+3 SI_TIMER"), queued.summary)
        XCTAssertEqual(Set(expired.filter { $0.kind == "timers" }.map(\.key)), ["posix timer \(ids[0])"])
    }

    func testArmedCPUTimeTimerRejected() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_timers", arguments: [dir, "cpu"])
        try QueueFixture.waitStdioNull(fixture.pid)
        let reason = "its ITIMER_VIRTUAL timer is armed, and the image records the CPU time at which it expires but not the CPU time the process had used"

        XCTAssertThrowsError(try Checkpointer.dump(pid: fixture.pid, to: dir + "/image", options: CaptureOptions(), kill: true)) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "not_killed")
            XCTAssertTrue("\(error)".contains(reason), "\(error)")
        }
        XCTAssertEqual(kill(fixture.pid, 0), 0, "dump --kill ended a process restore rejects")
        fixture.stop()
        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "restore_unsupported")
            XCTAssertTrue("\(error)".contains(reason), "\(error)")
        }
    }

    func testPendingTimerSignalRejected() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_timers", arguments: [dir, "pending"])
        let timer = try XCTUnwrap(fixture.values["timers"]?.split(separator: ",").first)
        try QueueFixture.waitStdioNull(fixture.pid)
        _ = try Checkpointer.dump(pid: fixture.pid, to: dir + "/image", options: CaptureOptions(), kill: false)
        fixture.stop()

        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "restore_unsupported")
            XCTAssertTrue("\(error)".contains("SIGRTMIN+3 from POSIX timer \(timer) is pending"), "\(error)")
        }
    }

    func testKernelWithoutRestoreIdsRejected() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_timers", arguments: [dir])
        try QueueFixture.waitStdioNull(fixture.pid)
        let checkpoint = try Checkpointer.dump(pid: fixture.pid, to: dir + "/image", options: CaptureOptions(), kill: false)
        fixture.stop()
        let image = try XCTUnwrap(checkpoint.processes.first)

        XCTAssertTrue(TimerPlanner.kernelRestoresIds(), "this kernel lacks PR_TIMER_CREATE_RESTORE_IDS")
        XCTAssertThrowsError(try TimerPlanner.plan(image, restorer: try RestorerLimits.current(), restoresIds: { false })) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "restore_unsupported")
            XCTAssertTrue("\(error)".contains("it has 3 POSIX timers, and this kernel lacks prctl(PR_TIMER_CREATE_RESTORE_IDS)"), "\(error)")
        }
    }

    func testPersonalityTextRoundTrips() {
        for value: UInt32 in [0, 0x0040000, 0x0040000 | 0x0400000, 0x08, 0x0f | 0x2000000, 0x12, 0x1000_0000] {
            XCTAssertEqual(SchedulingPlanner.personality(ContextNames.personality(value)), value, ContextNames.personality(value))
        }
        XCTAssertNil(SchedulingPlanner.personality("PER_LINUX|NO_SUCH_FLAG"))
    }

    func testCPUListParses() {
        XCTAssertEqual(SchedulingPlanner.cpuList("0-3,6"), [0, 1, 2, 3, 6])
        XCTAssertEqual(SchedulingPlanner.cpuList("1"), [1])
        XCTAssertNil(SchedulingPlanner.cpuList("3-1"))
        XCTAssertNil(SchedulingPlanner.cpuList("a"))
        XCTAssertEqual(ContextNames.cpuList(SchedulingPlanner.mask([0, 1, 2, 3, 6, 70])), "0-3,6,70")
    }

    /// Writes DIR/altered: the image with its timers items changed by `change`.
    private func alterTimers(_ dir: String, _ change: (inout [TimerInfo]) throws -> Void) throws {
        var checkpoint = try CheckpointImage.open(dir + "/image")
        var image = checkpoint.processes[0]
        let index = try XCTUnwrap(image.sections.firstIndex { $0.kind == "timers" })
        var timers = try image.sections[index].items.map { try $0.decode(as: TimerInfo.self) }
        try change(&timers)
        let old = image.sections[index]
        image.sections[index] = Section(kind: old.kind, source: old.source, unavailable: nil, elapsedNs: old.elapsedNs,
                                        items: try timers.map { try JSONValue.from($0) }, entries: timers.map(TimersKind.entry))
        checkpoint.processes[0] = image
        try CheckpointImage.write(checkpoint, to: dir + "/altered")
    }

    /// Starts restore_timers in DIR and `mode`, checkpoints it to DIR/image with --kill, and
    /// returns the image, the ids of timers A, B and C, and the tid of the thread B signals.
    private func checkpointTimers(dir: String, mode: String? = nil) throws -> (Checkpoint, [Int32], Int32) {
        let fixture = try Fixture(c: "restore_timers", arguments: [dir] + (mode.map { [$0] } ?? []))
        let pid = fixture.pid
        let ids = (fixture.values["timers"] ?? "").split(separator: ",").compactMap { Int32($0) }
        let worker = Int32(try XCTUnwrap(fixture.int("worker")))
        XCTAssertEqual(ids.count, 3)
        try QueueFixture.waitStdioNull(pid)
        let checkpoint = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(), kill: true)
        try RestoredProcess.waitGone(pid)
        fixture.stop()
        return (checkpoint, ids, worker)
    }
}
