@testable import BpfcpCore
@testable import BpfcpTUI
import Foundation
import XCTest

/// The diff screen of bpfcp-top counts changed pages between two captures of this run.
final class CapturePageDiffTests: XCTestCase {
    private func waitInPause(_ pid: Int32) -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if ((try? String(contentsOfFile: "/proc/\(pid)/syscall", encoding: .utf8)) ?? "").hasPrefix("34 ") { return true }
            usleep(2000)
        }
        return false
    }

    func testDiffScreenCountsChangedPages() throws {
        try requireBPF()
        // Linked with -z now, so that no lazy symbol binding writes pages between the captures.
        let fixture = try Fixture(c: "page_writer", arguments: ["37", "2"], flags: ["-Wl,-z,now"])
        XCTAssertTrue(waitInPause(fixture.pid), "page_writer never reached pause()")
        let scratch = NSTemporaryDirectory() + "bpfcp-tui-pages-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        XCTAssertEqual(mkdir(scratch, 0o700), 0)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        let options = CaptureOptions(scratchDirectory: scratch)
        let before = try Checkpointer.capture(pid: fixture.pid, options: options)
        kill(fixture.pid, SIGUSR1)
        usleep(200_000)
        XCTAssertTrue(waitInPause(fixture.pid), "page_writer never returned to pause()")
        let after = try Checkpointer.capture(pid: fixture.pid, options: options)

        let captures = [
            Capture(id: 1, checkpoint: before, dump: try XCTUnwrap(CheckpointView.dumps(before).first), writtenTo: nil),
            Capture(id: 2, checkpoint: after, dump: try XCTUnwrap(CheckpointView.dumps(after).first), writtenTo: nil),
        ]
        let diff = try CaptureWork.diff(.capture(1), .capture(2), captures: captures)
        let lines = CaptureViews.diffLines(diff).map(\.text)
        let line = try XCTUnwrap(lines.first { $0.hasPrefix("  ~ 37 pages changed in [heap], ") }, lines.joined(separator: "\n"))
        XCTAssertTrue(line.contains(", 2 in [stack]"), line)
    }
}
