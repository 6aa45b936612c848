@testable import BpfcpCore
import Foundation
import XCTest

/// Damaged, newer and missing images as `show`, `diff` and `restore` report
/// them: one line with the image, the section, the reason and what to do.
final class CLIImageErrorTests: XCTestCase {
    private var scratch = ""
    private let damaged = "; the image is damaged: take the checkpoint again into a new directory"

    override func setUpWithError() throws {
        scratch = try CheckpointSupport.scratchDirectory("image-errors")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// Writes an image of a running fixture with `bpfcp dump -D` and returns its path and pid.
    private func writeImage() throws -> (String, Int32, Fixture) {
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "0"])
        let image = scratch + "/image"
        let dump = try CLI.run(["dump", "\(fixture.pid)", "-D", image])
        XCTAssertEqual(dump.status, 0, dump.err)
        return (image, fixture.pid, fixture)
    }

    /// Copies `image` to scratch/NAME and applies `change` to the copy.
    private func variant(_ image: String, _ name: String, _ change: (String) throws -> Void) throws -> String {
        let copy = scratch + "/" + name
        try FileManager.default.copyItem(atPath: image, toPath: copy)
        try change(copy)
        return copy
    }

    /// Checks that show, diff and restore each print `message` as their one error line.
    private func assertEveryCommand(_ dir: String, against good: String, message: String,
                                    file: StaticString = #filePath, line: UInt = #line) throws {
        try assertOneLineError(["show", dir], status: 1, code: code(of: message), message: message, file: file, line: line)
        try assertOneLineError(["diff", dir, good], status: 2, code: code(of: message), message: message, file: file, line: line)
        try assertOneLineError(["restore", "-D", dir], status: 1, code: code(of: message), message: message, file: file, line: line)
    }

    private func code(of message: String) -> String {
        message.hasPrefix("image ") ? "bad_image" : "not_an_image"
    }

    func testFlippedPayloadByteNamesFix() throws {
        try requireBPF()
        let (image, pid, _) = try writeImage()
        let section = "process-\(pid)"
        let dir = try variant(image, "flipped") { try flip($0 + "/\(section).img", at: 100) }
        let (actual, stored) = try checksums(dir + "/\(section).img")

        try assertEveryCommand(dir, against: image, message:
            "image \(dir): section '\(section)' is corrupt: payload checksum \(actual) does not match the stored \(stored)" + damaged)
    }

    func testFlippedPagesByteNamesFix() throws {
        try requireBPF()
        let (image, _, _) = try writeImage()
        let dir = try variant(image, "flipped-pages") { try flip($0 + "/pages.img", at: ImageFormat.headerSize + 5000) }
        let (actual, stored) = try checksums(dir + "/pages.img")

        // restore checks the pages on a thread of its own, so this is the line of that check.
        try assertEveryCommand(dir, against: image, message:
            "image \(dir): section 'pages' is corrupt: payload checksum \(actual) does not match the stored \(stored)" + damaged)
    }

    func testTruncatedSectionNamesFix() throws {
        try requireBPF()
        let (image, pid, _) = try writeImage()
        let section = "threads-\(pid)"
        let length = try fileSize(image + "/\(section).img") - ImageFormat.headerSize
        let dir = try variant(image, "truncated") { XCTAssertEqual(truncate($0 + "/\(section).img", off_t(ImageFormat.headerSize + length - 10)), 0) }

        try assertEveryCommand(dir, against: image, message:
            "image \(dir): section '\(section)' is truncated: the header gives \(length) payload bytes, the file holds \(length - 10)" + damaged)
    }

    func testCorruptHeaderNamesFix() throws {
        try requireBPF()
        let (image, pid, _) = try writeImage()
        let section = "memory-\(pid)"
        let dir = try variant(image, "bad-header") { try flip($0 + "/\(section).img", at: 17) }

        try assertEveryCommand(dir, against: image, message:
            "image \(dir): section '\(section)' has a corrupt header: its checksum does not match" + damaged)
    }

    func testNewerFormatNamesVersionToUse() throws {
        try requireBPF()
        let (image, _, _) = try writeImage()
        let dir = try variant(image, "newer") { try setVersion($0 + "/manifest.img", 7) }

        try assertEveryCommand(dir, against: image, message:
            "image \(dir): section 'manifest' was written in image format 7, newer than this bpfcp reads; "
            + "use a bpfcp version that reads image format 7 (this one reads formats 1 to \(ImageFormat.version))")
    }

    func testNotAnImageNamesFix() throws {
        try requireBPF()
        let (image, _, _) = try writeImage()
        let empty = scratch + "/empty"
        XCTAssertEqual(mkdir(empty, 0o700), 0)

        try assertEveryCommand(empty, against: image, message:
            "\(empty) is not a bpfcp image: manifest.img not found; give the directory that `bpfcp dump PID -D DIR` wrote")
        try assertEveryCommand(image + "/manifest.img", against: image, message:
            "\(image)/manifest.img is not a bpfcp image: it is a file, not an image directory; give its directory \(image)")
    }

    /// An image with only manifest.img removed is damaged, not a stranger's directory.
    func testMissingManifestIsDamaged() throws {
        try requireBPF()
        let (image, _, _) = try writeImage()
        let dir = try variant(image, "no-manifest") { try FileManager.default.removeItem(atPath: $0 + "/manifest.img") }
        let sections = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".img") }.count
        XCTAssertGreaterThan(sections, 1)

        try assertEveryCommand(dir, against: image, message:
            "image \(dir): section 'manifest' is missing: manifest.img not found, but \(sections) other section files are there" + damaged)
    }

    /// A missing image directory beside the staging directory of an
    /// interrupted write, or of one still running, says which.
    func testMissingImageNamesLeftover() throws {
        let missing = scratch + "/image"
        let plain = try CLI.run(["show", missing])
        XCTAssertEqual(plain.status, 1)
        XCTAssertEqual(plain.errLines, ["bpfcp: \(missing) is not a bpfcp image: directory not found; "
                                        + "check the path, or write an image there with `bpfcp dump PID -D \(missing)`"])

        // This test process with a start time it never had is a writer that is gone.
        let leftover = scratch + "/.image.partial-\(getpid())-1-7"
        XCTAssertEqual(mkdir(leftover, 0o700), 0)
        let interrupted = try CLI.run(["show", missing])
        XCTAssertEqual(interrupted.status, 1)
        XCTAssertEqual(interrupted.errLines, ["bpfcp: \(missing) is not a bpfcp image: directory not found; an earlier write of it "
                                              + "was interrupted and left \(leftover), which can be removed (rm -r \(leftover)); take the checkpoint again"])

        let start = try XCTUnwrap(PartialDirectory.startTime(getpid()))
        let writing = scratch + "/.image.partial-\(getpid())-\(start)-8"
        XCTAssertEqual(mkdir(writing, 0o700), 0)
        let running = try CLI.run(["show", missing])
        XCTAssertEqual(running.status, 1)
        XCTAssertEqual(running.errLines, ["bpfcp: \(missing) is not a bpfcp image: directory not found; bpfcp process \(getpid()) "
                                          + "is writing it now (in \(writing)); wait for that dump to finish"])

        let other = try CLI.run(["show", scratch + "/other"])
        XCTAssertEqual(other.errLines, ["bpfcp: \(scratch)/other is not a bpfcp image: directory not found; "
                                        + "check the path, or write an image there with `bpfcp dump PID -D \(scratch)/other`"],
                       "leftovers of another image name are not reported")
    }

    // MARK: - helpers

    private func fileSize(_ path: String) throws -> Int {
        try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
    }

    private func flip(_ path: String, at offset: Int) throws {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[offset] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Returns the CRC32C of the payload of the section file at `path` and the one its header stores, in hex.
    private func checksums(_ path: String) throws -> (actual: String, stored: String) {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let stored = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[24 + $1]) << (8 * $1) }
        return (CRC32C.hex(CRC32C.checksum(bytes[ImageFormat.headerSize...])), CRC32C.hex(stored))
    }

    /// Rewrites the format version in a section header, with a valid header checksum.
    private func setVersion(_ path: String, _ version: UInt32) throws {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        for i in 0..<4 { bytes[8 + i] = UInt8((version >> (8 * UInt32(i))) & 0xFF) }
        let crc = CRC32C.checksum(bytes[0..<28])
        for i in 0..<4 { bytes[28 + i] = UInt8((crc >> (8 * UInt32(i))) & 0xFF) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}
