@testable import BpfcpCore
@testable import BpfcpTUI
import Foundation
import XCTest

final class DispatcherTests: XCTestCase {
    private func state(readOnly: Bool = false) -> AppState {
        var options = TopOptions()
        options.readOnly = readOnly
        var state = AppState(options: options, layout: Layout(rows: 30, cols: 100), source: .bpf)
        state.applyProcesses([process(1, comm: "init-like"), process(7, comm: "target")], sampleNs: 1, readNs: 1)
        return state
    }

    func testReadOnlyRejectsStateChangingAction() {
        let restore = Action([.char("R")], "Restore", "restore a process", modes: [.list], effect: "creates a process") { state in
            state.status = .info("restore ran")
            return .redraw
        }
        var readOnly = state(readOnly: true)
        _ = Dispatcher.handle(.char("R"), &readOnly, actions: [restore])
        XCTAssertEqual(readOnly.status?.isError, true)
        XCTAssertEqual(readOnly.status?.text, "--readonly disables Restore, which creates a process")

        var writable = state()
        _ = Dispatcher.handle(.char("R"), &writable, actions: [restore])
        XCTAssertEqual(writable.status?.text, "restore ran")
    }

    func testEveryKeyIsBoundOncePerMode() {
        var seen = Set<String>()
        for action in ActionTable.all {
            for mode in action.modes {
                for key in action.keys {
                    XCTAssertTrue(seen.insert("\(mode) \(key)").inserted, "\(key.label) is bound twice in \(mode)")
                }
            }
        }
    }

    func testSearchTypingMovesSelection() {
        var s = state()
        s.table.sort(by: .pid, height: s.layout.listHeight)
        _ = Dispatcher.handle(.char("/"), &s)
        XCTAssertEqual(s.mode, .search)
        for c in "targ" { _ = Dispatcher.handle(.char(c), &s) }
        XCTAssertEqual(s.table.selectedRow?.process.pid, 7)
        _ = Dispatcher.handle(.char("q"), &s)
        XCTAssertEqual(s.searchText, "targq", "q is text while searching")
        _ = Dispatcher.handle(.escape, &s)
        XCTAssertEqual(s.mode, .list)
        XCTAssertEqual(Dispatcher.handle(.char("q"), &s), .quit)
    }

    func testHelpScrollsThenReturns() {
        var s = state()
        _ = Dispatcher.handle(.function(1), &s)
        XCTAssertEqual(s.mode, .help)
        _ = Dispatcher.handle(.down, &s)
        _ = Dispatcher.handle(.down, &s)
        _ = Dispatcher.handle(.up, &s)
        XCTAssertEqual(s.mode, .help)
        XCTAssertEqual(s.helpTop, 1)
        _ = Dispatcher.handle(.pageUp, &s)
        XCTAssertEqual(s.helpTop, 0, "scrolling stops at the first line")
        _ = Dispatcher.handle(.char("x"), &s)
        XCTAssertEqual(s.mode, .list)
    }

    func testFilterEscapeClears() {
        var s = state()
        _ = Dispatcher.handle(.function(4), &s)
        for c in "targ" { _ = Dispatcher.handle(.char(c), &s) }
        XCTAssertEqual(s.table.rows.map(\.process.pid), [7])
        _ = Dispatcher.handle(.escape, &s)
        XCTAssertEqual(s.table.filter, "")
        XCTAssertEqual(s.table.rows.count, 2)
    }

    func testDumpRequestAndExitNotice() throws {
        var s = state()
        s.table.sort(by: .pid, height: s.layout.listHeight)
        _ = Dispatcher.handle(.down, &s)
        _ = Dispatcher.handle(.enter, &s)
        XCTAssertEqual(s.jobs, [.dump(pid: 7)])
        XCTAssertNotNil(s.busy)

        let dump = Dump(pid: 7, process: process(7, comm: "target"), source: .bpf, takenAt: 0, totalNs: 1, sections: [])
        s.applyDump(.success(dump), pid: 7)
        XCTAssertEqual(s.mode, .detail)
        XCTAssertNil(s.busy)

        s.applyProcesses([process(1, comm: "init-like")], sampleNs: 2, readNs: 1)
        XCTAssertEqual(s.detail?.exitedNote, "exited")
        XCTAssertTrue(s.status?.text.contains("process 7 exited") ?? false)
    }

    /// r (and F5) on a capture view dumps the live process and shows it in
    /// place of the capture, and the help line describes that.
    func testRedumpReplacesCaptureByLive() throws {
        var s = state()
        let captured = Dump(pid: 7, process: process(7, comm: "target"), source: .bpf, takenAt: 0, totalNs: 1, sections: [])
        var detail = DetailModel(dump: captured)
        detail.origin = .capture(1)
        s.detail = detail
        s.mode = .detail

        for key in [Key.char("r"), Key.function(5)] {
            s.jobs = []
            s.busy = nil
            _ = Dispatcher.handle(key, &s)
            XCTAssertEqual(s.jobs, [.dump(pid: 7)], "\(key.label) did not request a dump of pid 7")
        }
        let live = Dump(pid: 7, process: process(7, comm: "target"), source: .bpf, takenAt: 10, totalNs: 1, sections: [])
        s.applyDump(.success(live), pid: 7)
        XCTAssertNil(s.detail?.origin, "the capture view was not replaced by the live dump")
        XCTAssertEqual(s.detail?.dump.takenAt, 10)

        s.layout = Layout(rows: 100, cols: 100)
        _ = Dispatcher.handle(.function(1), &s)
        let help = Renderer.render(&s).map(\.text)
        let line = try XCTUnwrap(help.first { $0.hasPrefix("r F5") }, "the help has no r F5 line")
        XCTAssertTrue(line.hasSuffix("dump this pid live again; replaces a capture or image shown"), line)
    }
}

final class RendererTests: XCTestCase {
    override func setUp() {
        setlocale(LC_ALL, "C.UTF-8")
    }

    private func dump() -> Dump {
        let files = Section(kind: "files", source: .bpf, unavailable: nil, elapsedNs: 410_000, items: [], entries: [
            Entry(key: "fd 3", cells: ["3", "regular", "100", "O_RDWR", "/tmp/日本語/x"],
                  fields: [Field("fd", "3"), Field("path", "/tmp/日本語/x")]),
        ])
        let memory = Section(kind: "memory", source: .bpf, unavailable: "no vma iterator", elapsedNs: 1, items: [], entries: [])
        return Dump(pid: 9, process: process(9, comm: "日本"), source: .bpf, takenAt: 0, totalNs: 2_000_000,
                    sections: [files, memory])
    }

    private func detailState(rows: Int, cols: Int) -> AppState {
        var s = AppState(options: TopOptions(), layout: Layout(rows: rows, cols: cols), source: .bpf)
        s.awaitedDump = 9
        s.applyDump(.success(dump()), pid: 9)
        return s
    }

    func testEveryLineFitsTheScreen() {
        for (rows, cols) in [(24, 80), (40, 120), (8, 30)] {
            var s = detailState(rows: rows, cols: cols)
            for tab in 0..<s.detail!.tabs.count {
                s.detail?.selectTab(tab)
                let lines = Renderer.render(&s)
                XCTAssertEqual(lines.count, rows)
                for line in lines {
                    XCTAssertLessThanOrEqual(TextWidth.width(line.text), cols, "\(rows)x\(cols) tab \(tab): \(line.text)")
                }
                XCTAssertTrue(lines[rows - 1].text.contains("Next tab"), "the footer is on the last row")
            }
        }
    }

    func testUnavailableTabShowsReason() throws {
        var s = detailState(rows: 30, cols: 100)
        let memory = try XCTUnwrap(s.detail?.tabs.firstIndex { $0.title == "Memory" })
        s.detail?.selectTab(memory)
        let text = Renderer.render(&s).map(\.text)
        XCTAssertTrue(text.contains { $0.hasPrefix("unavailable: no vma iterator") }, text.joined(separator: "\n"))
    }

    func testExpandShowsEveryField() throws {
        var s = detailState(rows: 30, cols: 100)
        let files = try XCTUnwrap(s.detail?.tabs.firstIndex { $0.title == "Files" })
        s.detail?.selectTab(files)
        _ = Dispatcher.handle(.enter, &s)
        let text = Renderer.render(&s).map(\.text)
        XCTAssertTrue(text.contains { $0.contains("path") && $0.contains(": /tmp/日本語/x") }, text.joined(separator: "\n"))
        XCTAssertTrue(text.contains { $0.hasPrefix("- ") }, "an expanded row is marked with -")
    }

    func testWideNamesKeepColumnsAligned() {
        var s = AppState(options: TopOptions(), layout: Layout(rows: 10, cols: 60), source: .bpf)
        s.applyProcesses([process(1, comm: "日本語日本語"), process(2, comm: "ascii")], sampleNs: 1, readNs: 1)
        let lines = Renderer.render(&s)
        let rows = lines.filter { $0.text.contains(" root ") }
        XCTAssertEqual(rows.count, 2)
        XCTAssertEqual(Set(rows.map { TextWidth.width($0.text) }), [60])
    }

    func testFullAddressesFitTheirColumns() {
        let address = "0x00007ffa069ac5d2"
        for (kind, columns) in [("threads", ThreadsKind.columns), ("epoll", EpollKind.columns)] {
            for column in columns where ["RIP", "RSP", "DATA"].contains(column.name) {
                let specs = columns.map { (width: $0.width, alignRight: $0.alignRight) }
                let cells = columns.map { $0.name == column.name ? address : "" }
                let line = Renderer.tableLine(cells, columns: specs, cols: 200, style: .normal)
                XCTAssertTrue(line.text.contains(address), "\(kind) column \(column.name) cuts a full address: \(line.text)")
            }
        }
    }

    func testLocaleWarning() {
        var s = AppState(options: TopOptions(), layout: Layout(rows: 10, cols: 100), source: .proc)
        s.localeIsUTF8 = false
        let status = Renderer.render(&s)[8].text
        XCTAssertTrue(status.contains("locale is not UTF-8"), status)
    }
}

/// The restore screen lists differences from the image, the unexpected ones first.
final class RestoreScreenTests: XCTestCase {
    func testUnexpectedDifferencesListedFirst() {
        let differences = [
            VerifyDifference(kind: "files", key: "fd 0", summary: "path /dev/pts/1 → /tmp/out", expected: true, reason: "terminal"),
            VerifyDifference(kind: "files", key: "fd 6", summary: "position 100 → 200", expected: false, reason: nil),
            VerifyDifference(kind: "context", key: "pid", summary: "pid 10 → 11", expected: true, reason: "new pid"),
        ]
        let report = RestoreReport(imagePid: 10, pid: 11, syscalls: 3, elapsedNs: 1, verified: true, verifyNs: 1,
                                   openNs: 0, planNs: 0, differences: differences)

        let lines = CaptureViews.restoreLines(report, path: "/img", stdio: nil).map(\.text)

        XCTAssertEqual(Array(lines.suffix(3)), [
            "  DIFFERS  files fd 6: position 100 → 200",
            "  expected files fd 0: path /dev/pts/1 → /tmp/out (terminal)",
            "  expected context pid: pid 10 → 11 (new pid)",
        ])
        XCTAssertEqual(lines[1], "verification (0.00 ms): 1 unexpected and 2 expected differences from the image")
    }
}
