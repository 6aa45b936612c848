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

    func testUnreadableCaptureExitsTwo() throws {
        try requireBPF()
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("bpfcp-no-image-\(getpid())").path
        let result = try CLI.run(["diff", missing, "live:999999"])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.errLines.count, 1, result.err)
        XCTAssertTrue(result.errLines.first?.hasPrefix("bpfcp: ") == true, result.err)
    }
}
