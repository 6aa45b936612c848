@testable import BpfcpCore
import Foundation
import XCTest

/// What a user new to bpfcp meets first: unreadable images, the -D long
/// forms, a missing parent directory, and /proc reads without root.
final class CLIFreshUserTests: XCTestCase {
    private var scratch = ""

    override func setUpWithError() throws {
        scratch = try CheckpointSupport.scratchDirectory("fresh")
        XCTAssertEqual(chmod(scratch, 0o755), 0)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    func testUnreadableImageNamesPermission() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "0"])
        let image = scratch + "/image"
        XCTAssertEqual(try CLI.run(["dump", "\(fixture.pid)", "-D", image]).status, 0)

        let result = try CLI.run(["show", image], asNobody: true)
        XCTAssertEqual(result.status, 3, result.err)
        XCTAssertEqual(result.errLines, ["bpfcp: cannot read the image \(image): permission denied, because images are readable only by the user who wrote them (mode 0700): run bpfcp as that user or as root, e.g. with sudo"])
    }

    func testImagesDirLongFormsAccepted() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "0"])
        for (index, form) in ["--images-dir", "--dir"].enumerated() {
            let image = scratch + "/image\(index)"
            let dump = try CLI.run(["dump", "\(fixture.pid)", form, image])
            XCTAssertEqual(dump.status, 0, "dump \(form): \(dump.err)")
            XCTAssertNoThrow(try CheckpointImage.open(image), form)

            let missing = scratch + "/missing\(index)"
            let restore = try CLI.run(["restore", form, missing])
            XCTAssertEqual(restore.errLines, ["bpfcp: \(missing) is not a bpfcp image: directory not found; check the path, or write an image there with `bpfcp dump PID -D \(missing)`"], "restore \(form)")
        }

        let help = try CLI.run(["restore", "--help"])
        XCTAssertTrue(help.out.contains("-D, --images-dir DIR"), help.out)
        XCTAssertFalse(help.out.contains("--dir "), help.out)
    }

    func testMissingParentDirectoryOneLine() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "0"])
        let parent = scratch + "/no-such-directory"
        let image = parent + "/image"
        let result = try CLI.run(["dump", "\(fixture.pid)", "-D", image])

        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.errLines, ["bpfcp: the parent directory \(parent) of the image directory \(image) does not exist: create it first (mkdir -p \(parent))"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch), [], "nothing was written")
    }

    func testPsProcRunsWithoutRoot() throws {
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "0"])
        let result = try CLI.run(["ps", "--proc", "--pid", "\(fixture.pid)"], asNobody: true)

        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertEqual(result.outLines.count, 2, result.out)
        XCTAssertTrue(result.outLines.last?.hasPrefix(String(repeating: " ", count: 7 - "\(fixture.pid)".count) + "\(fixture.pid) ") == true, result.out)
        XCTAssertEqual(result.errLines, ["bpfcp: note: without root, /proc shows 0 as the exit status of zombies of other users: run as root to see it"])
        XCTAssertEqual(try CLI.run(["ps"], asNobody: true).status, 3, "the BPF source still needs root")
    }

    func testDumpProcRunsWithoutRoot() throws {
        let binary = try Fixture.compile("checkpoint_target")
        let own = try Fixture(executable: "/usr/bin/setpriv", arguments: ["--reuid=65534", "--regid=65534", "--clear-groups", binary, "1", "0"])
        let ownResult = try CLI.run(["dump", "\(own.pid)", "--proc", "--only", "files,memory"], asNobody: true)
        XCTAssertEqual(ownResult.status, 0, ownResult.err)
        XCTAssertFalse(ownResult.out.contains("unavailable"), ownResult.out)
        XCTAssertTrue(ownResult.outLines.contains { $0.hasPrefix("Files (") }, ownResult.out)

        let other = try Fixture(c: "checkpoint_target", arguments: ["1", "0"])
        let otherResult = try CLI.run(["dump", "\(other.pid)", "--proc", "--only", "files"], asNobody: true)
        XCTAssertEqual(otherResult.status, 0, otherResult.err)
        XCTAssertTrue(otherResult.outLines.contains { $0.hasPrefix("Files: unavailable: needs root: ") }, otherResult.out)
        XCTAssertEqual(try CLI.run(["dump", "\(other.pid)"], asNobody: true).status, 3, "the BPF source still needs root")
    }
}
