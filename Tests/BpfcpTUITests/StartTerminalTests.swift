@testable import BpfcpCore
import Foundation
import XCTest

/// What a first-time user sees of bpfcp-top: the row the cursor starts on,
/// the "running for" time of a capture and of its image, the tab bar, the
/// key bar and the help screen, driven under tmux.
final class StartTerminalTests: XCTestCase {
    private var scratch: String?

    override func tearDown() {
        if let scratch { try? FileManager.default.removeItem(atPath: scratch) }
    }

    private func makeScratch() throws -> String {
        var template = Array((NSTemporaryDirectory() + "bpfcp-top-start-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw FixtureError("mkdtemp failed") }
        scratch = String(cString: made)
        return scratch!
    }

    /// Returns the process rows of the list as (plain text, selected), read
    /// from the escapes tmux sends: without colors (-C) the selected row is
    /// reverse video and the column titles are reverse and bold.
    private func listRows(_ session: TmuxSession) throws -> [(text: String, selected: Bool)] {
        let lines = try session.capture(escapes: true).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let header = lines.firstIndex(where: { $0.contains("COMMAND") }) else { return [] }
        return lines[(header + 1)...].prefix(while: { !plain($0).trimmingCharacters(in: .whitespaces).isEmpty }).map { line in
            (plain(line), reverseOnly(line))
        }
    }

    private func plain(_ line: String) -> String {
        line.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
    }

    /// True when the first attributes of `line` turn on reverse video without bold.
    private func reverseOnly(_ line: String) -> Bool {
        guard line.hasPrefix("\u{1B}["), let end = line.firstIndex(of: "m") else { return false }
        let codes = line[line.index(line.startIndex, offsetBy: 2)..<end].split(separator: ";")
        return codes.contains("7") && !codes.contains("1")
    }

    /// Waits until a refresh has measured some CPU time, which re-sorts the list by CPU%.
    private func waitForCPUSort(_ session: TmuxSession, file: StaticString = #filePath, line: UInt = #line) {
        let sorted = session.waitUntil(timeout: 15) { _ in
            ((try? self.listRows(session)) ?? []).contains { $0.text.range(of: " [0-9]+\\.[0-9] ", options: .regularExpression) != nil
                && !$0.text.contains(" 0.0 ") }
        }
        XCTAssertTrue(sorted, "no refresh measured CPU time:\n\(session.screen)", file: file, line: line)
    }

    private func assertTopRowSelected(_ session: TmuxSession, file: StaticString = #filePath, line: UInt = #line) throws {
        let rows = try listRows(session)
        XCTAssertGreaterThan(rows.count, 1, session.screen, file: file, line: line)
        XCTAssertEqual(rows.firstIndex { $0.selected }, 0, "the cursor is not on the top row:\n\(session.screen)", file: file, line: line)
    }

    func testCursorStartsOnTopRow() throws {
        try requireBPF()
        let session = try TmuxSession()
        try session.startTop("-C -d 5")
        XCTAssertTrue(session.waitFor("CPU%v"), session.screen)
        waitForCPUSort(session)
        try assertTopRowSelected(session)
        try session.quitTop()
    }

    func testRejectedPidKeepsTopRow() throws {
        try requireBPF()
        for (pid, message) in [("2", "process 2 (kthreadd) is a kernel thread"), ("999999", "999999")] {
            let session = try TmuxSession()
            try session.startTop("-C -d 5 -p \(pid)")
            XCTAssertTrue(session.waitFor(message), "no rejection of -p \(pid):\n\(session.screen)")
            waitForCPUSort(session)
            try assertTopRowSelected(session)
            try session.quitTop()
        }
    }

    func testDumpedPidStaysSelected() throws {
        try requireBPF()
        let fixture = try Fixture(c: "files_basic")
        let session = try TmuxSession()
        try session.startTop("-C -d 5 -p \(fixture.pid)")
        XCTAssertTrue(session.waitFor("PID \(fixture.pid) files_basic"), session.screen)
        let pidCell = String(repeating: " ", count: max(0, 7 - "\(fixture.pid)".count)) + "\(fixture.pid) "
        let fixtureSelected = { ((try? self.listRows(session)) ?? []).first { $0.selected }?.text.hasPrefix(pidCell) == true }

        try session.keys("Escape")
        XCTAssertTrue(session.waitFor("CPU%v"), session.screen)
        XCTAssertTrue(session.waitUntil { _ in fixtureSelected() }, "the dumped process is not selected:\n\(session.screen)")
        try session.keys(">")
        XCTAssertTrue(session.waitFor("sort: COMMAND asc"), session.screen)
        XCTAssertTrue(fixtureSelected(), "the cursor left the dumped process on a new sort:\n\(session.screen)")
        try session.quitTop()
    }

    /// Returns the value of the Overview's "running for" row, e.g. "12.34s".
    private func runningFor(_ session: TmuxSession) throws -> String {
        let row = try session.capture().split(separator: "\n").first { $0.contains("running for") } ?? ""
        return row.split(separator: " ").last.map(String.init) ?? ""
    }

    /// The time a capture shows stays the time at the capture, when browsed
    /// again later and in the image written from it.
    func testRunningForIsCaptureTime() throws {
        try requireBPF()
        let fixture = try Fixture(c: "files_basic")
        let pid = fixture.pid
        let image = try makeScratch() + "/image"
        let session = try TmuxSession()
        try session.startTop("-d 5 -p \(pid)")
        XCTAssertTrue(session.waitFor("PID \(pid) files_basic"), session.screen)
        try session.keys("c")
        XCTAssertTrue(session.waitFor("capture #1 of process \(pid) (files_basic): frozen"), session.screen)

        try session.keys("C", "Enter")
        XCTAssertTrue(session.waitFor("capture #1 (checkpoint)"), session.screen)
        let first = try runningFor(session)
        XCTAssertTrue(first.hasSuffix("s"), "no running time in seconds:\n\(session.screen)")
        // Lets the clock move past the 10 ms the time is shown with.
        Thread.sleep(forTimeInterval: 1.1)
        try session.keys("Escape", "C", "Enter")
        XCTAssertTrue(session.waitFor("capture #1 (checkpoint)"), session.screen)
        XCTAssertEqual(try runningFor(session), first, "the running time of the capture moved")

        try session.keys("Escape", "C", "w", "C-u")
        try session.type(image)
        try session.keys("Enter")
        XCTAssertTrue(session.waitFor("write capture #1 to \(image)? y/n"), session.screen)
        try session.keys("y")
        XCTAssertTrue(session.waitFor("capture #1 written to \(image)"), session.screen)
        try session.keys("o", "C-u")
        try session.type(image)
        try session.keys("Enter")
        XCTAssertTrue(session.waitFor("\(image) (checkpoint)"), session.screen)
        XCTAssertEqual(try runningFor(session), first, "the image shows another running time than its capture")
        try session.quitTop()
    }

    func testTabBarMarksHiddenTabs() throws {
        try requireBPF()
        let fixture = try Fixture(c: "files_basic")
        let session = try TmuxSession(width: 200, height: 40)
        try session.startTop("-p \(fixture.pid)")
        XCTAssertTrue(session.waitFor("PID \(fixture.pid) files_basic"), session.screen)
        let tabBar = { (try? session.capture().split(separator: "\n", omittingEmptySubsequences: false)[2]).map(String.init) ?? "" }

        XCTAssertTrue(tabBar().hasPrefix(" Overview "), tabBar())
        XCTAssertTrue(tabBar().hasSuffix(">"), "no marker for the tabs cut on the right: '\(tabBar())'")
        XCTAssertFalse(tabBar().contains("Timers"), tabBar())

        try session.keys("BTab")
        XCTAssertTrue(session.waitUntil { _ in tabBar().hasPrefix("< ") }, "no marker for the tabs cut on the left: '\(tabBar())'")
        XCTAssertTrue(tabBar().trimmingCharacters(in: .whitespaces).hasSuffix(" Timers"), tabBar())

        // An image has three more tabs after the kinds.
        let image = try makeScratch() + "/image"
        let (status, output) = try spawnAndWait(Fixture.repositoryRoot() + "/.build/debug/bpfcp",
                                                ["dump", "\(fixture.pid)", "-D", image])
        XCTAssertEqual(status, 0, output)
        try session.keys("o", "C-u")
        try session.type(image)
        try session.keys("Enter")
        XCTAssertTrue(session.waitFor("\(image) (checkpoint)"), session.screen)
        XCTAssertTrue(tabBar().hasSuffix(">"), "no marker for the image tabs cut on the right: '\(tabBar())'")
        XCTAssertFalse(tabBar().contains("Registers"), tabBar())
        try session.keys("BTab")
        XCTAssertTrue(session.waitUntil { _ in tabBar().trimmingCharacters(in: .whitespaces).hasSuffix(" Saved files") },
                      "Shift-Tab did not show the last image tab: '\(tabBar())'")
        XCTAssertTrue(tabBar().hasPrefix("< "), tabBar())
        XCTAssertTrue(tabBar().contains(" Registers "), tabBar())
        try session.quitTop()
    }

    func testNarrowKeyBarShowsHelpAndQuit() throws {
        try requireBPF()
        let session = try TmuxSession(width: 80, height: 30)
        try session.startTop("-d 5")
        XCTAssertTrue(session.waitFor("CPU%v"), session.screen)
        let footer = try session.capture().split(separator: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty } ?? ""
        XCTAssertTrue(footer.hasPrefix("F1 Help  q Quit  Enter Dump"), "'\(footer)'")
        try session.quitTop()
    }

    /// The help screen shows whole mode names and describes the diff of D.
    func testHelpColumnsAndDiffText() throws {
        try requireBPF()
        let session = try TmuxSession(width: 120, height: 70)
        try session.startTop("-d 5")
        XCTAssertTrue(session.waitFor("CPU%v"), session.screen)
        try session.keys("F1")
        XCTAssertTrue(session.waitFor("Keys (arrows and pages scroll"), session.screen)
        let lines = try session.capture().split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertTrue(lines.contains("D           list,dump,captures list what changed from the older marked side to the newer one"),
                      session.screen)
        XCTAssertTrue(lines.contains("F1 h ?      list,dump,captures show this help"), session.screen)
        try session.quitTop()
    }
}
