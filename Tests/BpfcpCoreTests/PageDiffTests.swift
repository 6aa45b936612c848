@testable import BpfcpCore
import Foundation
import XCTest

/// Page-level diffs by content hash, between captures, images and live processes.
final class PageDiffTests: XCTestCase {
    private var scratch = ""

    override func setUpWithError() throws {
        scratch = try CheckpointSupport.scratchDirectory("pagediff")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// Starts page_writer and waits until it sleeps in pause(). It is linked
    /// with -z now so that no lazy symbol binding writes pages between captures.
    private func pageWriter(heap: Int, stack: Int) throws -> Fixture {
        let fixture = try Fixture(c: "page_writer", arguments: ["\(heap)", "\(stack)"], flags: ["-Wl,-z,now"])
        XCTAssertTrue(CheckpointSupport.waitUntil(10) { CheckpointSupport.allInPause(fixture.pid) }, "page_writer never reached pause()")
        return fixture
    }

    /// Sends SIGUSR1 and waits until the writes are done and the fixture sleeps again.
    private func writePages(_ fixture: Fixture) throws {
        _ = try fixture.signal(SIGUSR1, expect: "WROTE")
        XCTAssertTrue(CheckpointSupport.waitUntil(10) { CheckpointSupport.allInPause(fixture.pid) }, "page_writer never returned to pause()")
    }

    private func changed(_ comparison: PageComparison?, in area: String) -> Int? {
        comparison?.areas.first { $0.area == area }?.changedPages
    }

    private func memoryNotes(_ diff: DumpDiff) -> [String] {
        diff.kinds.first { $0.kind == "memory" }?.notes ?? []
    }

    func testCapturesCountWrittenPages() throws {
        try requireBPF()
        let fixture = try pageWriter(heap: 37, stack: 2)
        let options = CaptureOptions(scratchDirectory: scratch)
        let before = try Checkpointer.capture(pid: fixture.pid, options: options)
        try writePages(fixture)
        let after = try Checkpointer.capture(pid: fixture.pid, options: options)

        let diff = Differ.diff(try LoadedCapture(checkpoint: before, label: "a"), try LoadedCapture(checkpoint: after, label: "b"))
        XCTAssertEqual(changed(diff.pageChanges, in: "[heap]"), 37, "\(String(describing: diff.pageChanges))")
        XCTAssertEqual(changed(diff.pageChanges, in: "[stack]"), 2, "\(String(describing: diff.pageChanges))")
        // The signal frame on the alternate stack, errno and the fixture's own
        // counter change a few other pages, which the sentence lists after [heap].
        let note = try XCTUnwrap(memoryNotes(diff).first)
        XCTAssertTrue(note.hasPrefix("37 pages changed in [heap], "), note)
        XCTAssertTrue(note.contains(", 2 in [stack]"), note)
        XCTAssertEqual(diff.notCompared, [])
    }

    func testUnchangedCapturesHaveNoChangedPages() throws {
        try requireBPF()
        let fixture = try pageWriter(heap: 5, stack: 1)
        let options = CaptureOptions(scratchDirectory: scratch)
        let first = try Checkpointer.capture(pid: fixture.pid, options: options)
        let second = try Checkpointer.capture(pid: fixture.pid, options: options)

        let diff = Differ.diff(try LoadedCapture(checkpoint: first, label: "a"), try LoadedCapture(checkpoint: second, label: "b"))
        XCTAssertEqual(diff.pageChanges?.changedPages, 0)
        XCTAssertEqual(memoryNotes(diff), [])
    }

    func testCapturedHashesMatchStoredPages() throws {
        try requireBPF()
        let fixture = try pageWriter(heap: 9, stack: 3)
        let checkpoint = try Checkpointer.capture(pid: fixture.pid, options: CaptureOptions(scratchDirectory: scratch))
        let hashes = try XCTUnwrap(checkpoint.pageHashes)
        let payload = try FileManager.default.attributesOfItem(atPath: checkpoint.pages.path)[.size] as? UInt64 ?? 0
        XCTAssertEqual(UInt64(hashes.values.count), (payload - UInt64(ImageFormat.headerSize)) / 4096)

        let recomputed = try PageHashes.compute(checkpoint.pages, pageSize: 4096, payloadLength: payload - UInt64(ImageFormat.headerSize))
        XCTAssertEqual(recomputed, hashes)
    }

    func testLiveSideMatchesItsImage() throws {
        try requireBPF()
        let fixture = try pageWriter(heap: 37, stack: 2)
        let checkpoint = try Checkpointer.capture(pid: fixture.pid, options: CaptureOptions(scratchDirectory: scratch))
        let image = try LoadedCapture(checkpoint: checkpoint, label: "image")

        let same = Differ.diff(image, try LoadedCapture.live(pid: fixture.pid, label: "live", pages: true))
        XCTAssertEqual(same.pageChanges?.changedPages, 0, "\(String(describing: same.pageChanges))")

        try writePages(fixture)
        let moved = Differ.diff(image, try LoadedCapture.live(pid: fixture.pid, label: "live", pages: true))
        XCTAssertEqual(changed(moved.pageChanges, in: "[heap]"), 37)
        XCTAssertEqual(changed(moved.pageChanges, in: "[stack]"), 2)
    }

    func testLiveScanSkipsEmptyReservation() throws {
        try requireBPF()
        // checkpoint_target reserves 16 TiB with PROT_NONE: reading it page by page would never finish.
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["2", "0"])
        let start = Date()
        let snapshot = try PageSnapshot.live(pid: fixture.pid)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
        XCTAssertGreaterThanOrEqual(snapshot.hashes.count, 512, "the 2 MiB patterned region is present")
    }

    func testCLIDiffOfImagesCountsPages() throws {
        try requireBPF()
        let fixture = try pageWriter(heap: 37, stack: 2)
        let a = scratch + "/a", b = scratch + "/b"
        XCTAssertEqual(try CLI.run(["dump", "\(fixture.pid)", "-D", a]).status, 0)
        try writePages(fixture)
        XCTAssertEqual(try CLI.run(["dump", "\(fixture.pid)", "-D", b]).status, 0)

        let text = try CLI.run(["diff", a, b])
        XCTAssertEqual(text.status, 1, text.err)
        let line = try XCTUnwrap(text.outLines.first { $0.hasPrefix("  ~ 37 pages changed in [heap], ") }, text.out)
        XCTAssertTrue(line.contains(", 2 in [stack]"), line)

        let json = try CLI.run(["diff", a, b, "--only", "memory", "--json"]).json()
        let diff = try XCTUnwrap(json["diff"] as? [String: Any])
        let pages = try XCTUnwrap(diff["page_changes"] as? [String: Any])
        let areas = try XCTUnwrap(pages["areas"] as? [[String: Any]])
        XCTAssertEqual(areas.first { $0["area"] as? String == "[heap]" }?["changed_pages"] as? Int, 37)
        XCTAssertEqual(areas.first { $0["area"] as? String == "[stack]" }?["changed_pages"] as? Int, 2)
        XCTAssertEqual(diff["not_compared"] as? [String], [])

        // The page changes count in the memory summary, in text and JSON alike.
        let memory = try XCTUnwrap((diff["kinds"] as? [[String: Any]])?.first { $0["kind"] as? String == "memory" })
        XCTAssertEqual(memory["areas_with_changed_pages"] as? Int, areas.count)
        let counts = try ["added", "removed", "changed"].map { try XCTUnwrap(memory[$0] as? Int) }
        XCTAssertTrue(text.outLines.contains("Memory: \(counts[0]) added, \(counts[1]) removed, \(counts[2]) changed, "
                                             + "\(areas.count) areas with changed pages"), text.out)
    }

    func testFormatOneImageLoadsWithoutHashes() throws {
        try requireBPF()
        let fixture = try pageWriter(heap: 3, stack: 1)
        let dir = scratch + "/old"
        try Checkpointer.dump(pid: fixture.pid, to: dir, options: CaptureOptions(scratchDirectory: scratch), kill: false)
        try rewriteAsFormatOne(dir)

        let old = try CheckpointImage.open(dir)
        XCTAssertNil(old.pageHashes)
        let result = try CLI.run(["diff", dir, dir])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertTrue(result.outLines.contains("page contents are not compared: \(dir) was written in image format 1, which stores no page hashes"),
                      result.out)

        // Writing a format 1 checkpoint again gives a current image with hashes.
        let again = scratch + "/again"
        try CheckpointImage.write(old, to: again)
        XCTAssertNotNil(try CheckpointImage.open(again).pageHashes)
    }

    func testShowPrintsImageFormat() throws {
        try requireBPF()
        let fixture = try pageWriter(heap: 1, stack: 1)
        let current = scratch + "/current"
        let old = scratch + "/old"
        try Checkpointer.dump(pid: fixture.pid, to: current, options: CaptureOptions(scratchDirectory: scratch), kill: false)
        try Checkpointer.dump(pid: fixture.pid, to: old, options: CaptureOptions(scratchDirectory: scratch), kill: false)
        try rewriteAsFormatOne(old)

        for (dir, version) in [(current, 2), (old, 1)] {
            let text = try CLI.run(["show", dir, "context"])
            XCTAssertEqual(text.status, 0, text.err)
            XCTAssertTrue(text.outLines.first?.hasPrefix("image \(dir): format \(version), bpfcp ") ?? false, text.out)

            let json = try CLI.run(["--json", "show", dir, "context"])
            XCTAssertEqual(json.status, 0, json.err)
            XCTAssertEqual(try json.json()["image_format"] as? Int, version, dir)
        }
    }

    func testMissingHashesSectionNamed() throws {
        try requireBPF()
        let fixture = try pageWriter(heap: 3, stack: 1)
        let dir = scratch + "/image"
        try Checkpointer.dump(pid: fixture.pid, to: dir, options: CaptureOptions(scratchDirectory: scratch), kill: false)
        try FileManager.default.removeItem(atPath: dir + "/hashes.img")
        XCTAssertThrowsError(try CheckpointImage.open(dir)) { error in
            XCTAssertEqual((error as? BpfcpError)?.message,
                           "image \(dir): section 'hashes' is missing: hashes.img not found; the image is damaged: take the checkpoint again into a new directory")
        }
    }

    /// Turns a current image into one as format 1 wrote it: no hashes.img,
    /// and a manifest of format 1 that does not list it.
    private func rewriteAsFormatOne(_ dir: String) throws {
        let path = dir + "/manifest.img"
        let payload = try SectionReader.read(path: path, section: "manifest", expected: .manifest)
        var manifest = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
        manifest["format_version"] = 1
        manifest["sections"] = (manifest["sections"] as? [[String: Any]])?.filter { $0["name"] as? String != "hashes" }
        let bytes = Array(try JSONSerialization.data(withJSONObject: manifest, options: [.sortedKeys]))
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.removeItem(atPath: dir + "/hashes.img")
        _ = try SectionWriter.write(bytes, type: .manifest, to: path)
    }
}
