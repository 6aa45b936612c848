@testable import BpfcpCore
import Foundation
import XCTest

/// `bpfcp dump -D DIR` where the parent of DIR refuses writes.
final class CLIDumpDirectoryTests: XCTestCase {
    private var scratch = ""
    private var immutable: String?

    override func setUpWithError() throws {
        scratch = try CheckpointSupport.scratchDirectory("dump-directory")
    }

    override func tearDown() {
        if let immutable { _ = try? runChattr("-i", immutable) }
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// Root passes the permission bits, so an immutable parent gets advice
    /// about attributes and mounts, and the message names the user's
    /// directory, not the hidden page store inside it.
    func testImmutableParentAsRoot() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "0"])
        let parent = scratch + "/ro"
        XCTAssertEqual(mkdir(parent, 0o755), 0)
        try runChattr("+i", parent)
        immutable = parent

        let image = parent + "/image"
        try assertOneLineError(["dump", "\(fixture.pid)", "-D", image], status: 1, code: "system", message:
            "writing the checkpoint in \(parent) failed: Operation not permitted; bpfcp already runs as root, so \(parent) "
            + "may be immutable or append-only (check `lsattr -d \(parent)`) or on a read-only mount (check `findmnt -T \(parent)`); "
            + "choose another directory or clear that")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: parent), [])
        CheckpointSupport.assertReleased(fixture.pid)
    }

    private func runChattr(_ flag: String, _ path: String) throws {
        let chattr = Process()
        chattr.executableURL = URL(fileURLWithPath: "/usr/bin/chattr")
        chattr.arguments = [flag, path]
        try chattr.run()
        chattr.waitUntilExit()
        XCTAssertEqual(chattr.terminationStatus, 0, "chattr \(flag) \(path) failed")
    }
}
