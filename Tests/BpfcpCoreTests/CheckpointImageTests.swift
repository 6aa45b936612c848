@testable import BpfcpCore
import Foundation
import XCTest

final class CheckpointImageTests: XCTestCase {
    private var scratch = ""

    override func setUpWithError() throws {
        scratch = try CheckpointSupport.scratchDirectory("image")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// Writes an image of a small fixture to scratch/NAME and returns its path.
    private func writeImage(_ name: String = "image", mib: String = "1") throws -> (String, Fixture) {
        let fixture = try Fixture(c: "checkpoint_target", arguments: [mib, "1"])
        let dir = scratch + "/" + name
        try Checkpointer.dump(pid: fixture.pid, to: dir, options: CaptureOptions(scratchDirectory: scratch), kill: false)
        return (dir, fixture)
    }

    private func openError(_ dir: String) -> BpfcpError? {
        do {
            _ = try CheckpointImage.open(dir)
            return nil
        } catch {
            return error as? BpfcpError
        }
    }

    func testRoundTripIsByteIdentical() throws {
        try requireBPF()
        let (dir, fixture) = try writeImage()
        let first = try CheckpointImage.open(dir)
        XCTAssertEqual(first.info.rootPid, fixture.pid)

        let again = scratch + "/again"
        try CheckpointImage.write(first, to: again)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        XCTAssertEqual(files, try FileManager.default.contentsOfDirectory(atPath: again).sorted())
        XCTAssertEqual(files.filter { $0.hasPrefix("process-") }, ["process-\(fixture.pid).img"])
        for file in files {
            let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + file))
            let b = try Data(contentsOf: URL(fileURLWithPath: again + "/" + file))
            XCTAssertTrue(a == b, "\(file) differs after a round trip")
        }

        let reread = try CheckpointImage.open(again)
        XCTAssertEqual(reread.processes, first.processes)
        XCTAssertEqual(reread.info, first.info)
    }

    func testImagePermissionsAndNoLeftovers() throws {
        try requireBPF()
        let (dir, _) = try writeImage()
        var info = stat()
        XCTAssertEqual(stat(dir, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o700)
        for file in try FileManager.default.contentsOfDirectory(atPath: dir) {
            XCTAssertEqual(stat(dir + "/" + file, &info), 0)
            XCTAssertEqual(info.st_mode & 0o777, 0o600, file)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch), ["image"], "no staging or page store left behind")
    }

    func testPhasesAddUpToTotal() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "1"])
        let dir = scratch + "/image"
        let checkpoint = try Checkpointer.dump(pid: fixture.pid, to: dir, options: CaptureOptions(scratchDirectory: scratch), kill: false)
        let stats = checkpoint.info.stats
        let phases = try XCTUnwrap(stats.phases)
        let named: [(String, UInt64)] = [
            ("prepare", phases.prepareNs), ("freeze", phases.freezeNs), ("held", phases.heldNs), ("kinds", phases.kindsNs),
            ("memory", phases.memoryNs), ("sections", phases.sectionsNs), ("staging", phases.stagingNs), ("encode", phases.encodeNs),
            ("write", phases.writeNs), ("sync", phases.syncNs), ("rename", phases.renameNs),
        ]
        for (name, ns) in named {
            XCTAssertGreaterThan(ns, 0, "phase \(name)")
        }
        XCTAssertLessThanOrEqual(phases.sumNs, stats.totalNs)
        XCTAssertEqual(stats.syncNs, phases.syncNs)

        // The manifest contains them as they were before it was written.
        let stored = try CheckpointImage.open(dir).info.stats
        let storedPhases = try XCTUnwrap(stored.phases)
        XCTAssertLessThanOrEqual(storedPhases.sumNs, stored.totalNs)
        XCTAssertLessThan(stored.totalNs, stats.totalNs)
        XCTAssertEqual(stored.syncNs, storedPhases.syncNs)
        XCTAssertEqual(storedPhases.renameNs, 0)
        XCTAssertLessThan(storedPhases.encodeNs, phases.encodeNs, "the manifest's encoding is not in the image")
        XCTAssertLessThan(storedPhases.writeNs, phases.writeNs)
        XCTAssertLessThan(storedPhases.syncNs, phases.syncNs)
        var captured = phases
        captured.encodeNs = storedPhases.encodeNs
        captured.writeNs = storedPhases.writeNs
        captured.syncNs = storedPhases.syncNs
        captured.renameNs = 0
        XCTAssertEqual(storedPhases, captured, "the capture's phases are stored as measured")
    }

    func testViewRendersLikeDump() throws {
        try requireBPF()
        let (dir, fixture) = try writeImage()
        let dumps = CheckpointView.dumps(try CheckpointImage.open(dir))
        let dump = try XCTUnwrap(dumps.first)
        XCTAssertEqual(dump.pid, fixture.pid)
        for kind in KindRegistry.all {
            XCTAssertNotNil(dump.section(kind.name), "kind \(kind.name) missing from the image")
        }
        XCTAssertEqual(dump.section("registers")?.entries.count, 2)
        XCTAssertFalse(dump.section("pages")?.entries.isEmpty ?? true)
    }

    func testExistingDirectoryRejected() throws {
        try requireBPF()
        let (dir, _) = try writeImage()
        let checkpoint = try CheckpointImage.open(dir)
        XCTAssertThrowsError(try CheckpointImage.write(checkpoint, to: dir)) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "image_exists")
        }
    }

    func testCorruptImagesNameSectionAndReason() throws {
        try requireBPF()
        let (dir, fixture) = try writeImage()
        let pid = fixture.pid
        let fm = FileManager.default
        func variant(_ name: String, _ change: (String) throws -> Void) throws -> String {
            let copy = scratch + "/" + name
            try fm.copyItem(atPath: dir, toPath: copy)
            try change(copy)
            return copy
        }

        let damaged = "; the image is damaged: take the checkpoint again into a new directory"
        let truncated = try variant("truncated") { try truncate($0 + "/memory-\(pid).img", by: 10) }
        let memoryLength = try XCTUnwrap(try fm.attributesOfItem(atPath: dir + "/memory-\(pid).img")[.size] as? Int) - ImageFormat.headerSize
        XCTAssertEqual(openError(truncated)?.message,
                       "image \(truncated): section 'memory-\(pid)' is truncated: the header gives \(memoryLength) payload bytes, the file holds \(memoryLength - 10)"
                       + damaged)

        let flipped = try variant("flipped") { try flip($0 + "/process-\(pid).img", at: 100) }
        XCTAssertEqual(openError(flipped)?.message.hasPrefix("image \(flipped): section 'process-\(pid)' is corrupt: payload checksum"), true,
                       "\(String(describing: openError(flipped)))")
        XCTAssertEqual(openError(flipped)?.message.hasSuffix(damaged), true, "\(String(describing: openError(flipped)))")

        let flippedPages = try variant("flipped-pages") { try flip($0 + "/pages.img", at: 5000) }
        XCTAssertEqual(openError(flippedPages)?.message.hasPrefix("image \(flippedPages): section 'pages' is corrupt"), true)

        let flippedHeader = try variant("flipped-header") { try flip($0 + "/threads-\(pid).img", at: 17) }
        XCTAssertEqual(openError(flippedHeader)?.message,
                       "image \(flippedHeader): section 'threads-\(pid)' has a corrupt header: its checksum does not match" + damaged)

        let missing = try variant("missing") { try fm.removeItem(atPath: $0 + "/threads-\(pid).img") }
        XCTAssertEqual(openError(missing)?.message, "image \(missing): section 'threads-\(pid)' is missing: threads-\(pid).img not found" + damaged)

        let newer = try variant("newer") { try setVersion($0 + "/manifest.img", 3) }
        XCTAssertEqual(openError(newer)?.message,
                       "image \(newer): section 'manifest' was written in image format 3, newer than this bpfcp reads; "
                       + "use a bpfcp version that reads image format 3 (this one reads formats 1 to 2)")

        let flippedHashes = try variant("flipped-hashes") { try flip($0 + "/hashes.img", at: 40) }
        XCTAssertEqual(openError(flippedHashes)?.message.hasPrefix("image \(flippedHashes): section 'hashes' is corrupt: payload checksum"), true,
                       "\(String(describing: openError(flippedHashes)))")

        let swapped = try variant("swapped") { try fm.copyItem(atPath: $0 + "/memory-\(pid).img", toPath: $0 + "/m") ; try fm.removeItem(atPath: $0 + "/threads-\(pid).img"); try fm.moveItem(atPath: $0 + "/m", toPath: $0 + "/threads-\(pid).img") }
        XCTAssertEqual(openError(swapped)?.message,
                       "image \(swapped): section 'threads-\(pid)' holds a memory section where a threads section belongs" + damaged)

        XCTAssertEqual(openError(scratch)?.message,
                       "\(scratch) is not a bpfcp image: manifest.img not found; give the directory that `bpfcp dump PID -D DIR` wrote")
        XCTAssertEqual(openError(scratch + "/nothing")?.message,
                       "\(scratch)/nothing is not a bpfcp image: directory not found; "
                       + "check the path, or write an image there with `bpfcp dump PID -D \(scratch)/nothing`")
        XCTAssertEqual(openError(dir + "/pages.img")?.message,
                       "\(dir)/pages.img is not a bpfcp image: it is a file, not an image directory; give its directory \(dir)")
    }

    func testFuzzedImagesFailCleanly() throws {
        try requireBPF()
        let (dir, _) = try writeImage(mib: "1")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        let originals = try files.map { try Data(contentsOf: URL(fileURLWithPath: dir + "/" + $0)) }
        var random = SplitMix64(state: 0x00C0_FFEE)
        let work = scratch + "/fuzz"

        for iteration in 0..<3000 {
            XCTAssertEqual(mkdir(work, 0o700), 0)
            let victim = Int(random.next() % UInt64(files.count))
            for (index, file) in files.enumerated() where index != victim {
                XCTAssertEqual(link(dir + "/" + file, work + "/" + file), 0)
            }
            var bytes = originals[victim]
            if random.next() % 3 == 0 {
                bytes = Data(bytes.prefix(Int(random.next() % UInt64(bytes.count))))
            } else {
                // Half the flips land in the header or the small JSON start, where checks differ most.
                for _ in 0..<(1 + random.next() % 4) {
                    let span = random.next() % 2 == 0 ? min(bytes.count, 256) : bytes.count
                    bytes[Int(random.next() % UInt64(span))] ^= UInt8(1 + random.next() % 255)
                }
            }
            try bytes.write(to: URL(fileURLWithPath: work + "/" + files[victim]))

            let error = openError(work)
            XCTAssertNotNil(error, "iteration \(iteration): a damaged \(files[victim]) was accepted")
            if let error {
                XCTAssertFalse(error.message.contains("\n"), "iteration \(iteration): \(error.message)")
                XCTAssertTrue(["bad_image", "not_an_image"].contains(error.code), "iteration \(iteration): \(error.code) \(error.message)")
            }
            for file in files { unlink(work + "/" + file) }
            rmdir(work)
        }
    }

    func testFullDiskLeavesNoImage() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["16", "0"])
        let mount = scratch + "/small"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: false)
        guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mount]) == 0 else {
            XCTFail("mounting a 4 MiB tmpfs on \(mount) failed")
            return
        }
        defer { _ = run("/bin/umount", [mount]) }

        let checkpoint = try Checkpointer.capture(pid: fixture.pid)
        XCTAssertThrowsError(try CheckpointImage.write(checkpoint, to: mount + "/image")) { error in
            XCTAssertTrue("\(error)".hasSuffix(" failed: No space left on device; free space on that file system, or choose another directory"),
                          "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mount), [], "nothing is left on the full file system")

        let direct = try? Checkpointer.dump(pid: fixture.pid, to: mount + "/direct", options: CaptureOptions(scratchDirectory: mount), kill: false)
        XCTAssertNil(direct)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mount), [])
        CheckpointSupport.assertReleased(fixture.pid)
    }

    // MARK: - helpers

    private func truncate(_ path: String, by count: Int) throws {
        let size = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        XCTAssertEqual(Glibc.truncate(path, off_t(size - count)), 0)
    }

    private func flip(_ path: String, at offset: Int) throws {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[offset] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Rewrites the format version in a section header, with a valid header checksum.
    private func setVersion(_ path: String, _ version: UInt32) throws {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        for i in 0..<4 { bytes[8 + i] = UInt8((version >> (8 * UInt32(i))) & 0xFF) }
        let crc = CRC32C.checksum(bytes[0..<28])
        for i in 0..<4 { bytes[28 + i] = UInt8((crc >> (8 * UInt32(i))) & 0xFF) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    private func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
