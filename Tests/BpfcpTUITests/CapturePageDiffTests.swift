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
        let diff = try CaptureWork.diff(.capture(2), .capture(1), captures: captures).diff
        let lines = CaptureViews.diffLines(diff).map(\.text)
        let screen = lines.joined(separator: "\n")
        // One line per area, so a long list of areas is not cut at the screen edge.
        XCTAssertTrue(lines.contains("  ~ 37 pages changed in [heap]"), screen)
        XCTAssertTrue(lines.contains("  ~ 2 pages changed in [stack]"), screen)

        // The header total is the sum of the counts in the summary lines, page changes included.
        let memory = try XCTUnwrap(diff.kinds.first { $0.kind == "memory" })
        let areas = try XCTUnwrap(diff.pageChanges?.areas.count)
        XCTAssertEqual(memory.areasWithChangedPages, areas)
        XCTAssertTrue(lines.contains("  Memory: \(memory.added) added, \(memory.removed) removed, \(memory.changed) changed, "
                                     + "\(areas) areas with changed pages"), screen)
        var total = diff.process.count
        for kind in diff.kinds { total += kind.added + kind.removed + kind.changed + kind.areasWithChangedPages }
        XCTAssertTrue(lines[0].hasPrefix("\(total) changes from "), lines[0])
    }
}
