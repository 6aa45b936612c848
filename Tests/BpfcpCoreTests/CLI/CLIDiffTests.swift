import XCTest

/// `bpfcp diff` exit codes follow diff(1): 0 same, 1 different, 2 trouble.
final class CLIDiffTests: XCTestCase {
    func testSameCaptureExitsZero() throws {
        try requireBPF()
        let fixture = try Fixture(c: "files_basic")
        let result = try CLI.run(["diff", "live:\(fixture.pid)", "live:\(fixture.pid)", "--only", "files"])
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertEqual(result.outLines, ["diff live:\(fixture.pid) → live:\(fixture.pid)", "no differences"])
    }

    func testChangedCaptureExitsOne() throws {
        try requireBPF()
        let fixture = try Fixture(c: "diff_steps")
        let other = try Fixture(c: "files_basic")
        let result = try CLI.run(["diff", "live:\(fixture.pid)", "live:\(other.pid)", "--only", "threads"])
        XCTAssertEqual(result.status, 1, result.err)
        XCTAssertTrue(result.outLines.contains("Threads: 4 added, 1 removed, 0 changed"), result.out)
    }

    func testImageOfIdleProcessMatchesLive() throws {
        try requireBPF()
        // Started through bash, which closes the fds it inherits from the test
        // runner; the runner and each bpfcp process share those, so their owners change.
        let binary = try Fixture.compile("checkpoint_target")
        let closeInherited = "for f in /proc/$$/fd/*; do n=${f##*/}; [ \"$n\" -gt 2 ] && eval \"exec $n>&-\"; done 2>/dev/null; exec \"$0\" 2 2"
        let fixture = try Fixture(executable: "/bin/bash", arguments: ["-c", closeInherited, binary])
        XCTAssertTrue(CheckpointSupport.waitUntil(10) { CheckpointSupport.allInPause(fixture.pid) }, "the fixture never reached pause()")
        let scratch = try CheckpointSupport.scratchDirectory("idle-diff")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let image = scratch + "/image"
        // Without the snapshot: its clone runs in a target thread, and the
        // kernel charges that thread the time to copy the page tables.
        let dump = try CLI.run(["dump", "\(fixture.pid)", "-D", image, "--no-snapshot"])
        XCTAssertEqual(dump.status, 0, dump.err)

        let result = try CLI.run(["diff", image, "live:\(fixture.pid)"])
        XCTAssertEqual(result.status, 0, result.out + result.err)
        XCTAssertEqual(result.outLines, [
            "diff \(image) → live:\(fixture.pid)",
            "registers, saved memory and saved files are not compared: live:\(fixture.pid) is a live process, for which they are not captured",
            "no differences",
        ])
    }

    func testTwoImagesNeedNoRoot() throws {
        try requireBPF()
        let fixture = try Fixture(c: "files_basic")
        let scratch = try CheckpointSupport.scratchDirectory("nobody-diff")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let image = scratch + "/image"
        let dump = try CLI.run(["dump", "\(fixture.pid)", "-D", image])
        XCTAssertEqual(dump.status, 0, dump.err)
        for path in [scratch, image] + (try FileManager.default.contentsOfDirectory(atPath: image)).map({ image + "/" + $0 }) {
            XCTAssertEqual(chown(path, 65534, 65534), 0, path)
        }

        let images = try CLI.run(["diff", image, image, "--only", "files"], asNobody: true)
        XCTAssertEqual(images.status, 0, images.err)
        XCTAssertEqual(images.outLines.last, "no differences", images.out)

        let live = try CLI.run(["diff", image, "live:\(fixture.pid)"], asNobody: true)
        XCTAssertEqual(live.status, 3, live.err)
    }

    func testUnreadableCaptureExitsTwo() throws {
        try requireBPF()
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("bpfcp-no-image-\(getpid())").path
        let result = try CLI.run(["diff", missing, "live:999999"])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.errLines.count, 1, result.err)
        XCTAssertTrue(result.errLines.first?.hasPrefix("bpfcp: ") == true, result.err)
    }
}
