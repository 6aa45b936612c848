@testable import BpfcpCore
import Foundation
import XCTest

/// Runs the bpfcp binary against a fixture and ends it in the middle of a checkpoint.
final class CheckpointCLITests: XCTestCase {
    private var scratch = ""

    override func setUpWithError() throws {
        scratch = try CheckpointSupport.scratchDirectory("cli")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// Starts `bpfcp dump PID -D DIR` and returns once it holds the fixture.
    private func startDumpHoldingTarget(_ fixture: Fixture, dir: String) throws -> Process {
        let bpfcp = Process()
        bpfcp.executableURL = URL(fileURLWithPath: try CheckpointSupport.bpfcpBinary())
        bpfcp.arguments = ["dump", "\(fixture.pid)", "-D", dir]
        bpfcp.standardOutput = FileHandle.nullDevice
        bpfcp.standardError = FileHandle.nullDevice
        try bpfcp.run()
        let traced = CheckpointSupport.waitUntil(20) { (Freezer.tracerPid(of: fixture.pid) ?? 0) == bpfcp.processIdentifier }
        XCTAssertTrue(traced, "bpfcp never held the fixture")
        return bpfcp
    }

    func testReleasedWhenDumperKilled() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["512", "3"])
        let dir = scratch + "/image"
        let bpfcp = try startDumpHoldingTarget(fixture, dir: dir)

        kill(bpfcp.processIdentifier, SIGKILL)
        bpfcp.waitUntilExit()
        XCTAssertEqual(bpfcp.terminationReason, .uncaughtSignal)
        CheckpointSupport.assertReleased(fixture.pid)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir), "a killed dump leaves no image")
    }

    func testReleasedOnSigint() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["512", "3"])
        let dir = scratch + "/image"
        let bpfcp = try startDumpHoldingTarget(fixture, dir: dir)

        kill(bpfcp.processIdentifier, SIGINT)
        bpfcp.waitUntilExit()
        XCTAssertEqual(bpfcp.terminationStatus, 1)
        CheckpointSupport.assertReleased(fixture.pid)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch), [], "the staging directory and page store are removed")
    }

    func testDumpThenShow() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "1"])
        let dir = scratch + "/image"
        let dump = try runBpfcp(["dump", "\(fixture.pid)", "-D", dir])
        XCTAssertEqual(dump.status, 0, dump.output)
        XCTAssertTrue(dump.output.hasPrefix("checkpoint of process \(fixture.pid) written to \(dir): 1 process, 2 threads"), dump.output)
        XCTAssertTrue(dump.output.contains("frozen time "), dump.output)
        CheckpointSupport.assertReleased(fixture.pid)

        let show = try runBpfcp(["show", dir, "registers"])
        XCTAssertEqual(show.status, 0, show.output)
        XCTAssertTrue(show.output.contains("Registers (2)"), show.output)
        XCTAssertFalse(show.output.contains("Saved memory"), "only the requested kind is shown")

        let json = try runBpfcp(["--json", "show", dir])
        let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        XCTAssertEqual((object?["image"] as? [String: Any])?["root_pid"] as? Int, Int(fixture.pid))

        let notImage = try runBpfcp(["show", scratch])
        XCTAssertEqual(notImage.status, 1)
        XCTAssertEqual(notImage.error, "bpfcp: \(scratch) is not a bpfcp image: manifest.img not found; give the directory that `bpfcp dump PID -D DIR` wrote\n")
    }

    func testDumpKillEndsTarget() throws {
        try requireBPF()
        // restore_basic is restorable: one thread, private memory, plain files, stdio on /dev/null.
        let dir = try RestoredProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fixture = try Fixture(c: "restore_basic", arguments: [dir, "1", "1"])
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")

        let result = try runBpfcp(["dump", "\(fixture.pid)", "-D", scratch + "/image", "--kill"])
        XCTAssertEqual(result.status, 0, result.error)
        fixture.process.waitUntilExit()
        XCTAssertEqual(fixture.process.terminationReason, .uncaughtSignal)
        XCTAssertEqual(fixture.process.terminationStatus, SIGKILL)
        XCTAssertNoThrow(try CheckpointImage.open(scratch + "/image"))
    }

    /// A loop appends to a log without pause. The image's position of the log
    /// fd must equal the log's size: the target ran nothing after its capture.
    func testDumpKillRunsNothingAfterCapture() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = dir + "/log"
        let script = "exec </dev/null 2>/dev/null 3>>\(log); echo READY pid=$$; exec >/dev/null; i=0; while :; do i=$((i+1)); echo $i >&3; done"
        let fixture = try Fixture(executable: try Fixture.compile("exec_clean"), arguments: ["/bin/bash", "-c", script])
        defer { fixture.stop() }
        XCTAssertTrue(CheckpointSupport.waitUntil(5) { Self.fileSize(log) > 4096 }, "the loop does not write")

        let result = try CLI.run(["dump", "\(fixture.pid)", "-D", scratch + "/image", "--kill"])
        XCTAssertEqual(result.status, 0, result.err)
        fixture.process.waitUntilExit()
        XCTAssertEqual(fixture.process.terminationStatus, SIGKILL)

        let image = try CheckpointImage.open(scratch + "/image")
        let logFd = try XCTUnwrap(try image.processes[0].items("files", as: OpenFile.self).first { $0.fd == 3 })
        XCTAssertEqual(logFd.position, Int64(Self.fileSize(log)))
    }

    private static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    func testDumpKillKeepsUnrestorableTarget() throws {
        try requireBPF()
        // An established TCP connection over 127.0.0.1, which restore rejects.
        let fixture = try Fixture(c: "restore_refused", arguments: ["tcp"])
        let image = scratch + "/image"
        // CLI.run reaps bpfcp itself: Foundation's Process would not notice it
        // exit while the fixture, started earlier, keeps running.
        let result = try CLI.run(["dump", "\(fixture.pid)", "-D", image, "--kill"])

        XCTAssertEqual(result.status, 1, result.out + result.err)
        XCTAssertEqual(result.errLines.count, 1, result.err)
        let line = try XCTUnwrap(result.errLines.first)
        XCTAssertTrue(line.hasPrefix("bpfcp: process \(fixture.pid) was not killed because its image could not be restored (cannot restore process \(fixture.pid): fd "), line)
        XCTAssertTrue(line.hasSuffix("the image \(image) is kept and the process runs on; release that resource in the process and dump again, or leave out --kill"), line)
        XCTAssertFalse(line.contains("nothing was created"), line)

        XCTAssertTrue(fixture.process.isRunning)
        CheckpointSupport.assertReleased(fixture.pid)
        XCTAssertNoThrow(try CheckpointImage.open(image))
    }

    func testKilledDumpPartialRemovedByNextDump() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["512", "1"])
        let bpfcp = Process()
        bpfcp.executableURL = URL(fileURLWithPath: try CheckpointSupport.bpfcpBinary())
        bpfcp.arguments = ["dump", "\(fixture.pid)", "-D", scratch + "/image"]
        bpfcp.standardOutput = FileHandle.nullDevice
        bpfcp.standardError = FileHandle.nullDevice
        try bpfcp.run()

        // The staging directory exists from its creation to the final rename,
        // which includes a checksum pass over 512 MiB of pages.
        var partial: String?
        let seen = CheckpointSupport.waitUntil(60) {
            partial = (try? FileManager.default.contentsOfDirectory(atPath: scratch))?.first { $0.hasPrefix(".image.partial-") }
            return partial != nil
        }
        kill(bpfcp.processIdentifier, SIGKILL)
        bpfcp.waitUntilExit()
        XCTAssertTrue(seen, "the dump never created its staging directory")
        let name = try XCTUnwrap(partial)
        XCTAssertTrue(FileManager.default.fileExists(atPath: scratch + "/" + name), "the killed dump left its staging directory")
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch + "/image"))

        let show = try CLI.run(["show", scratch + "/" + name])
        XCTAssertEqual(show.status, 1)
        XCTAssertEqual(show.errLines, ["bpfcp: \(scratch)/\(name) is not a bpfcp image: it is an unfinished image: bpfcp process \(bpfcp.processIdentifier) stopped before finishing it; take the checkpoint again, which removes it, or remove it with rm -r \(scratch)/\(name)"])

        let showMissing = try CLI.run(["show", scratch + "/image"])
        XCTAssertEqual(showMissing.status, 1)
        XCTAssertEqual(showMissing.errLines, ["bpfcp: \(scratch)/image is not a bpfcp image: directory not found; an earlier write of it was interrupted and left \(scratch)/\(name), which can be removed (rm -r \(scratch)/\(name)); take the checkpoint again"])

        // The staging directory of a writer that still runs, this test process, stays.
        let running = ".other.partial-\(getpid())-\(PartialDirectory.startTime(getpid()) ?? 0)-1"
        XCTAssertEqual(mkdir(scratch + "/" + running, 0o700), 0)
        let next = try CLI.run(["dump", "\(fixture.pid)", "-D", scratch + "/second"])
        XCTAssertEqual(next.status, 0, next.err)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch).sorted(), [running, "second"].sorted())
    }

    private func runBpfcp(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try CheckpointSupport.bpfcpBinary())
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let error = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self))
    }
}
