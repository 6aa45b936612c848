@testable import BpfcpCore
import XCTest

/// Checkpoints restore_settings, restores it, and lets it check its cwd,
/// umask, limits, credentials or root directory; verify must agree.
final class SettingsRestoreTests: XCTestCase {
    func testCwdUmaskLimitsCredentials() throws {
        try requireBPF()
        let dir = try checkpointSettings("settings")
        let trace = TraceLines()
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }

        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        XCTAssertEqual(report.lowered, [])
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        XCTAssertTrue(trace.lines.contains { $0.hasPrefix("setresuid(2001, 2002, 2003)") }, "no setresuid in the trace")
        XCTAssertTrue(trace.lines.contains { $0.hasPrefix("prlimit64(0, RLIMIT_NOFILE, {rlim_cur=512, rlim_max=4096}") })

        let status = ProcFS.keyValues(try ProcFS.readText("/proc/\(report.pid)/status"))
        XCTAssertEqual(status["Uid"], "2001\t2002\t2003\t2002")
        XCTAssertEqual(status["Gid"], "1001\t1002\t1003\t1002")
        XCTAssertEqual(status["Groups"], "1234 5678")
        XCTAssertEqual(status["CapAmb"], "0000000000000400")
        XCTAssertEqual(status["Umask"], "0027")
        XCTAssertEqual(ProcFS.readLink("/proc/\(report.pid)/cwd"), Array((dir + "/sub").utf8))
    }

    func testChrootRestored() throws {
        try requireBPF()
        let dir = try checkpointSettings("chroot")
        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }

        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        XCTAssertEqual(ProcFS.readLink("/proc/\(report.pid)/root"), Array(dir.utf8))
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
    }

    func testMissingRootRejected() throws {
        try requireBPF()
        let dir = try checkpointSettings("chroot")
        let moved = dir + "-moved"
        try FileManager.default.moveItem(atPath: dir, toPath: moved)
        defer { try? FileManager.default.removeItem(atPath: moved) }

        XCTAssertThrowsError(try Restore.run(imageDirectory: moved + "/image", options: RestoreOptions())) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "restore_unsupported")
            XCTAssertTrue("\(error)".contains("its root directory \(dir) is missing"), "\(error)")
        }
    }

    func testSeccompRejected() throws {
        try requireBPF()
        let dir = try checkpointSettings("seccomp")
        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "restore_unsupported")
            XCTAssertTrue("\(error)".contains("it runs under seccomp (filter, 1 filters)"), "\(error)")
        }
    }

    func testHardLimitAboveRestorerLowered() throws {
        try requireBPF()
        let dir = try checkpointSettings("settings")
        var own = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &own)
        let above = UInt64(own.rlim_max) + 1000
        try alterImage(dir) { limits in
            let index = try XCTUnwrap(limits.firstIndex { $0.resource == "RLIMIT_NOFILE" })
            limits[index].hard = "\(above)"
        }

        let report = try Restore.run(imageDirectory: dir + "/altered", options: RestoreOptions())
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.lowered.count, 1, "\(report.lowered)")
        XCTAssertTrue(report.lowered.first?.hasPrefix("RLIMIT_NOFILE hard limit \(above) lowered to \(own.rlim_max)") == true, "\(report.lowered)")
        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        let difference = report.differences.first { $0.kind == "limits" && $0.key == "RLIMIT_NOFILE" }
        XCTAssertEqual(difference?.summary, "hard \(above) → \(own.rlim_max)")
        XCTAssertEqual(difference?.expected, true)
        // The fixture still has the soft limit it set, under the lowered hard one.
        XCTAssertTrue(try ProcFS.readText("/proc/\(report.pid)/limits").contains("Max open files            512                  \(own.rlim_max)"))
    }

    /// Starts restore_settings in MODE, checkpoints it to DIR/image and kills it.
    private func checkpointSettings(_ mode: String) throws -> String {
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_settings", arguments: [dir, mode])
        let pid = fixture.pid
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        _ = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(), kill: false)
        fixture.stop()
        try RestoredProcess.waitGone(pid)
        return dir
    }

    /// Writes DIR/altered: the image with its limits items changed by `change`.
    private func alterImage(_ dir: String, _ change: (inout [ResourceLimit]) throws -> Void) throws {
        var checkpoint = try CheckpointImage.open(dir + "/image")
        var image = checkpoint.processes[0]
        let index = try XCTUnwrap(image.sections.firstIndex { $0.kind == "limits" })
        var limits = try image.sections[index].items.map { try $0.decode(as: ResourceLimit.self) }
        try change(&limits)
        let old = image.sections[index]
        image.sections[index] = Section(kind: old.kind, source: old.source, unavailable: nil, elapsedNs: old.elapsedNs,
                                        items: try limits.map { try JSONValue.from($0) }, entries: limits.map(LimitsKind.entry))
        checkpoint.processes[0] = image
        try CheckpointImage.write(checkpoint, to: dir + "/altered")
    }
}
