@testable import BpfcpCore
import XCTest

/// Restores processes with queued signals: the siginfos must come back in
/// queue order with their codes, senders and values, and none may be
/// delivered before the process runs again.
final class PendingSignalRestoreTests: XCTestCase {
    func testQueuedSignalsKeepOrderAndValues() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_signals", arguments: [dir])
        let pid = fixture.pid
        try waitForNullStdout(pid)
        _ = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(), kill: false)
        fixture.stop()
        try RestoredProcess.waitGone(pid)
        let saved = try queuedSignals(imageDirectory: dir + "/image")
        XCTAssertEqual(saved.count, 8, "\(saved)")

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }

        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        XCTAssertEqual(try queuedSignals(pid: report.pid), saved)
        let queued = trace.lines.filter { $0.hasPrefix("rt_sigqueueinfo(") || $0.hasPrefix("rt_tgsigqueueinfo(") }
        XCTAssertEqual(queued.count, 8, queued.joined(separator: "\n"))
        XCTAssertTrue(queued.first?.hasPrefix("rt_sigqueueinfo(\(pid), SIGRTMIN, {si_code=-1, si_pid=\(pid), si_uid=0, si_value=0x64}") == true,
                      queued.first ?? "none")
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
    }

    func testQueuedSignalsWithNewPid() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_signals", arguments: [dir])
        let pid = fixture.pid
        try waitForNullStdout(pid)
        _ = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(), kill: false)
        fixture.stop()
        try RestoredProcess.waitGone(pid)

        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(newPid: true))
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertNotEqual(report.pid, pid)
        let thread = try queuedSignals(pid: report.pid).filter { $0.queue == "thread" }
        XCTAssertEqual(thread.map(\.signal), ["SIGRTMIN+1", "SIGUSR2"])
        XCTAssertEqual(Set(thread.map(\.tid)), [report.pid])
        // The fixture compares the sender with its own saved pid, which is the image's.
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
    }

    func testSecondThreadQueueRestored() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_signals", arguments: [dir, "thread"])
        let pid = fixture.pid
        try waitForNullStdout(pid)
        _ = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(), kill: false)
        fixture.stop()
        try RestoredProcess.waitGone(pid)
        let saved = try queuedSignals(imageDirectory: dir + "/image")
        let other = try XCTUnwrap(saved.first { $0.queue == "thread" && $0.tid != pid }, "\(saved)")
        XCTAssertEqual(other.signal, "SIGRTMIN+2")
        XCTAssertEqual(other.valueInt, 555)

        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        XCTAssertEqual(try queuedSignals(pid: report.pid), saved)
        XCTAssertTrue(trace.lines.contains { $0.hasPrefix("rt_tgsigqueueinfo(\(pid), \(other.tid ?? 0), SIGRTMIN+2,") },
                      "no rt_tgsigqueueinfo for thread \(other.tid ?? 0)")
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
    }

    func testCaseSigpendingRestored() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let program = try FileOutputProgram(executable: try CaseProgram.compile("bc28_sigpending.c"), arguments: [], dir: dir)
        let line = try program.waitOutput()
        XCTAssertTrue(line.hasPrefix("pid \(program.pid) signalfd"), line)
        let pid = program.pid
        try program.checkpointAndStop()
        let saved = try queuedSignals(imageDirectory: dir + "/image")
        XCTAssertEqual(saved.filter { $0.queue == "shared" }.map(\.valueInt), [100, 101, 102, 103, 104, nil])
        XCTAssertEqual(saved.filter { $0.queue == "thread" }.map(\.valueInt), [777])

        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.pid, pid)
        XCTAssertEqual(report.unexpected, [], describeUnexpected(report))
        usleep(100_000)
        let after = try queuedSignals(pid: report.pid)
        XCTAssertEqual(after, saved)
        XCTAssertEqual(after.filter { $0.queue == "shared" }.map(\.signal), ["SIGRTMIN", "SIGRTMIN", "SIGRTMIN", "SIGRTMIN", "SIGRTMIN", "SIGUSR1"])
        let status = ProcFS.keyValues(try ProcFS.readText("/proc/\(report.pid)/status"))
        XCTAssertEqual(status["ShdPnd"], "0000000200000200")
        XCTAssertEqual(status["SigPnd"], "0000000400000000")
        XCTAssertEqual(status["SigBlk"], "0000000600000200")
    }

    func testSignalWithoutSiginfoRejected() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_signals", arguments: [dir])
        let pid = fixture.pid
        try waitForNullStdout(pid)
        _ = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(), kill: false)
        fixture.stop()
        try RestoredProcess.waitGone(pid)

        var checkpoint = try CheckpointImage.open(dir + "/image")
        var image = checkpoint.processes[0]
        let index = try XCTUnwrap(image.sections.firstIndex { $0.kind == "sigqueue" })
        let items = try image.sections[index].items.map { try $0.decode(as: QueuedSignal.self) }.filter { $0.signal != "SIGUSR1" }
        let old = image.sections[index]
        image.sections[index] = Section(kind: old.kind, source: old.source, unavailable: nil, elapsedNs: old.elapsedNs,
                                        items: try items.map { try JSONValue.from($0) }, entries: items.map(PendingSignalsKind.entry))
        checkpoint.processes[0] = image
        try CheckpointImage.write(checkpoint, to: dir + "/altered")

        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/altered", options: RestoreOptions())) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "restore_unsupported")
            XCTAssertTrue("\(error)".contains("SIGUSR1 is pending process-wide without a queued siginfo"), "\(error)")
        }
        XCTAssertEqual(kill(pid, 0), -1, "a process took pid \(pid)")
    }

    private func queuedSignals(imageDirectory: String) throws -> [QueuedSignal] {
        let checkpoint = try CheckpointImage.open(imageDirectory)
        return try checkpoint.processes[0].items("sigqueue", as: QueuedSignal.self)
    }

    private func queuedSignals(pid: Int32) throws -> [QueuedSignal] {
        let dump = try Dumper.dump(pid: pid, source: .bpf, kinds: [KindDescriptor(PendingSignalsKind.self)])
        let section = try XCTUnwrap(dump.sections.first { $0.kind == "sigqueue" })
        return try section.items.map { try $0.decode(as: QueuedSignal.self) }
    }
}
