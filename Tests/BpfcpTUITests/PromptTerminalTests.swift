@testable import BpfcpCore
import Foundation
import XCTest

/// The filter, search and path prompts of bpfcp-top, the directory `w`
/// proposes, and the status line of an image `o` cannot open, driven under tmux.
final class PromptTerminalTests: XCTestCase {
    private var scratch: String?

    override func tearDown() {
        if let scratch { try? FileManager.default.removeItem(atPath: scratch) }
    }

    private func makeScratch() throws -> String {
        var template = Array((NSTemporaryDirectory() + "bpfcp-top-prompts-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw FixtureError("mkdtemp failed") }
        scratch = String(cString: made)
        return scratch!
    }

    /// Starts bpfcp-top with `arguments` in `directory` and waits for the process list or the dump.
    private func start(_ session: TmuxSession, _ arguments: String, in directory: String? = nil, waitFor text: String) throws {
        let log = NSTemporaryDirectory() + "bpfcp-top-test-\(getpid()).log"
        let cd = directory.map { "cd \($0) && " } ?? ""
        try session.command("\(cd)BPFCP_LOG=\(log) \(try bpfcpTopBinary()) \(arguments)")
        XCTAssertTrue(session.waitFor(text), "bpfcp-top did not start:\n\(session.screen)")
    }

    /// Returns the last non-empty line of the screen, which is the footer with the prompt.
    private func footer(_ session: TmuxSession) throws -> String {
        let lines = try session.capture().split(separator: "\n", omittingEmptySubsequences: false)
        return String(lines.last { !$0.trimmingCharacters(in: .whitespaces).isEmpty } ?? "")
    }

    private func assertFooter(_ session: TmuxSession, hasPrefix prefix: String, file: StaticString = #filePath, line: UInt = #line) {
        let shown = session.waitUntil(timeout: 5) { _ in ((try? self.footer(session)) ?? "").hasPrefix(prefix) }
        XCTAssertTrue(shown, "the footer does not start with '\(prefix)': '\((try? footer(session)) ?? "")'", file: file, line: line)
    }

    private func quit(_ session: TmuxSession) throws {
        try session.keys("Escape", "Escape", "q")
        XCTAssertTrue(session.waitUntil(timeout: 10) { _ in (try? session.format("#{alternate_on}")) == "0" },
                      "bpfcp-top did not quit:\n\(session.screen)")
    }

    /// Backspace, Ctrl-W, Ctrl-U and Esc edit the filter, search and path prompts alike.
    func testPromptsEditLineAlike() throws {
        try requireBPF()
        let session = try TmuxSession(width: 140, height: 30)
        try start(session, "-d 5", waitFor: "eBPF task/dump_procs")

        try session.keys("F4")
        try session.type("abc def")
        assertFooter(session, hasPrefix: "Filter: abc def_  Enter Done  Esc Cancel  ^U Clear")
        try session.keys("C-w")
        assertFooter(session, hasPrefix: "Filter: abc _")
        try session.keys("C-w")
        assertFooter(session, hasPrefix: "Filter: _")
        try session.type("xyz")
        try session.keys("BSpace")
        assertFooter(session, hasPrefix: "Filter: xy_")
        try session.keys("C-u")
        assertFooter(session, hasPrefix: "Filter: _")
        try session.type("q")
        assertFooter(session, hasPrefix: "Filter: q_")
        try session.keys("Escape")
        XCTAssertFalse(try footer(session).contains("Filter:"), "Esc did not leave the filter prompt")

        try session.keys("F3")
        try session.type("usr/lib")
        try session.keys("C-w")
        assertFooter(session, hasPrefix: "Search: usr/_")
        try session.keys("C-u")
        assertFooter(session, hasPrefix: "Search: _")
        try session.keys("Escape")
        XCTAssertFalse(try footer(session).contains("Search:"), "Esc did not leave the search prompt")

        try session.keys("o", "C-u")
        assertFooter(session, hasPrefix: "Open image: _  Enter OK  Esc Cancel  ^U Clear")
        try session.type("/tmp/a/b c")
        try session.keys("C-w")
        assertFooter(session, hasPrefix: "Open image: /tmp/a/b _")
        try session.keys("C-w")
        assertFooter(session, hasPrefix: "Open image: /tmp/a/_")
        try session.keys("BSpace")
        assertFooter(session, hasPrefix: "Open image: /tmp/a_")
        try session.keys("Escape")
        XCTAssertFalse(try footer(session).contains("Open image:"), "Esc did not cancel the path prompt")
        try quit(session)
    }

    /// w proposes ./bpfcp-COMM-PID-HHMMSS in the current directory, and a
    /// second write of the same capture gets -2 added.
    func testWriteDefaultNamesProcess() throws {
        try requireBPF()
        let directory = try makeScratch()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "0"])
        let pid = fixture.pid
        let session = try TmuxSession(width: 160, height: 40)
        try start(session, "-d 5 -p \(pid)", in: directory, waitFor: "PID \(pid) checkpoint_targ")

        try session.keys("c")
        XCTAssertTrue(session.waitFor("capture #1 of process \(pid)"), session.screen)
        try session.keys("C", "w")
        let prefix = "Write capture #1 to: ./bpfcp-checkpoint_targ-\(pid)-"
        assertFooter(session, hasPrefix: prefix)
        let shown = try footer(session).dropFirst("Write capture #1 to: ".count)
        let proposed = String(shown[..<(shown.range(of: "_  ")?.lowerBound ?? shown.endIndex)])
        let time = proposed.split(separator: "-").last.map(String.init) ?? ""
        XCTAssertEqual(time.count, 6, "no HHMMSS in '\(proposed)'")
        XCTAssertTrue(time.allSatisfy(\.isNumber), "no HHMMSS in '\(proposed)'")

        try session.keys("Enter")
        XCTAssertTrue(session.waitFor("write capture #1 to \(proposed)? y/n"), session.screen)
        try session.keys("y")
        XCTAssertTrue(session.waitFor("capture #1 written to \(proposed)"), session.screen)
        let name = String(proposed.dropFirst(2))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [name])
        XCTAssertNoThrow(try CheckpointImage.open(directory + "/" + name))

        try session.keys("w")
        assertFooter(session, hasPrefix: "Write capture #1 to: \(proposed)-2_")
        try quit(session)
    }

    /// o on an image with a flipped byte shows the section, the reason and what to do.
    func testOpenDamagedImageNamesFix() throws {
        try requireBPF()
        let directory = try makeScratch()
        let image = directory + "/image"
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "0"])
        try Checkpointer.dump(pid: fixture.pid, to: image, options: CaptureOptions(scratchDirectory: directory), kill: false)
        let section = image + "/process-\(fixture.pid).img"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: section)))
        bytes[100] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: section))
        let stored = (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[24 + $1]) << (8 * $1) }
        let actual = CRC32C.checksum(bytes[ImageFormat.headerSize...])

        let session = try TmuxSession(width: 300, height: 30)
        try start(session, "-d 5", waitFor: "eBPF task/dump_procs")
        try session.keys("o", "C-u")
        try session.type(image)
        try session.keys("Enter")
        let message = "image \(image): section 'process-\(fixture.pid)' is corrupt: payload checksum \(CRC32C.hex(actual)) "
            + "does not match the stored \(CRC32C.hex(stored)); the image is damaged: take the checkpoint again into a new directory"
        XCTAssertTrue(session.waitFor(message), "no status line with the fix:\n\(session.screen)")
        try quit(session)
    }
}
