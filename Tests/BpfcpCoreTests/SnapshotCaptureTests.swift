@testable import BpfcpCore
import Foundation
import XCTest

/// Checkpoints through a copy-on-write snapshot (`Snapshot`) and through
/// its fallback, against snapshot_target, whose counter thread keeps
/// writing while its other threads block in read() and nanosleep().
final class SnapshotCaptureTests: XCTestCase {
    /// The fixture's state, read through /proc/PID/mem.
    private struct Observed: Equatable {
        var signals: [Int64]
        var readCalls: Int64
        var readErrors: Int64
        var naps: Int64
        var sleepErrors: Int64
    }

    func testSnapshotWhileMainThreadReads() throws {
        try checkpointAndVerify(main: "read", mode: "plain", source: "snapshot", fallback: nil)
    }

    func testSnapshotWhileMainThreadSleeps() throws {
        try checkpointAndVerify(main: "sleep", mode: "plain", source: "snapshot", fallback: nil)
    }

    func testSeccompFilterFallsBackToHeldCopy() throws {
        try checkpointAndVerify(main: "read", mode: "seccomp", source: "held",
                                fallback: "every thread has a seccomp filter")
    }

    func testFailedCloneFallsBackToHeldCopy() throws {
        try checkpointAndVerify(main: "sleep", mode: "nproc", source: "held",
                                fallback: "clone in thread ")
    }

    func testSnapshotTurnedOff() throws {
        try requireBPF()
        let fixture = try Fixture(c: "snapshot_target", arguments: ["read", "plain"])
        try waitBlocked(fixture.pid)
        let checkpoint = try Checkpointer.capture(pid: fixture.pid, options: CaptureOptions(snapshot: false))
        XCTAssertEqual(checkpoint.info.stats.memorySource, "held")
        XCTAssertEqual(checkpoint.info.stats.snapshotFallback, "process \(fixture.pid): turned off")
        XCTAssertNil(checkpoint.info.stats.reapNs)
        try assertCounterAsHeld(checkpoint, fixture)
    }

    // MARK: - the common check

    private func checkpointAndVerify(main: String, mode: String, source: String, fallback: String?,
                                     file: StaticString = #filePath, line: UInt = #line) throws {
        try requireBPF()
        let fixture = try Fixture(c: "snapshot_target", arguments: [main, mode])
        try waitBlocked(fixture.pid)
        let before = try observe(fixture)
        XCTAssertEqual(children(of: fixture.pid), [], "the fixture starts without children", file: file, line: line)

        let checkpoint = try Checkpointer.capture(pid: fixture.pid)
        let stats = checkpoint.info.stats
        XCTAssertEqual(stats.memorySource, source, file: file, line: line)
        if let fallback {
            let reason = try XCTUnwrap(stats.snapshotFallback, file: file, line: line)
            XCTAssertTrue(reason.hasPrefix("process \(fixture.pid): " + fallback), reason, file: file, line: line)
        } else {
            XCTAssertNil(stats.snapshotFallback, file: file, line: line)
            XCTAssertNotNil(stats.reapNs, file: file, line: line)
        }

        // Released: no thread is traced, and the copy left no child, zombie or stopped process behind.
        let untraced = CheckpointSupport.waitUntil(5) { CheckpointSupport.threadStates(fixture.pid).allSatisfy { $0.tracer == 0 } }
        XCTAssertTrue(untraced, "\(CheckpointSupport.threadStates(fixture.pid))", file: file, line: line)
        XCTAssertEqual(children(of: fixture.pid), [], "children after the checkpoint", file: file, line: line)

        try assertCounterAsHeld(checkpoint, fixture, file: file, line: line)
        try assertNoCodeSaved(checkpoint, fixture, file: file, line: line)
        try assertBlockedCallsComplete(fixture, before: before, file: file, line: line)
    }

    /// The counter page in the image holds exactly the value the counter
    /// thread's held registers imply, although the thread went on counting
    /// as soon as it was released.
    private func assertCounterAsHeld(_ checkpoint: Checkpoint, _ fixture: Fixture,
                                     file: StaticString = #filePath, line: UInt = #line) throws {
        let image = try XCTUnwrap(checkpoint.process(fixture.pid))
        let counter = UInt64(try XCTUnwrap(fixture.values["counter"]))!
        let store = UInt64(try XCTUnwrap(fixture.values["store"]))!
        let saved = try CheckpointSupport.savedBytes(checkpoint, image, address: counter, count: 8)
            .withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }

        // The counter thread is the one whose rip lies in the three-instruction loop around the store.
        let counting = try XCTUnwrap(image.threads.first { thread in
            let rip = thread.registers["rip"] ?? 0
            return rip >= store - 4 && rip <= store + 5
        }, "no held thread was in the counting loop", file: file, line: line)
        let rbx = try XCTUnwrap(counting.registers["rbx"])
        let expected = counting.registers["rip"] == store ? rbx - 1 : rbx
        XCTAssertEqual(saved, expected, "saved counter against the held rbx \(rbx)", file: file, line: line)
        XCTAssertGreaterThan(rbx, 0, file: file, line: line)
        let live = try readWords(fixture.pid, at: counter, count: 1)[0]
        XCTAssertGreaterThan(live, saved, "the counter runs on after the release", file: file, line: line)
    }

    /// No page of an executable file mapping (the fixture's code, libc) is saved as written.
    private func assertNoCodeSaved(_ checkpoint: Checkpoint, _ fixture: Fixture,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let image = try XCTUnwrap(checkpoint.process(fixture.pid))
        let code = image.memory.filter { $0.area.permissions.contains("x") && $0.area.inode != 0 }
        XCTAssertFalse(code.isEmpty, file: file, line: line)
        for area in code {
            XCTAssertEqual(area.runs, [], "saved pages in \(area.area.path)", file: file, line: line)
        }
    }

    /// No signal arrived, and the blocked read() and nanosleep() resume as if nothing happened.
    private func assertBlockedCallsComplete(_ fixture: Fixture, before: Observed,
                                            file: StaticString = #filePath, line: UInt = #line) throws {
        let pipe = try XCTUnwrap(fixture.values["pipe"])
        let writer = open("/proc/\(fixture.pid)/fd/\(pipe)", O_WRONLY | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(writer, 0, file: file, line: line)
        XCTAssertEqual(write(writer, "abcdefgh", 8), 8, file: file, line: line)
        close(writer)

        var after = try observe(fixture)
        _ = CheckpointSupport.waitUntil(10) {
            after = (try? observe(fixture)) ?? after
            return after.readCalls > before.readCalls && after.naps > before.naps
        }
        XCTAssertEqual(after.signals, before.signals, "signals received", file: file, line: line)
        XCTAssertEqual(after.readCalls, before.readCalls + 1, file: file, line: line)
        XCTAssertEqual(after.readErrors, before.readErrors, file: file, line: line)
        XCTAssertGreaterThan(after.naps, before.naps, file: file, line: line)
        XCTAssertEqual(after.sleepErrors, before.sleepErrors, "nanosleep failed (EINTR) after the checkpoint", file: file, line: line)
        let reader = UInt64(try XCTUnwrap(fixture.values["reader"]))!
        let words = try readWords(fixture.pid, at: reader, count: 5)
        XCTAssertEqual(Int64(bitPattern: words[1]), 8, "read() result", file: file, line: line)
        XCTAssertEqual(withUnsafeBytes(of: words[3]) { Array($0) }, Array("abcdefgh".utf8), file: file, line: line)
    }

    /// SIGKILL of bpfcp while it reads a snapshot copy: the target runs on
    /// untraced, the copy dies with its tracer, and nothing is left behind.
    func testDumperKilledWhileReadingCopy() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["512", "1"])
        let dir = try CheckpointSupport.scratchDirectory("snapshot-kill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bpfcp = Process()
        bpfcp.executableURL = URL(fileURLWithPath: try CheckpointSupport.bpfcpBinary())
        bpfcp.arguments = ["dump", "\(fixture.pid)", "-D", dir + "/image"]
        bpfcp.standardOutput = FileHandle.nullDevice
        bpfcp.standardError = FileHandle.nullDevice
        try bpfcp.run()

        // The copy is the fixture's only child, and it lives until its 512 MiB are read.
        let copied = CheckpointSupport.waitUntil(60) {
            !children(of: fixture.pid).isEmpty && (Freezer.tracerPid(of: fixture.pid) ?? -1) == 0
        }
        let copy = children(of: fixture.pid).first
        kill(bpfcp.processIdentifier, SIGKILL)
        bpfcp.waitUntilExit()
        XCTAssertTrue(copied, "bpfcp never released the fixture while a copy existed")
        CheckpointSupport.assertReleased(fixture.pid)
        let copyPid = try XCTUnwrap(copy)
        // The guardian has the fixture reap the copy that PTRACE_O_EXITKILL killed.
        let reaped = CheckpointSupport.waitUntil(10) { Freezer.taskState(copyPid) == nil && children(of: fixture.pid).isEmpty }
        XCTAssertTrue(reaped, "the copy \(copyPid) is \(Freezer.taskState(copyPid) ?? "gone"), children \(children(of: fixture.pid))")
        CheckpointSupport.assertReleased(fixture.pid)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/image"))
    }

    // MARK: - helpers

    private func observe(_ fixture: Fixture) throws -> Observed {
        let signals = UInt64(fixture.values["signals"] ?? "0")!
        let reader = UInt64(fixture.values["reader"] ?? "0")!
        let sleeper = UInt64(fixture.values["sleeper"] ?? "0")!
        let counts = try readWords(fixture.pid, at: signals, count: 32).map { Int64(bitPattern: $0) }
        let read = try readWords(fixture.pid, at: reader, count: 3).map { Int64(bitPattern: $0) }
        let sleep = try readWords(fixture.pid, at: sleeper, count: 2).map { Int64(bitPattern: $0) }
        return Observed(signals: counts, readCalls: read[0], readErrors: read[2], naps: sleep[0], sleepErrors: sleep[1])
    }

    private func readWords(_ pid: Int32, at address: UInt64, count: Int) throws -> [UInt64] {
        let fd = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FixtureError("opening /proc/\(pid)/mem: errno \(errno)") }
        defer { close(fd) }
        var words = [UInt64](repeating: 0, count: count)
        let n = words.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count * 8, off_t(address)) }
        guard n == count * 8 else { throw FixtureError("reading \(count * 8) bytes of \(pid) at \(address): \(n)") }
        return words
    }

    /// Children of every thread of `pid`, zombies included.
    private func children(of pid: Int32) -> [Int32] {
        Checkpointer.children(of: pid)
    }

    /// Waits until two threads of the fixture block in read() and nanosleep().
    private func waitBlocked(_ pid: Int32) throws {
        let blocked = CheckpointSupport.waitUntil(10) {
            let calls = Freezer.taskIds(pid).compactMap { tid in
                (try? ProcFS.readText("/proc/\(pid)/task/\(tid)/syscall"))?.split(separator: " ").first.map(String.init)
            }
            return calls.contains("0") && (calls.contains("35") || calls.contains("230"))
        }
        guard blocked else { throw FixtureError("fixture \(pid) never blocked in read() and nanosleep()") }
    }
}
