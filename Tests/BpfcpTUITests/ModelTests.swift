@testable import BpfcpCore
@testable import BpfcpTUI
import Foundation
import XCTest

/// Builds a process as a snapshot would contain it.
func process(_ pid: Int32, ppid: Int32 = 1, comm: String, uid: UInt32 = 0, cpuNs: UInt64 = 0,
             rss: UInt64 = 4096, kernel: Bool = false) -> ProcessEntry {
    ProcessEntry(pid: pid, ppid: ppid, pgid: pid, sid: pid, uid: uid, euid: uid, gid: 0, egid: 0, state: .sleeping,
                 stopSignal: nil, tracerPid: 0, exitStatus: nil, comm: comm, commandLine: kernel ? "" : comm + " --run",
                 argvLength: comm.count + 7, argvTruncated: false, threads: 1, rssBytes: rss, virtualBytes: rss * 4,
                 startTimeNs: UInt64(pid) * 1_000_000_000, cpuTimeNs: cpuNs, isKernelThread: kernel)
}

final class ProcessTableTests: XCTestCase {
    func testCPUPercentFromDeltas() {
        var table = ProcessTable()
        table.update([process(10, comm: "busy", cpuNs: 1_000_000_000), process(11, comm: "idle")], sampleNs: 1_000_000_000, height: 10)
        XCTAssertEqual(table.rows.map(\.cpuPercent), [0, 0], "the first snapshot has no delta")

        table.update([process(10, comm: "busy", cpuNs: 1_500_000_000), process(11, comm: "idle")], sampleNs: 2_000_000_000, height: 10)
        XCTAssertEqual(table.rows.first?.process.pid, 10)
        XCTAssertEqual(table.rows.first?.cpuPercent ?? 0, 50, accuracy: 0.001)
        XCTAssertEqual(table.rows.last?.cpuPercent, 0)
    }

    func testReusedPidStartsCPUAgain() {
        var table = ProcessTable()
        table.update([process(10, comm: "old", cpuNs: 9_000_000_000)], sampleNs: 1_000_000_000, height: 10)
        var reused = process(10, comm: "new", cpuNs: 100)
        reused.startTimeNs += 5
        table.update([reused], sampleNs: 2_000_000_000, height: 10)
        XCTAssertEqual(table.rows.first?.cpuPercent, 0)
    }

    func testSortFilterAndInvert() {
        var table = ProcessTable()
        table.update([process(3, comm: "cc", rss: 300), process(1, comm: "aa", rss: 100), process(2, comm: "bb", rss: 200)],
                     sampleNs: 1, height: 10)
        table.sort(by: .pid, height: 10)
        XCTAssertEqual(table.rows.map(\.process.pid), [1, 2, 3])
        table.sort(by: .rss, height: 10)
        XCTAssertEqual(table.rows.map(\.process.pid), [3, 2, 1], "RSS sorts biggest first")
        table.descending.toggle()
        table.rebuild(height: 10)
        XCTAssertEqual(table.rows.map(\.process.pid), [1, 2, 3])

        table.filter = "B"
        table.rebuild(height: 10)
        XCTAssertEqual(table.rows.map(\.process.pid), [2], "the filter ignores case")
    }

    func testKernelThreadsAndUserFilter() {
        var table = ProcessTable()
        table.update([process(2, comm: "kthreadd", kernel: true), process(5, comm: "mine", uid: 1000), process(6, comm: "root")],
                     sampleNs: 1, height: 10)
        XCTAssertEqual(Set(table.rows.map(\.process.pid)), [5, 6], "kernel threads are hidden by default")
        table.showKernelThreads = true
        table.onlyUid = 1000
        table.rebuild(height: 10)
        XCTAssertEqual(table.rows.map(\.process.pid), [5])
        table.onlyUid = nil
        table.rebuild(height: 10)
        XCTAssertEqual(table.rows.first { $0.process.pid == 2 }?.command, "[kthreadd]")
    }

    func testTreeOrderAndBranches() {
        var table = ProcessTable()
        table.update([process(30, ppid: 10, comm: "grandchild"), process(10, ppid: 1, comm: "parent"),
                      process(20, ppid: 10, comm: "second"), process(40, ppid: 1, comm: "other")],
                     sampleNs: 1, height: 10)
        table.sortColumn = .pid
        table.descending = false
        table.treeView = true
        table.rebuild(height: 10)
        XCTAssertEqual(table.rows.map(\.process.pid), [10, 20, 30, 40])
        XCTAssertEqual(table.rows.map(\.treePrefix), ["", "├─ ", "└─ ", ""])
    }

    func testUnmovedCursorStaysOnTopRow() {
        var table = ProcessTable()
        table.update([process(1, comm: "alpha"), process(2, comm: "beta")], sampleNs: 1, height: 10)
        XCTAssertEqual(table.selectedRow?.process.pid, 1)
        table.sort(by: .pid, height: 10)
        table.descending = true
        table.rebuild(height: 10)
        XCTAssertEqual(table.rows.map(\.process.pid), [2, 1])
        XCTAssertEqual(table.cursor.selected, 0, "the cursor left the top row before the user moved it")
        XCTAssertEqual(table.selectedRow?.process.pid, 2)
    }

    func testSearchWrapsAndKeepsSelection() {
        var table = ProcessTable()
        table.update([process(1, comm: "alpha"), process(2, comm: "beta"), process(3, comm: "alphabet")], sampleNs: 1, height: 10)
        table.sort(by: .pid, height: 10)
        XCTAssertTrue(table.search("ALPHA", fromNext: false, height: 10))
        XCTAssertEqual(table.selectedRow?.process.pid, 1)
        XCTAssertTrue(table.search("alpha", fromNext: true, height: 10))
        XCTAssertEqual(table.selectedRow?.process.pid, 3)
        XCTAssertTrue(table.search("alpha", fromNext: true, height: 10))
        XCTAssertEqual(table.selectedRow?.process.pid, 1, "search wraps to the top")
        XCTAssertFalse(table.search("gamma", fromNext: false, height: 10))

        table.cursor.selected = 2
        table.followSelection()
        table.update([process(0, comm: "new"), process(1, comm: "alpha"), process(2, comm: "beta"), process(3, comm: "alphabet")],
                     sampleNs: 2, height: 10)
        XCTAssertEqual(table.selectedRow?.process.pid, 3, "a refresh keeps the selected process")
    }

    func testCursorPagingClamps() {
        var cursor = ListCursor()
        cursor.move(25, count: 100, height: 10)
        XCTAssertEqual(cursor.selected, 25)
        XCTAssertEqual(cursor.top, 16)
        cursor.end(count: 100, height: 10)
        XCTAssertEqual(cursor.selected, 99)
        XCTAssertEqual(cursor.top, 90)
        cursor.clamp(count: 5, height: 10)
        XCTAssertEqual(cursor.selected, 4)
        XCTAssertEqual(cursor.top, 0)
    }
}

final class OptionsTests: XCTestCase {
    func testParsesEveryOption() throws {
        let options = try TopOptions.parse(["-d", "5", "-p", "42", "-u", "root", "-F", "ssh", "-C", "--readonly"])
        XCTAssertEqual(options.delayTenths, 5)
        XCTAssertEqual(options.startPid, 42)
        XCTAssertEqual(options.user, "root")
        XCTAssertEqual(options.filter, "ssh")
        XCTAssertFalse(options.color)
        XCTAssertTrue(options.readOnly)
        XCTAssertEqual(try TopOptions.parse(["--delay=7"]).delayTenths, 7)
        XCTAssertTrue(try TopOptions.parse(["--demo"]).demo)
    }

    func testNoColorEnvironment() throws {
        XCTAssertFalse(try TopOptions.parse([], environment: ["NO_COLOR": "1"]).color)
        XCTAssertTrue(try TopOptions.parse([], environment: ["NO_COLOR": ""]).color, "an empty NO_COLOR does not count")
    }

    func testRejectsInvalidValues() {
        let cases: [([String], String)] = [
            (["-d", "0"], "invalid delay '0'"), (["-d"], "option -d needs a value"), (["-p", "x"], "invalid pid 'x'"),
            (["--bogus"], "unknown option '--bogus'"), (["--demo", "-p", "5"], "give only one"),
            (["--\u{1b}[2J"], "unknown option '--\\x1b[2J'"),
        ]
        for (arguments, expected) in cases {
            XCTAssertThrowsError(try TopOptions.parse(arguments), "\(arguments)") { error in
                XCTAssertTrue("\(error)".contains(expected), "\(arguments): \(error)")
            }
        }
    }

    func testUnknownUser() {
        XCTAssertEqual(try UserNames.uid(of: "0"), 0)
        XCTAssertEqual(try UserNames.uid(of: "root"), 0)
        XCTAssertThrowsError(try UserNames.uid(of: "no-such-user-bpfcp"))
    }
}

final class TextWidthTests: XCTestCase {
    override func setUp() {
        setlocale(LC_ALL, "C.UTF-8")
    }

    func testWideCharactersCountTwice() {
        XCTAssertEqual(TextWidth.width("abc"), 3)
        XCTAssertEqual(TextWidth.width("日本"), 4)
        XCTAssertEqual(TextWidth.width("e\u{301}"), 1, "a combining accent takes no column")
        XCTAssertEqual(TextWidth.fit("日本語", 5), "日本 ", "a wide character that does not fit becomes padding")
        XCTAssertEqual(TextWidth.width(TextWidth.fit("日本語", 5)), 5)
        XCTAssertEqual(TextWidth.fit("ab", 4, alignRight: true), "  ab")
        XCTAssertEqual(TextWidth.wrap("abcdef", 4), ["abcd", "ef"])
    }

    func testCutCellEndsWithEllipsis() {
        XCTAssertEqual(TextWidth.cell("0x00007f705d54df36", 17), "0x00007f705d54df…")
        XCTAssertEqual(TextWidth.cell("O_RDWR", 10), "O_RDWR    ")
        XCTAssertEqual(TextWidth.cell("12345", 5, alignRight: true), "12345")
        XCTAssertEqual(TextWidth.width(TextWidth.cell("日本語日本語", 7)), 7)
    }

    func testControlCharactersNeverPass() {
        XCTAssertEqual(TextWidth.sanitize("a\u{1b}[2Jb\u{7}\u{9b}c\n"), "a?[2Jb??c?")
    }
}
