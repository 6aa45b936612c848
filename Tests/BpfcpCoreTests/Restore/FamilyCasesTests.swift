@testable import BpfcpCore
import XCTest

/// Restores the shared real-world family cases (zombie, stopped children,
/// pidfds, shared pipes with queued bytes) and a shell loop with its children from `--tree` images.
final class FamilyCasesTests: XCTestCase {
    func testZombieChildRestored() throws {
        try requireBPF()
        let (dir, line) = try checkpointCase("bc31_zombie.c", expected: 2)
        let numbers = CaseProgram.numbers(line)
        let (parent, zombie) = (numbers[0], numbers[1])
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        defer { FamilyRestoreTests.killMembers(report) }

        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        XCTAssertEqual(report.members.first { $0.zombie }?.pid, zombie)
        let entry = try XCTUnwrap(ProcessListBPF.collect(pid: zombie).first { $0.pid == zombie })
        XCTAssertEqual(entry.state, .zombie)
        XCTAssertEqual(entry.exitStatus, 3)
        XCTAssertEqual(entry.ppid, parent)
    }

    func testStoppedChildrenKeepStopSignals() throws {
        try requireBPF()
        let (dir, line) = try checkpointCase("bc29_stopped.c", expected: 4)
        let numbers = CaseProgram.numbers(line)
        let parent = numbers[0]
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        defer { FamilyRestoreTests.killMembers(report) }

        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        let restoredParent = try XCTUnwrap(ProcessListBPF.collect(pid: parent).first { $0.pid == parent })
        for (child, signal) in zip(numbers[1...], ["SIGSTOP", "SIGTSTP", "SIGTTIN"]) {
            let settled = CheckpointSupport.waitUntil(5) { Freezer.taskState(child) == "T" }
            XCTAssertTrue(settled, "child \(child) is not stopped")
            let entry = try XCTUnwrap(ProcessListBPF.collect(pid: child).first { $0.pid == child })
            XCTAssertEqual(entry.stopSignal, signal, "child \(child)")
            XCTAssertEqual(entry.ppid, parent, "child \(child)")
            XCTAssertEqual(entry.pgid, child, "child \(child)")
            XCTAssertEqual(entry.sid, restoredParent.sid, "child \(child)")
        }
    }

    func testPidfdPointsAtRestoredChild() throws {
        try requireBPF()
        let (dir, line) = try checkpointCase("bc42_pidfd.c", expected: 5)
        let numbers = CaseProgram.numbers(line)
        let (parent, live, liveFd, deadFd) = (numbers[0], numbers[1], numbers[2], numbers[4])
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        defer { FamilyRestoreTests.killMembers(report) }

        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        XCTAssertEqual(try Self.pidfdTarget(parent, fd: liveFd), "\(live)")
        XCTAssertEqual(try Self.pidfdTarget(parent, fd: deadFd), "-1")
        XCTAssertEqual(ProcFS.readLink("/proc/\(parent)/fd/\(liveFd)").map { String(decoding: $0, as: UTF8.self) }, "anon_inode:[pidfd]")
    }

    func testSharedPipesKeepCapacityAndBytes() throws {
        try requireBPF()
        let (dir, line) = try checkpointCase("bc14_pipe.c", expected: 3)
        let numbers = CaseProgram.numbers(line)
        let (parent, child) = (numbers[0], numbers[1])
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        defer { FamilyRestoreTests.killMembers(report) }

        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        let parentEnds = try PipesKind.collectBPF(pid: parent)
        let childEnds = try PipesKind.collectBPF(pid: child)
        let big = try XCTUnwrap(parentEnds.first { $0.capacity == 1 << 20 }, "no 1 MiB pipe in the parent: \(parentEnds)")
        let data = try XCTUnwrap(parentEnds.first { $0.capacity == 65536 }, "no 64 KiB pipe in the parent: \(parentEnds)")
        XCTAssertEqual(big.end, "write")
        XCTAssertEqual(Set(parentEnds.filter { $0.identity == data.identity }.map(\.end)), ["read", "write"])
        XCTAssertEqual(data.queued, 42)
        XCTAssertEqual(Set(childEnds.map(\.identity)), [big.identity, data.identity], "the child holds other pipes")
        XCTAssertEqual(Set(childEnds.map(\.end)), ["read"])
        XCTAssertEqual(childEnds.first { $0.identity == data.identity }?.queued, 42)
    }

    func testShellLoopKeepsCounting() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let counter = dir + "/counter"
        let script = "exec </dev/null 2>/dev/null; echo READY pid=$$; exec >/dev/null; i=0; while :; do i=$((i+1)); echo $i > \(counter); sleep 0.05; done"
        let fixture = try Fixture(executable: try Fixture.compile("exec_clean"), arguments: ["/bin/bash", "-c", script])
        let pid = fixture.pid
        defer { fixture.stop() }
        XCTAssertTrue(CheckpointSupport.waitUntil(5) { Self.count(counter) > 3 }, "the loop does not count")

        let checkpoint = try Self.dumpBetweenSleeps(pid, to: dir + "/image")
        kill(-pid, SIGKILL)
        let saved = Self.count(counter)
        let members = checkpoint.processes.map(\.pid)

        // The loop may have forked one more sleep, which keeps the fixture's
        // process group, and so the pid number, in use until it is reaped.
        let emptied = CheckpointSupport.waitUntil(30) {
            kill(-pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, WNOHANG)
            return members.allSatisfy { kill($0, 0) != 0 } && kill(-pid, 0) != 0
        }
        XCTAssertTrue(emptied, "the fixture's process group \(pid) is not empty")

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        XCTAssertTrue(trace.lines.contains { $0.contains("rt_sigaction(SIGTSTP, {SIG_DFL") }, "SIGTSTP keeps SIG_DFL with its flags")
        defer { FamilyRestoreTests.killMembers(report) }
        XCTAssertEqual(report.pid, pid)
        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        XCTAssertTrue(CheckpointSupport.waitUntil(5) { Self.count(counter) > saved + 3 }, "the restored loop stays at \(Self.count(counter)), saved \(saved)")
        XCTAssertLessThan(Self.count(counter), saved + 1000, "the restored loop did not continue from \(saved)")
    }

    /// Starts a shared case with its stdio on a file and without the fds the
    /// test runner leaked, so that no fd leads to the test. Waits for its
    /// first line with at least `expected` numbers, checkpoints it with its
    /// descendants to DIR/image and kills every member by pid.
    private func checkpointCase(_ file: String, expected: Int) throws -> (String, String) {
        let dir = try RestoredProcess.makeDirectory()
        let output = dir + "/output"
        let binary = try CaseProgram.compile(file)
        let launcher = try Fixture.compile("exec_clean")
        let fixture = try Fixture(executable: "/bin/sh", arguments: ["-c", "cd \(dir) && \(launcher) \(binary) >\(output) 2>&1 </dev/null & echo READY pid=$!; wait"])
        defer { fixture.stop() }
        let pid = try XCTUnwrap(fixture.int("pid").map { Int32($0) })
        var line = ""
        _ = CheckpointSupport.waitUntil(10) {
            line = (try? String(contentsOfFile: output, encoding: .utf8))?.split(separator: "\n").first.map(String.init) ?? ""
            return CaseProgram.numbers(line).count >= expected
        }
        guard CaseProgram.numbers(line).count >= expected else { throw FixtureError("\(file) printed '\(line)'") }
        usleep(100_000)

        let checkpoint = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(tree: true), kill: false)
        let members = checkpoint.processes.map(\.pid)
        for member in members.reversed() { kill(member, SIGKILL) }
        fixture.stop()
        for member in members where !FamilyRestoreTests.waitGone(member) {
            throw FixtureError("process \(member) of \(file) still exists after it was killed")
        }
        return (dir, line)
    }

    private static func pidfdTarget(_ pid: Int32, fd: Int32) throws -> String? {
        let text = try ProcFS.readText("/proc/\(pid)/fdinfo/\(fd)")
        return ProcFS.keyValues(text)["Pid"]
    }

    /// Checkpoints the loop with its children. A capture that a sleep
    /// ended during (its child exited), or that finds the loop's SIGCHLD still
    /// pending, is taken again, because restore cannot queue a CLD_EXITED
    /// siginfo again.
    private static func dumpBetweenSleeps(_ pid: Int32, to image: String) throws -> Checkpoint {
        for _ in 0..<10 {
            try? FileManager.default.removeItem(atPath: image)
            do {
                let checkpoint = try Checkpointer.dump(pid: pid, to: image, options: CaptureOptions(tree: true), kill: false)
                if try !sigchldPending(checkpoint) { return checkpoint }
            } catch let error as BpfcpError where error.code == "process_exited" {
                continue
            }
        }
        throw FixtureError("every capture of the shell loop \(pid) caught a sleep exiting")
    }

    private static func sigchldPending(_ checkpoint: Checkpoint) throws -> Bool {
        try checkpoint.processes.contains { image in
            try image.items("sigqueue", as: QueuedSignal.self).contains { $0.signal == "SIGCHLD" }
        }
    }

    private static func count(_ path: String) -> Int {
        Int(((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }
}
