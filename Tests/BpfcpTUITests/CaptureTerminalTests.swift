@testable import BpfcpCore
import Foundation
import XCTest

/// Checkpoints, diffs, images, restore and the family view of bpfcp-top,
/// driven under tmux as a person uses them.
final class CaptureTerminalTests: XCTestCase {
    private var scratch: String?

    override func tearDown() {
        if let scratch { try? FileManager.default.removeItem(atPath: scratch) }
    }

    private func makeScratch() throws -> String {
        var template = Array((NSTemporaryDirectory() + "bpfcp-top-images-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw FixtureError("mkdtemp failed") }
        scratch = String(cString: made)
        return scratch!
    }

    /// Starts bpfcp-top with `arguments`, and with TMPDIR set to `temporary` when given.
    private func start(_ session: TmuxSession, _ arguments: String, temporary: String? = nil) throws {
        let log = NSTemporaryDirectory() + "bpfcp-top-test-\(getpid()).log"
        let tmpdir = temporary.map { "TMPDIR=\($0) " } ?? ""
        try session.command("\(tmpdir)BPFCP_LOG=\(log) \(try bpfcpTopBinary()) \(arguments)")
    }

    private func quit(_ session: TmuxSession, file: StaticString = #filePath, line: UInt = #line) throws {
        let top = try session.foregroundPid()
        try session.keys("Escape", "Escape", "q")
        XCTAssertTrue(session.waitUntil(timeout: 10) { _ in (try? session.format("#{alternate_on}")) == "0" },
                      "bpfcp-top did not quit:\n\(session.screen)", file: file, line: line)
        if let top {
            let left = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp"))?.filter { $0.hasPrefix("bpfcp-top-\(top)-") } ?? []
            XCTAssertEqual(left, [], "the page directory was not removed on exit", file: file, line: line)
        }
    }

    private func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? Int) ?? -1
    }

    /// Takes c twice around a seek, marks both in C and checks that D shows the
    /// exact change. Then w shows the diff against the previous capture and
    /// writes after y, and o opens the image.
    func testCheckpointDiffWriteOpen() throws {
        try requireBPF()
        let fixture = try Fixture(c: "diff_steps")
        let pid = fixture.pid
        let seekFd = try XCTUnwrap(fixture.values["seek_fd"])
        let image = try makeScratch() + "/image"
        let session = try TmuxSession(width: 140, height: 60)
        try start(session, "-d 5 -p \(pid)")
        XCTAssertTrue(session.waitFor("PID \(pid) diff_steps"), "the dump did not open:\n\(session.screen)")

        try session.keys("c")
        XCTAssertTrue(session.waitFor("capture #1 of process \(pid) (diff_steps): frozen"), "no capture #1:\n\(session.screen)")
        XCTAssertTrue(processAlive(pid))
        kill(pid, SIGUSR1)
        Thread.sleep(forTimeInterval: 0.5)
        try session.keys("c")
        XCTAssertTrue(session.waitFor("capture #2 of process \(pid) (diff_steps): frozen"), "no capture #2:\n\(session.screen)")
        XCTAssertEqual(Freezer.tracerPid(of: pid), 0, "the target is still traced after the checkpoint")

        try session.keys("C")
        XCTAssertTrue(session.waitFor("FROZEN"), "the captures list did not open")
        let rows = try session.capture().split(separator: "\n").filter { $0.contains(" \(pid) diff_steps") && $0.contains(" ms ") }
        XCTAssertEqual(rows.count, 2, "the captures list should show two captures:\n\(session.screen)")

        try session.keys("m", "Down", "m")
        XCTAssertTrue(session.waitFor("D shows the diff"), "marking two captures is not confirmed:\n\(session.screen)")
        try session.keys("D")
        XCTAssertTrue(session.waitFor("Diff capture #1 → capture #2"), "the diff view did not open:\n\(session.screen)")
        XCTAssertTrue(session.waitFor("~ fd \(seekFd)"), "the seek fd is not listed as changed:\n\(session.screen)")
        XCTAssertTrue(session.waitFor("position 100 → 4096"), "the diff does not show the seek:\n\(session.screen)")
        XCTAssertTrue(try session.capture().contains("Files: 1 added, 1 removed, 1 changed"), session.screen)

        try session.keys("Escape", "w", "C-u")
        try session.type(image)
        try session.keys("Enter")
        XCTAssertTrue(session.waitFor("Before writing capture #2: what changed since capture #1"), session.screen)
        XCTAssertTrue(session.waitFor("position 100 → 4096"), "the diff before writing is missing the seek:\n\(session.screen)")
        XCTAssertTrue(session.waitFor("write capture #2 to \(image)? y/n"), session.screen)
        XCTAssertFalse(FileManager.default.fileExists(atPath: image), "the image was written before the answer")
        try session.keys("y")
        XCTAssertTrue(session.waitFor("capture #2 written to \(image)"), "the image was not written:\n\(session.screen)")

        XCTAssertEqual(try mode(image), 0o700)
        for file in try FileManager.default.contentsOfDirectory(atPath: image) {
            XCTAssertEqual(try mode(image + "/" + file), 0o600, file)
        }
        let (status, text) = try spawnAndWait(Fixture.repositoryRoot() + "/.build/debug/bpfcp", ["show", image, "files"])
        XCTAssertEqual(status, 0, text)
        XCTAssertTrue(text.contains("diff_steps"), text)

        try session.keys("Escape", "o", "C-u")
        try session.type(image)
        try session.keys("Enter")
        XCTAssertTrue(session.waitFor("PID \(pid) diff_steps | \(image) (checkpoint)"), "o did not open the image:\n\(session.screen)")
        try quit(session)
        XCTAssertTrue(processAlive(pid))
    }

    func testIoUringCheckpointErrorLine() throws {
        try requireBPF()
        let fixture = try Fixture(c: "io_uring_holder")
        let session = try TmuxSession()
        try start(session, "-p \(fixture.pid)")
        XCTAssertTrue(session.waitFor("PID \(fixture.pid) io_uring_holder"), session.screen)
        try session.keys("c")
        XCTAssertTrue(session.waitFor("checkpoint of process \(fixture.pid) failed: process \(fixture.pid) (io_uring_holder) has an io_uring instance"),
                      session.screen)
        XCTAssertTrue(processAlive(fixture.pid))
        try quit(session)
    }

    func testReadOnlyBlocksCheckpoint() throws {
        try requireBPF()
        let fixture = try Fixture(c: "files_basic")
        let session = try TmuxSession()
        try start(session, "--readonly -p \(fixture.pid)")
        XCTAssertTrue(session.waitFor("PID \(fixture.pid) files_basic"))
        try session.keys("c")
        XCTAssertTrue(session.waitFor("--readonly disables Checkpoint, which holds every thread of the process while it reads its state"), session.screen)
        try session.keys("R")
        XCTAssertTrue(session.waitFor("--readonly disables Restore, which creates a process"), session.screen)
        try session.keys("C")
        XCTAssertTrue(session.waitFor("no captures yet"), session.screen)
        try quit(session)
    }

    /// Restores with R a fixture captured, written and killed, checks the
    /// verification shown, and runs the restored copy's self-check.
    func testRestoreImageOfKilledFixture() throws {
        try requireBPF()
        let dir = try makeScratch()
        let fixture = try Fixture(c: "restore_basic", arguments: [dir, "1", "2"])
        let pid = fixture.pid
        try waitStdoutNull(pid)
        let image = dir + "/image"
        let temporary = dir + "/tmp"
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: false)
        let session = try TmuxSession(width: 160, height: 50)
        try start(session, "-d 5 -p \(pid)", temporary: temporary)
        XCTAssertTrue(session.waitFor("PID \(pid) restore_basic"), session.screen)

        try session.keys("c")
        XCTAssertTrue(session.waitFor("capture #1 of process \(pid)"), session.screen)
        try session.keys("C", "w", "C-u")
        try session.type(image)
        try session.keys("Enter")
        XCTAssertTrue(session.waitFor("Before writing capture #1: what live:\(pid) changed since this capture"), session.screen)
        try session.keys("y")
        XCTAssertTrue(session.waitFor("capture #1 written to"), session.screen)
        fixture.stop()

        try session.keys("R", "C-u")
        try session.type(image)
        try session.keys("Enter")
        XCTAssertTrue(session.waitFor("no live process \(pid): restore creates it again"), session.screen)
        XCTAssertTrue(session.waitFor("restore process \(pid) from \(image)? y/n"), session.screen)
        try session.keys("y")
        XCTAssertTrue(session.waitFor("restored process \(pid) from \(image)", timeout: 30), session.screen)
        defer { kill(pid, SIGKILL) }
        XCTAssertTrue(session.waitFor("verification ("), session.screen)
        let screen = try session.capture()
        XCTAssertTrue(screen.contains("0 unexpected"), "the verification found unexpected differences:\n\(screen)")
        XCTAssertTrue(screen.contains("expected "), screen)
        XCTAssertTrue(screen.contains("(restore is the new parent)"), screen)
        // Its stdio is /dev/null, so nothing goes to a log and no log directory stays.
        XCTAssertFalse(screen.contains("terminal output goes to"), screen)
        let left = try FileManager.default.contentsOfDirectory(atPath: temporary).filter { $0.hasPrefix("bpfcp-restored-") }
        XCTAssertEqual(left, [])
        XCTAssertEqual(try askRestored(dir), "pass", "the restored process fails its self-check")
        try quit(session)
    }

    /// The family view of the demo shows the pipe from the parent to the child,
    /// and g on a socket row opens the peer's dump.
    func testFamilyViewAndPeer() throws {
        try requireBPF()
        let session = try TmuxSession(width: 160, height: 45)
        try start(session, "--demo")
        XCTAssertTrue(session.waitFor(" bpfcp-demo | live dump"), session.screen)
        let header = try session.capture().split(separator: "\n").first ?? ""
        let parent = try XCTUnwrap(Int32(header.split(separator: " ")[1]))

        try session.keys("F")
        XCTAssertTrue(session.waitFor("Channels between processes"), session.screen)
        let lines = try session.capture().split(separator: "\n")
        let child = try XCTUnwrap(lines.first { $0.contains("bpfcp-demo-kid") && $0.contains("└─") })
        let childPid = try XCTUnwrap(child.split(separator: " ").compactMap { Int32($0) }.first)
        let pipe = lines.contains { $0.contains("pipe:[") && $0.contains("\(parent) bpfcp-demo fd") && $0.contains("\(childPid) bpfcp-demo-kid fd") }
        XCTAssertTrue(pipe, "no pipe between \(parent) and \(childPid):\n\(session.screen)")
        let socket = lines.first { $0.contains("socket: ") } ?? ""
        XCTAssertTrue(socket.contains("⇄"), "no socket between the demo processes:\n\(session.screen)")

        try session.keys("Escape")
        let sockets = try XCTUnwrap(KindRegistry.all.firstIndex { $0.name == "sockets" }) + 1
        for _ in 0..<sockets { try session.keys("Tab", pause: 0.1) }
        try session.keys("g")
        XCTAssertTrue(session.waitFor("PID \(childPid) bpfcp-demo-kid"), "g did not open the peer:\n\(session.screen)")
        try quit(session)
    }

    /// Waits until the fixture has moved its stdout from the harness pipe to /dev/null.
    private func waitStdoutNull(_ pid: Int32) throws {
        for _ in 0..<1000 {
            if ProcFS.readLink("/proc/\(pid)/fd/1") == Array("/dev/null".utf8) { return }
            usleep(1000)
        }
        throw FixtureError("fixture \(pid) kept its stdout pipe")
    }

    /// Restores with R an image whose process still runs: the diff against
    /// the live process comes first, and the copy gets a new pid.
    func testRestoreWhileRunningUsesNewPid() throws {
        try requireBPF()
        let dir = try makeScratch()
        let fixture = try Fixture(c: "restore_basic", arguments: [dir, "1", "1"])
        let pid = fixture.pid
        try waitStdoutNull(pid)
        let image = dir + "/image"
        let session = try TmuxSession(width: 160, height: 50)
        try start(session, "-d 5 -p \(pid)")
        XCTAssertTrue(session.waitFor("PID \(pid) restore_basic"), session.screen)
        try session.keys("c")
        XCTAssertTrue(session.waitFor("capture #1 of process \(pid)"), session.screen)
        try session.keys("C", "w", "C-u")
        try session.type(image)
        try session.keys("Enter")
        XCTAssertTrue(session.waitFor("write capture #1 to"), session.screen)
        try session.keys("y")
        XCTAssertTrue(session.waitFor("capture #1 written to"), session.screen)

        try session.keys("R", "C-u")
        try session.type(image)
        try session.keys("Enter")
        XCTAssertTrue(session.waitFor("Before restoring: the image against the live process \(pid)"), session.screen)
        XCTAssertTrue(session.waitFor("process \(pid) still runs: restore a copy of it with a new pid? y/n"), session.screen)
        try session.keys("y")
        XCTAssertTrue(session.waitFor("(the image had \(pid), which was taken)", timeout: 30), session.screen)
        let line = try session.capture().split(separator: "\n").first { $0.hasPrefix("restored process ") } ?? ""
        let copy = Int32(line.split(separator: " ").dropFirst(2).first ?? "") ?? 0
        XCTAssertGreaterThan(copy, 0, "no restored pid in: \(line)")
        XCTAssertNotEqual(copy, pid)
        if copy > 0 { kill(copy, SIGKILL) }
        XCTAssertTrue(processAlive(pid), "the original process did not survive the restore of its copy")
        try quit(session)
    }

    /// Asks a restore_basic process for its self-check through DIR/check and DIR/result.
    private func askRestored(_ dir: String) throws -> String {
        try? FileManager.default.removeItem(atPath: dir + "/result")
        FileManager.default.createFile(atPath: dir + "/check", contents: Data())
        for _ in 0..<100 {
            if let text = try? String(contentsOfFile: dir + "/result", encoding: .utf8), !text.isEmpty {
                return String(text.split(separator: " ").first ?? "")
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return "no answer"
    }
}

/// Quitting while a checkpoint holds its target must release the target.
final class CaptureQuitTests: XCTestCase {
    private func assertReleased(_ pid: Int32, file: StaticString = #filePath, line: UInt = #line) throws {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let fields = ProcFS.keyValues(status)
        XCTAssertEqual(fields["TracerPid"], "0", "the target is still traced", file: file, line: line)
        let state = fields["State"] ?? ""
        XCTAssertFalse(state.hasPrefix("t") || state.hasPrefix("T"), "the target is left stopped: \(state)", file: file, line: line)
    }

    private func quitDuringCheckpoint(_ quit: (TmuxSession, Int32) throws -> Void) throws {
        try requireBPF()
        let dir = NSTemporaryDirectory() + "bpfcp-top-quit-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fixture = try Fixture(c: "restore_basic", arguments: [dir, "768", "1"])
        let session = try TmuxSession()
        let log = NSTemporaryDirectory() + "bpfcp-top-test-\(getpid()).log"
        try session.command("BPFCP_LOG=\(log) \(try bpfcpTopBinary()) -p \(fixture.pid)")
        XCTAssertTrue(session.waitFor("PID \(fixture.pid) restore_basic"), session.screen)
        let top = try XCTUnwrap(try session.foregroundPid())

        try session.keys("c", pause: 0.05)
        XCTAssertTrue(session.waitFor("checkpointing process \(fixture.pid)", timeout: 2), session.screen)
        try quit(session, top)
        XCTAssertTrue(session.waitUntil(timeout: 15) { _ in (try? session.format("#{alternate_on}")) == "0" },
                      "bpfcp-top did not quit during the checkpoint:\n\(session.screen)")
        XCTAssertTrue(session.waitUntil(timeout: 5) { _ in !processAlive(top) }, "bpfcp-top is still running")
        try assertReleased(fixture.pid)
        XCTAssertTrue(processAlive(fixture.pid))
        let left = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp"))?.filter { $0.hasPrefix("bpfcp-top-\(top)-") } ?? []
        XCTAssertEqual(left, [], "the page directory was not removed")
    }

    func testCtrlCDuringCheckpointReleasesTarget() throws {
        try quitDuringCheckpoint { session, _ in try session.keys("C-c", pause: 0) }
    }

    func testSigtermDuringCheckpointReleasesTarget() throws {
        try quitDuringCheckpoint { _, top in kill(top, SIGTERM) }
    }
}
