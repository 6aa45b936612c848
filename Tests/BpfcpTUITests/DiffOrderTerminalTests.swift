@testable import BpfcpCore
@testable import BpfcpTUI
import Foundation
import XCTest

/// The order and titles of the diffs of bpfcp-top, the mark messages, and
/// the restore of an image that restore rejects, driven under tmux.
final class DiffOrderTerminalTests: XCTestCase {
    private var scratch: String?

    override func tearDown() {
        if let scratch { try? FileManager.default.removeItem(atPath: scratch) }
    }

    private func makeScratch() throws -> String {
        var template = Array((NSTemporaryDirectory() + "bpfcp-top-order-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw FixtureError("mkdtemp failed") }
        scratch = String(cString: made)
        return scratch!
    }

    /// Marks the live process first and a capture taken before a seek second:
    /// D still shows the capture as the older side, and so does w.
    func testLiveMarkedFirstIsNewerSide() throws {
        try requireBPF()
        let fixture = try Fixture(c: "diff_steps")
        let pid = fixture.pid
        let session = try TmuxSession(width: 160, height: 50)
        try session.startTop("-d 5 -p \(pid)")
        XCTAssertTrue(session.waitFor("PID \(pid) diff_steps"), session.screen)

        try session.keys("m")
        XCTAssertTrue(session.waitFor("marked live:\(pid); mark a second side with m, then D shows the diff"), session.screen)
        try session.keys("c")
        XCTAssertTrue(session.waitFor("capture #1 of process \(pid) (diff_steps): frozen"), session.screen)
        kill(pid, SIGUSR1)
        XCTAssertTrue(waitForSeek(pid), "diff_steps did not step")

        try session.keys("C", "m")
        XCTAssertTrue(session.waitFor("marked capture #1, with live:\(pid) marked before; D shows the diff"), session.screen)
        try session.keys("D")
        XCTAssertTrue(session.waitFor("Diff capture #1 → live:\(pid)"), session.screen)
        XCTAssertTrue(session.waitFor("position 100 → 4096"), "the seek is not shown from the older side:\n\(session.screen)")
        XCTAssertTrue(try session.capture().contains("changes from capture #1 to live:\(pid)"), session.screen)
        XCTAssertTrue(try session.capture().contains(
            "registers, saved memory and saved files are not compared: live:\(pid) is a live process, for which they are not captured"),
            session.screen)

        try session.keys("Escape", "m")
        XCTAssertTrue(session.waitFor("unmarked capture #1; still marked: live:\(pid)"), session.screen)
        try session.keys("w", "C-u")
        try session.type(try makeScratch() + "/image")
        try session.keys("Enter")
        XCTAssertTrue(session.waitFor("Before writing capture #1: what live:\(pid) changed since this capture"), session.screen)
        XCTAssertTrue(session.waitFor("position 100 → 4096"), session.screen)
        try session.keys("n")
        XCTAssertTrue(session.waitFor("cancelled: nothing was written or restored"), session.screen)
        try session.quitTop()
    }

    /// Waits until diff_steps has moved its seek fd to 4096, which it does on SIGUSR1.
    private func waitForSeek(_ pid: Int32) -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fdinfo")) ?? []
            for fd in fds {
                let info = (try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8)) ?? ""
                if info.hasPrefix("pos:\t4096\n") { return true }
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    /// An image taken with --only is rejected before the question, and the
    /// whole rejection, with what to do, is on the screen.
    func testRestoreRejectsOnlyImageFirst() throws {
        try requireBPF()
        let fixture = try Fixture(c: "files_basic")
        let image = try makeScratch() + "/image"
        let bpfcp = Fixture.repositoryRoot() + "/.build/debug/bpfcp"
        let (status, output) = try spawnAndWait(bpfcp, ["dump", "\(fixture.pid)", "-D", image, "--only", "files"])
        XCTAssertEqual(status, 0, output)
        let rejection = try XCTUnwrap(rejectionMessage(image))
        XCTAssertTrue(rejection.contains("checkpoint it again without --only"), rejection)

        let session = try TmuxSession(width: 120, height: 40)
        try session.startTop("-d 5 -p \(fixture.pid)")
        XCTAssertTrue(session.waitFor("PID \(fixture.pid) files_basic"), session.screen)
        try session.keys("R", "C-u")
        try session.type(image)
        try session.keys("Enter")
        XCTAssertTrue(session.waitFor("Restore of \(image) rejected (Esc closes this message)"), session.screen)

        XCTAssertEqual(try messageShown(session, image: image), rejection, session.screen)
        XCTAssertFalse(try session.capture().contains("y/n"), "restore asked before rejecting:\n\(session.screen)")
        try session.resize(width: 80, height: 40)
        XCTAssertEqual(try messageShown(session, image: image), rejection, "not wrapped again at 80 columns:\n\(session.screen)")
        try session.keys("Escape")
        XCTAssertTrue(session.waitFor("PID \(fixture.pid) files_basic"), "Esc did not close the message:\n\(session.screen)")
        try session.quitTop()
        XCTAssertTrue(processAlive(fixture.pid))
    }

    /// Returns the lines of the message screen joined into one, as the status bar would show them.
    private func messageShown(_ session: TmuxSession, image: String) throws -> String {
        let lines = try session.capture().split(separator: "\n").map(String.init)
        let title = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("Restore of \(image) rejected") }, session.screen)
        return lines[(title + 1)...].prefix { $0.hasPrefix("  ") }.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
    }

    /// Returns the message restore rejects the image at `path` with, as the status bar would show it.
    private func rejectionMessage(_ path: String) throws -> String? {
        do {
            try Restore.check(try CheckpointImage.open(path), imageDirectory: path)
            return nil
        } catch {
            return Worker.oneLine(error).message
        }
    }
}
