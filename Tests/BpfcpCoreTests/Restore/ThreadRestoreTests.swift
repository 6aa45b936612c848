@testable import BpfcpCore
import XCTest

/// Checkpoints the multi-threaded restore_threads fixture, restores it and
/// lets it check itself: every worker keeps counting with its own tid,
/// name, signal mask, TLS base and xmm8, and pthread_join still works.
final class ThreadRestoreTests: XCTestCase {
    static let workers = 4

    func testThreadsKeepCountingSameTids() throws {
        try requireBPF()
        let (dir, pid, saved) = try checkpointThreads()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }

        XCTAssertEqual(report.pid, pid)
        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        let first = try answer(dir)
        XCTAssertEqual(first.tids, saved.tids, "the workers did not get their tids back")
        for i in 0..<Self.workers {
            XCTAssertGreaterThanOrEqual(first.counters[i], saved.counters[i], "worker \(i) started again from a lower count")
        }
        let second = try answer(dir)
        for i in 0..<Self.workers {
            XCTAssertGreaterThan(second.counters[i], first.counters[i], "worker \(i) stopped counting")
        }

        let tasks = Set(Freezer.taskIds(report.pid))
        XCTAssertEqual(tasks.count, Self.workers + 2, "\(tasks.sorted())")
        for (i, tid) in saved.tids.enumerated() {
            XCTAssertTrue(tasks.contains(tid), "thread \(tid) missing")
            let comm = try ProcFS.readText("/proc/\(report.pid)/task/\(tid)/comm")
            XCTAssertEqual(comm, "worker-\(i)\n")
        }

        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/join", contents: Data()))
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        XCTAssertEqual(Freezer.taskIds(report.pid).count, Self.workers + 1, "the joined thread is still listed")
    }

    func testThreadsWithNewPid() throws {
        try requireBPF()
        let (dir, pid, saved) = try checkpointThreads()
        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(newPid: true, trace: trace.append))
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }

        XCTAssertNotEqual(report.pid, pid)
        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        XCTAssertEqual(trace.lines.filter { $0.hasPrefix("clone3({flags=CLONE_VM") && $0.contains("set_tid=none") }.count,
                       Self.workers + 1)
        let first = try answer(dir)
        XCTAssertTrue(Set(first.tids).isDisjoint(with: saved.tids), "new tids \(first.tids), saved \(saved.tids)")
        let second = try answer(dir)
        for i in 0..<Self.workers {
            XCTAssertGreaterThan(second.counters[i], first.counters[i], "worker \(i) stopped counting")
        }
        XCTAssertTrue(FileManager.default.createFile(atPath: dir + "/join", contents: Data()))
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
    }

    func testTakenThreadIdRejected() throws {
        try requireBPF()
        let (dir, pid, saved) = try checkpointThreads()
        let taken = saved.tids[2]
        let holder = try Self.holdPid(taken)
        defer { holder.kill() }

        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "pid_in_use")
            XCTAssertTrue("\(error)".contains("thread id \(taken) of process \(pid) is in use"), "\(error)")
        }
        XCTAssertEqual(kill(pid, 0), -1, "a process took pid \(pid)")
    }

    /// Creates a stopped child with pid `pid`, so that restore finds it taken.
    /// The kernel frees the tid of an exited thread a moment after its
    /// process can be reaped, so clone3 is tried again for up to 2 s.
    static func holdPid(_ pid: Int32) throws -> Tracee {
        let own = try MemoryProc.collect(pid: getpid()).map { ($0.start, $0.end) }
        let size = Injector.trampolineSize(payload: 4096)
        let trampoline = try MemoryRestore.findGap(size: size, avoiding: own)
        var lastError: Error?
        for _ in 0..<100 {
            do {
                return try Tracee(pid: pid, trampoline: trampoline, trampolineSize: size)
            } catch let error as BpfcpError where error.code == "pid_in_use" {
                lastError = error
                usleep(20_000)
            }
        }
        throw lastError ?? FixtureError("pid \(pid) stayed in use")
    }

    /// Starts the fixture with `workers` workers, requests one check, checkpoints
    /// it to DIR/image and kills it. Returns the directory, the pid and the
    /// counters and tids of that check.
    private func checkpointThreads() throws -> (String, Int32, (counters: [UInt64], tids: [Int32])) {
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_threads", arguments: [dir, "\(Self.workers)"])
        let pid = fixture.pid
        let saved = try answer(dir)
        _ = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(), kill: false)
        fixture.stop()
        try RestoredProcess.waitGone(pid)
        return (dir, pid, saved)
    }

    /// Asks the fixture to check itself and parses "pass C0 C1 ... tids T0 T1 ...".
    private func answer(_ dir: String) throws -> (counters: [UInt64], tids: [Int32]) {
        let verdict = try RestoredProcess.ask(dir: dir)
        guard verdict == "pass" else { throw FixtureError("restore_threads answered: \(verdict)") }
        let words = try String(contentsOfFile: dir + "/result", encoding: .utf8).split(whereSeparator: \.isWhitespace)
        guard let split = words.firstIndex(of: "tids") else { throw FixtureError("no tids in \(words)") }
        return (words[1..<split].compactMap { UInt64($0) }, words[(split + 1)...].compactMap { Int32($0) })
    }
}
