@testable import BpfcpCore
import Foundation
import XCTest

/// Snapshot copies that write their own pages (`CopyPageWriter`), and the
/// /proc/PID/mem reads that replace them, against copy_writer_target.
final class CopyPageWriterTests: XCTestCase {
    func testCopyWritesPatternedPages() throws {
        try requireBPF()
        let fixture = try Fixture(c: "copy_writer_target", arguments: ["16", "plain"])
        let fdsBefore = try fdTable(fixture.pid)

        let checkpoint = try Checkpointer.capture(pid: fixture.pid)
        let stats = checkpoint.info.stats
        XCTAssertEqual(stats.memorySource, "snapshot")
        XCTAssertEqual(stats.pageWriter, "copy")
        XCTAssertNil(stats.pageWriterFallback)

        CheckpointSupport.assertReleased(fixture.pid)
        XCTAssertEqual(Checkpointer.children(of: fixture.pid), [], "children after the checkpoint")
        XCTAssertEqual(try fdTable(fixture.pid), fdsBefore, "fd table of the target")
        try assertRegionPatterned(checkpoint, fixture, key: "region", first: 0)
        try assertHashesMatchFile(checkpoint)
    }

    func testImageOfCopyWrittenPagesRoundTrips() throws {
        try requireBPF()
        let fixture = try Fixture(c: "copy_writer_target", arguments: ["4", "plain"])
        let dir = try CheckpointSupport.scratchDirectory("copy-writer-round-trip")
        defer { try? FileManager.default.removeItem(atPath: dir) }

        let checkpoint = try Checkpointer.dump(pid: fixture.pid, to: dir + "/first", options: CaptureOptions(scratchDirectory: dir),
                                               kill: false)
        XCTAssertEqual(checkpoint.info.stats.pageWriter, "copy")
        let reread = try CheckpointImage.open(dir + "/first")
        try CheckpointImage.write(reread, to: dir + "/second")
        for file in [CheckpointImage.pagesFile, CheckpointImage.hashesFile] {
            let first = try Data(contentsOf: URL(fileURLWithPath: dir + "/first/" + file))
            let second = try Data(contentsOf: URL(fileURLWithPath: dir + "/second/" + file))
            XCTAssertEqual(first, second, "\(file) written again from the image")
        }
        let pages = try SectionReader.verify(path: dir + "/first/" + CheckpointImage.pagesFile, section: "pages", expected: .pages)
        XCTAssertEqual(pages.payloadLength, checkpoint.info.stats.pagesWritten * 4096)
    }

    func testRelativeScratchDirectoryStillCopyWritten() throws {
        try requireBPF()
        let fixture = try Fixture(c: "copy_writer_target", arguments: ["4", "plain"])
        let dir = try CheckpointSupport.scratchDirectory("copy-writer-relative")
        let previous = FileManager.default.currentDirectoryPath
        defer {
            _ = FileManager.default.changeCurrentDirectoryPath(previous)
            try? FileManager.default.removeItem(atPath: dir)
        }
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(dir))

        // The fixture's working directory is /, so "." means another directory to the copy.
        let checkpoint = try Checkpointer.capture(pid: fixture.pid, options: CaptureOptions(scratchDirectory: "."))
        XCTAssertEqual(checkpoint.info.stats.pageWriter, "copy")
        XCTAssertNil(checkpoint.info.stats.pageWriterFallback)
        try assertRegionPatterned(checkpoint, fixture, key: "region", first: 0)
        try assertHashesMatchFile(checkpoint)
    }

    func testUnreadablePagesReadThroughProcMem() throws {
        try requireBPF()
        let fixture = try Fixture(c: "copy_writer_target", arguments: ["8", "protnone"])

        let checkpoint = try Checkpointer.capture(pid: fixture.pid)
        let stats = checkpoint.info.stats
        XCTAssertEqual(stats.memorySource, "snapshot")
        XCTAssertEqual(stats.pageWriter, "mixed")
        XCTAssertEqual(stats.pageWriterFallback, "process \(fixture.pid): 4 pages the copy cannot read")

        CheckpointSupport.assertReleased(fixture.pid)
        try assertRegionPatterned(checkpoint, fixture, key: "region", first: 0)
        try assertRegionPatterned(checkpoint, fixture, key: "hidden", first: 1000)
        try assertHashesMatchFile(checkpoint)
    }

    func testOtherUserFallsBackToProcMem() throws {
        try requireBPF()
        let fixture = try Fixture(c: "copy_writer_target", arguments: ["8", "nobody"])
        let fdsBefore = try fdTable(fixture.pid)

        let checkpoint = try Checkpointer.capture(pid: fixture.pid)
        let stats = checkpoint.info.stats
        XCTAssertEqual(stats.memorySource, "snapshot")
        XCTAssertEqual(stats.pageWriter, "bpfcp")
        let reason = try XCTUnwrap(stats.pageWriterFallback)
        XCTAssertEqual(reason, "process \(fixture.pid): the copy could not open the pages file: Permission denied")

        CheckpointSupport.assertReleased(fixture.pid)
        XCTAssertEqual(Checkpointer.children(of: fixture.pid), [], "children after the checkpoint")
        XCTAssertEqual(try fdTable(fixture.pid), fdsBefore, "fd table of the target")
        try assertRegionPatterned(checkpoint, fixture, key: "region", first: 0)
        try assertHashesMatchFile(checkpoint)
    }

    func testHeldStreamingHashesMatchFile() throws {
        try requireBPF()
        let fixture = try Fixture(c: "copy_writer_target", arguments: ["8", "plain"])

        // A 1 MiB staging area: most pages stream to the file while held, and are checksummed on the digest thread.
        let options = CaptureOptions(stagingBudget: 1 << 20, snapshot: false)
        let checkpoint = try Checkpointer.capture(pid: fixture.pid, options: options)
        let stats = checkpoint.info.stats
        XCTAssertEqual(stats.memorySource, "held")
        XCTAssertNil(stats.pageWriter)
        XCTAssertNil(stats.pageWriterFallback)

        CheckpointSupport.assertReleased(fixture.pid)
        try assertRegionPatterned(checkpoint, fixture, key: "region", first: 0)
        try assertHashesMatchFile(checkpoint)
    }

    // MARK: - helpers

    /// Returns each fd of `pid` with what it refers to and its fdinfo (position, flags, mount id).
    private func fdTable(_ pid: Int32) throws -> [String: String] {
        var table: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") {
            let link = ProcFS.readLink("/proc/\(pid)/fd/\(name)").map { String(decoding: $0, as: UTF8.self) } ?? "?"
            let info = (try? ProcFS.readText("/proc/\(pid)/fdinfo/\(name)")) ?? "?"
            table[name] = link + "\n" + info
        }
        return table
    }

    /// Checks that the saved region at the fixture's address `key` contains the pattern, starting at word `first`.
    private func assertRegionPatterned(_ checkpoint: Checkpoint, _ fixture: Fixture, key: String, first: UInt64,
                                       file: StaticString = #filePath, line: UInt = #line) throws {
        let image = try XCTUnwrap(checkpoint.process(fixture.pid), file: file, line: line)
        let address = UInt64(try XCTUnwrap(fixture.values[key], file: file, line: line))!
        let size = UInt64(try XCTUnwrap(fixture.values[key == "region" ? "size" : "hidden_size"], file: file, line: line))!
        let bytes = try CheckpointSupport.savedBytes(checkpoint, image, address: address, count: size)
        var mismatches = 0
        bytes.withUnsafeBytes { raw in
            for i in 0..<Int(size / 8) where raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) != CheckpointSupport.pattern(first + UInt64(i)) {
                mismatches += 1
            }
        }
        XCTAssertEqual(mismatches, 0, "64-bit words of \(key) that differ from the pattern", file: file, line: line)
    }

    /// Checks that the hashes computed while the copy wrote equal hashes of the pages file read back.
    private func assertHashesMatchFile(_ checkpoint: Checkpoint, file: StaticString = #filePath, line: UInt = #line) throws {
        let header = try SectionReader.verify(path: checkpoint.pages.path, section: "pages", expected: .pages)
        let computed = try PageHashes.compute(checkpoint.pages, pageSize: 4096, payloadLength: header.payloadLength)
        let hashes = try XCTUnwrap(checkpoint.pageHashes, file: file, line: line)
        XCTAssertEqual(hashes.values.count, Int(header.payloadLength / 4096), file: file, line: line)
        XCTAssertEqual(hashes, computed, file: file, line: line)
    }
}
