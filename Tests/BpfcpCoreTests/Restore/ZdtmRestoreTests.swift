@testable import BpfcpCore
import Foundation
import XCTest

/// A whole process checkpointed with --kill and restored, which then checks
/// its own files, pipe, eventfd, socket pair and memory on a signal.
final class ZdtmRestoreTests: XCTestCase {
    func testKilledProcessRestoresAndPasses() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_zdtm", arguments: [dir])
        let pid = fixture.pid
        try QueueFixture.waitStdioNull(pid)
        let checkpoint = try Checkpointer.dump(pid: pid, to: dir + "/image", options: CaptureOptions(), kill: true)
        try RestoredProcess.waitGone(pid)
        fixture.stop()

        let image = try XCTUnwrap(checkpoint.processes.first)
        XCTAssertEqual(try image.items("files", as: OpenFile.self).filter { $0.type == .regular }.count, 200)
        XCTAssertEqual(image.queues.map(\.byteCount).sorted(), [12, 12345])
        XCTAssertGreaterThanOrEqual(checkpoint.info.stats.pagesWritten, UInt64((64 << 20) / 4096))

        let report = try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())
        let restored = RestoredProcess(pid: report.pid)
        defer { restored.stop() }
        XCTAssertEqual(report.pid, pid)
        XCTAssertTrue(report.verified)
        XCTAssertEqual(report.unexpected, [], report.unexpected.map { "\($0.kind) \($0.key): \($0.summary)" }.joined(separator: "\n"))
        XCTAssertEqual(try QueueFixture.ask(dir: dir, pid: report.pid, timeout: 20), "pass")
    }
}
