@testable import BpfcpCore
import XCTest

/// bpfcp-top driven end to end under tmux, as a person at a terminal uses it.
final class TopTerminalTests: XCTestCase {
    private func start(_ session: TmuxSession, _ arguments: String) throws {
        let log = NSTemporaryDirectory() + "bpfcp-top-test-\(getpid()).log"
        try session.command("BPFCP_LOG=\(log) \(try bpfcpTopBinary()) \(arguments)")
    }

    /// Quits with `keys`, then checks the shell is back on the normal screen and usable.
    private func assertRestored(_ session: TmuxSession, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertTrue(session.waitUntil(timeout: 5) { _ in (try? session.format("#{alternate_on}")) == "0" },
                      "the alternate screen is still on", file: file, line: line)
        try session.command("echo shell-ok-$((6*7))")
        XCTAssertTrue(session.waitFor("shell-ok-42", timeout: 5), "the shell does not answer after bpfcp-top exits",
                      file: file, line: line)
    }

    /// Checks the layout follows the pane: header on the first row, footer on the last, nothing wider than the pane.
    private func assertFooterOnLastRow(_ session: TmuxSession, width: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let height = try XCTUnwrap(Int(try session.format("#{pane_height}")))
        XCTAssertEqual(try session.format("#{pane_width}"), "\(width)", file: file, line: line)
        let follows = session.waitUntil(timeout: 5) { screen in
            let rows = screen.split(separator: "\n", omittingEmptySubsequences: false)
            return rows.count >= height && rows[height - 1].contains("Next tab") && rows[0].hasPrefix("PID ")
                && rows[2].contains("Files") && rows.allSatisfy { $0.count <= width }
        }
        XCTAssertTrue(follows, "the layout did not follow the resize to \(width)x\(height):\n\(session.screen)", file: file, line: line)
    }

    func testSearchDumpFilesTabResizeQuit() throws {
        try requireBPF()
        let fixture = try Fixture(c: "files_basic")
        let dir = try XCTUnwrap(fixture.values["dir"])
        let session = try TmuxSession()
        try start(session, "")
        XCTAssertTrue(session.waitFor("eBPF task/dump_procs"), "the process list did not appear")
        XCTAssertEqual(try session.format("#{alternate_on}"), "1")

        try session.keys("/")
        try session.type("files_basic")
        try session.keys("Enter", "Enter")
        XCTAssertTrue(session.waitFor("PID \(fixture.pid) files_basic"), "the dump of the fixture did not open")

        let filesTab = try XCTUnwrap(KindRegistry.all.firstIndex { $0.name == "files" }) + 1
        for _ in 0..<filesTab { try session.keys("Tab") }
        let alpha = session.waitUntil { screen in
            screen.split(separator: "\n").contains { $0.contains(dir + "/alpha") && $0.contains(" 100 ") }
        }
        XCTAssertTrue(alpha, "the Files tab does not show \(dir)/alpha at offset 100:\n\(session.screen)")

        try session.resize(width: 90, height: 25)
        try assertFooterOnLastRow(session, width: 90)
        try session.resize(width: 140, height: 45)
        try assertFooterOnLastRow(session, width: 140)

        try session.keys("Escape")
        XCTAssertTrue(session.waitFor("eBPF task/dump_procs"), "Esc did not return to the process list")
        try session.keys("q")
        try assertRestored(session)
    }

    func testCtrlCRestoresTerminal() throws {
        let session = try TmuxSession()
        try start(session, "")
        XCTAssertTrue(session.waitFor("bpfcp-top 0.1.0"))
        try session.keys("C-c")
        try assertRestored(session)
    }

    /// Starts bpfcp-top --demo, sends `signal` to it, and checks the terminal
    /// comes back, the demo processes die with it and the demo directory is removed.
    private func assertSignalRestores(_ signal: Int32, file: StaticString = #filePath, line: UInt = #line) throws {
        let session = try TmuxSession()
        try start(session, "--demo")
        XCTAssertTrue(session.waitFor("bpfcp-demo | live dump"), "--demo did not open", file: file, line: line)
        let demoPid = try XCTUnwrap(Int32(try session.capture().split(separator: " ")[1]), file: file, line: line)
        let pid = try XCTUnwrap(try session.foregroundPid(), "bpfcp-top is not running in the pane", file: file, line: line)
        let directory = try XCTUnwrap(demoDirectory(demoPid), "the demo has no notes.txt open", file: file, line: line)
        XCTAssertTrue(directory.hasPrefix("/tmp/bpfcp-demo-"), directory, file: file, line: line)

        XCTAssertEqual(kill(pid, signal), 0, file: file, line: line)
        if signal != SIGKILL { try assertRestored(session, file: file, line: line) }
        let deadline = Date().addingTimeInterval(3)
        while processAlive(demoPid) && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        XCTAssertFalse(processAlive(demoPid), "the demo outlived bpfcp-top after signal \(signal)", file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory),
                       "\(directory) is left behind after signal \(signal)", file: file, line: line)
    }

    /// Returns the directory of the demo's notes.txt, read from its open files.
    private func demoDirectory(_ pid: Int32) -> String? {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        for fd in fds {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)") else { continue }
            if target.hasSuffix("/notes.txt") { return (target as NSString).deletingLastPathComponent }
        }
        return nil
    }

    func testSigtermRestoresTerminal() throws {
        try assertSignalRestores(SIGTERM)
    }

    func testSighupRestoresTerminal() throws {
        try assertSignalRestores(SIGHUP)
    }

    func testCrashRestoresTerminal() throws {
        try assertSignalRestores(SIGSEGV)
    }

    func testSigkillRemovesDemoFiles() throws {
        try assertSignalRestores(SIGKILL)
    }

    func testDemoFillsEveryTab() throws {
        try requireBPF()
        let session = try TmuxSession()
        try start(session, "--demo")
        XCTAssertTrue(session.waitFor("bpfcp-demo | live dump"), "--demo did not open the demo's dump")
        let demoPid = try XCTUnwrap(Int32(try session.capture().split(separator: " ")[1]))
        let overview = try session.capture()
        XCTAssertTrue(overview.contains("threads         4"), overview)

        for kind in KindRegistry.all {
            try session.keys("Tab")
            let names = kind.columns.prefix(2).map(\.name)
            let shown = session.waitUntil(timeout: 5) { screen in
                let rows = screen.split(separator: "\n", omittingEmptySubsequences: false)
                return rows.count > 4 && names.allSatisfy { rows[3].contains($0) }
            }
            XCTAssertTrue(shown, "Tab did not reach the \(kind.title) tab:\n\(session.screen)")
            let rows = try session.capture().split(separator: "\n", omittingEmptySubsequences: false)
            // The demo has no io_uring on purpose, because checkpoints reject io_uring and `c` must work on the demo.
            if kind.name == "io_uring" { continue }
            XCTAssertTrue(rows[4].hasPrefix("+ "),
                          "the demo (Sources/CBpfcpDemo/demo.c) leaves the \(kind.title) tab empty:\n\(rows[3...5].joined(separator: "\n"))")
            if kind.name == "threads" {
                XCTAssertTrue(rows.contains { $0.contains("demo-worker-3") }, "the Threads tab does not list the demo's threads")
            }
            if kind.name == "files" {
                XCTAssertTrue(rows.contains { $0.contains(" 1234 ") && $0.contains("/notes.txt") }, rows.joined(separator: "\n"))
                XCTAssertTrue(rows.contains { $0.contains(" 4096 ") && $0.contains("/events.log") }, rows.joined(separator: "\n"))
                XCTAssertTrue(rows.contains { $0.contains(" timerfd ") }, "the Files tab does not show the timerfd")
            }
        }
        try session.keys("Tab")
        XCTAssertTrue(session.waitFor("argv length"), "Tab after the last tab did not return to the Overview")

        try session.keys("p")
        XCTAssertTrue(session.waitFor("/proc takes"), "p did not show the eBPF and /proc times with the ratio:\n\(session.screen)")
        XCTAssertTrue(try session.capture().contains("through eBPF and"), "the status bar does not sum the comparison up")

        let children = try String(contentsOfFile: "/proc/\(demoPid)/task/\(demoPid)/children", encoding: .utf8)
        let kidPid = try XCTUnwrap(children.split(separator: " ").first.flatMap { Int32($0) }, "the demo has no child")
        try session.keys("Escape", "/")
        try session.type("bpfcp-demo-kid")
        try session.keys("Enter", "t")
        let tree = session.waitUntil { screen in
            let rows = screen.split(separator: "\n")
            guard let parent = rows.firstIndex(where: { $0.hasPrefix(String(format: "%7d ", demoPid)) }) else { return false }
            return rows[parent + 1].hasPrefix(String(format: "%7d ", kidPid)) && rows[parent + 1].contains("└─ bpfcp-demo")
        }
        XCTAssertTrue(tree, "the tree does not show the demo child \(kidPid) under its parent:\n\(session.screen)")

        try session.keys("q")
        try assertRestored(session)
        XCTAssertFalse(processAlive(demoPid), "the demo outlived bpfcp-top")
        XCTAssertFalse(processAlive(kidPid), "the demo's child outlived bpfcp-top")
    }

    func testEscapeSequencesInNamesShowEscaped() throws {
        try requireBPF()
        let (status, output) = try spawnAndWait("/bin/sh", [Fixture.casePath("bc43_escape_name.sh")])
        XCTAssertEqual(status, 0, output)
        let pids = output.split(separator: "\n").compactMap { $0.split(separator: " ").last.flatMap { Int32($0) } }
        defer { pids.forEach { kill($0, SIGKILL) } }
        XCTAssertEqual(pids.count, 2)
        Thread.sleep(forTimeInterval: 0.5)

        let session = try TmuxSession()
        let titleBefore = try session.format("#{pane_title}")
        try start(session, "-F fake")
        XCTAssertTrue(session.waitFor(#"\x1b]0;pwned\x07\x1b[1;1H\x1b[2Jfake 100000"#),
                      "the argv[0] with escapes is not shown escaped:\n\(session.screen)")
        XCTAssertTrue(try session.capture().hasPrefix("bpfcp-top 0.1.0"), "the header was overwritten")

        try session.keys("\\", "Escape", "\\")
        try session.type("prctl(15")
        try session.keys("Enter", "Enter")
        XCTAssertTrue(session.waitFor(#"\x1b[2J\x1b[31mX\x07 | live dump"#),
                      "the comm with escapes is not shown escaped:\n\(session.screen)")
        XCTAssertEqual(try session.format("#{pane_title}"), titleBefore, "a process name retitled the terminal")
        try session.keys("q")
        try assertRestored(session)
    }

    func testHelpListsTheKeys() throws {
        let session = try TmuxSession()
        try start(session, "--readonly")
        XCTAssertTrue(session.waitFor("read-only"), "the header does not say read-only")
        try session.keys("F1")
        XCTAssertTrue(session.waitFor("Keys (arrows and pages scroll"))
        try session.keys("Down")
        XCTAssertTrue(session.waitFor("Keys (arrows and pages scroll"), "Down left the help screen")
        XCTAssertTrue(try session.capture().contains("dump again through /proc and through eBPF; the header shows both times"))
        try session.keys("x")
        XCTAssertTrue(session.waitFor("Dump"), "a key did not leave the help screen")
        try session.keys("q")
        try assertRestored(session)
    }

    /// End then Enter sorts by the last column; Home then Enter by the first, PID.
    func testSortMenuHomeAndEnd() throws {
        let session = try TmuxSession()
        try start(session, "--readonly")
        XCTAssertTrue(session.waitFor("read-only"), "the process list did not appear:\n\(session.screen)")
        try session.keys("F6", "End", "Enter", "F6")
        XCTAssertTrue(session.waitFor("COMMAND (current)"), "End did not reach the last column:\n\(session.screen)")
        try session.keys("Up", "Home", "Enter", "F6")
        XCTAssertTrue(session.waitFor("PID (current)"), "Home did not reach the first column:\n\(session.screen)")
        try session.keys("Escape", "q")
        try assertRestored(session)
    }

    func testWithoutRootFallsBackToProc() throws {
        guard geteuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            throw XCTSkip("needs root and setpriv to start bpfcp-top as an unprivileged user")
        }
        let session = try TmuxSession()
        let log = NSTemporaryDirectory() + "bpfcp-top-nobody-\(getpid()).log"
        try session.command("setpriv --reuid=65534 --regid=65534 --clear-groups env BPFCP_LOG=\(log) \(try bpfcpTopBinary())")
        XCTAssertTrue(session.waitFor("source: /proc"), "the header does not say source: /proc:\n\(session.screen)")
        XCTAssertTrue(session.waitFor("sudo"), "the status bar does not say to use sudo")
        XCTAssertTrue(session.waitFor("/proc: "), "the /proc read time is missing")
        try session.keys("q")
        try assertRestored(session)
        try? FileManager.default.removeItem(atPath: log)
    }

    func testWithoutRootDumpsOwnProcess() throws {
        guard geteuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            throw XCTSkip("needs root and setpriv to start bpfcp-top as an unprivileged user")
        }
        let session = try TmuxSession()
        let pidFile = NSTemporaryDirectory() + "bpfcp-top-nobody-sleep-\(getpid())"
        try? FileManager.default.removeItem(atPath: pidFile)
        let script = "sleep 300 & echo $! > \(pidFile); exec \(try bpfcpTopBinary()) -p $!"
        try session.command("setpriv --reuid=65534 --regid=65534 --clear-groups sh -c '\(script)'")
        XCTAssertTrue(session.waitUntil(timeout: 10) { _ in FileManager.default.fileExists(atPath: pidFile) })
        let sleepPid = try XCTUnwrap(Int32(String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        defer {
            kill(sleepPid, SIGKILL)
            try? FileManager.default.removeItem(atPath: pidFile)
        }

        XCTAssertTrue(session.waitFor("PID \(sleepPid) sleep"), "no dump of the user's own process:\n\(session.screen)")
        XCTAssertTrue(session.waitFor("Sockets"), "no Sockets tab:\n\(session.screen)")
        XCTAssertFalse(session.screen.contains("Sockets!"), "the Sockets tab failed for the user's own process:\n\(session.screen)")
        try session.keys("q")
        try assertRestored(session)
    }

    func testRefusesWithoutTerminal() throws {
        let session = try TmuxSession()
        try session.command("\(try bpfcpTopBinary()) </dev/null >/dev/null; echo exit-$(($?+40))")
        XCTAssertTrue(session.waitFor("stdin and stdout must be a terminal"), session.screen)
        XCTAssertTrue(session.waitFor("exit-42"), "bpfcp-top without a terminal did not exit with status 2:\n\(session.screen)")
    }

    func testExitedProcessGivesStatusLine() throws {
        try requireBPF()
        let fixture = try Fixture(c: "files_basic")
        let session = try TmuxSession()
        try start(session, "-d 3 -p \(fixture.pid)")
        XCTAssertTrue(session.waitFor("PID \(fixture.pid) files_basic"), "-p did not open the dump")
        fixture.stop()

        XCTAssertTrue(session.waitFor("process \(fixture.pid) exited"), "no status line after the process exited")
        let screen = try session.capture()
        XCTAssertTrue(screen.hasPrefix("PID \(fixture.pid) files_basic"), "the dump view is gone:\n\(screen)")
        try session.keys("r")
        XCTAssertTrue(session.waitFor("not found") || session.waitFor("exited"), session.screen)
        try session.keys("q")
        try assertRestored(session)
    }
}
