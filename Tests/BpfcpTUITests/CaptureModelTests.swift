@testable import BpfcpCore
@testable import BpfcpTUI
import Foundation
import XCTest

final class CaptureModelTests: XCTestCase {
    private func state(readOnly: Bool = false) -> AppState {
        var options = TopOptions()
        options.readOnly = readOnly
        var state = AppState(options: options, layout: Layout(rows: 30, cols: 120), source: .bpf)
        state.applyProcesses([process(7, comm: "target")], sampleNs: 1, readNs: 1)
        return state
    }

    func testMarksKeepTheTwoLatest() {
        var captures = CaptureState()
        XCTAssertTrue(captures.toggleMark(.capture(1)))
        XCTAssertTrue(captures.toggleMark(.live(7)))
        XCTAssertTrue(captures.toggleMark(.image("/tmp/x")))
        XCTAssertEqual(captures.marks, [.live(7), .image("/tmp/x")])
        XCTAssertFalse(captures.toggleMark(.live(7)))
        XCTAssertEqual(captures.marks, [.image("/tmp/x")])
    }

    func testReadOnlyRejectsCheckpointWriteRestore() {
        var s = state(readOnly: true)
        _ = Dispatcher.handle(.char("c"), &s)
        XCTAssertEqual(s.status?.text, "--readonly disables Checkpoint, which holds every thread of the process while it reads its state")
        XCTAssertEqual(s.captures.jobs, [])
        _ = Dispatcher.handle(.char("R"), &s)
        XCTAssertEqual(s.status?.text, "--readonly disables Restore, which creates a process")
        XCTAssertEqual(s.mode, .list)
    }

    /// The name part comes from the raw bytes of the escaped comm, so each
    /// control byte becomes one '_' and no `x1b` from its escape is left.
    func testWriteNameFromRawComm() {
        let comm = Escape.bytes(Array("ev\u{1b}[31mil\u{07}\n".utf8))
        XCTAssertEqual(comm, "ev\\x1b[31mil\\x07\\x0a")
        XCTAssertEqual(CaptureActions.fileNamePart(comm), "ev__31mil__")
        XCTAssertEqual(CaptureActions.fileNamePart(Escape.bytes(Array("a\\b".utf8))), "a_b")
        XCTAssertEqual(CaptureActions.fileNamePart("größe"), "gr__e")
        XCTAssertEqual(CaptureActions.fileNamePart("demo-worker.1"), "demo-worker.1")
    }

    func testDiffNeedsTwoMarks() {
        var s = state()
        _ = Dispatcher.handle(.char("D"), &s)
        XCTAssertEqual(s.status?.text, "mark two captures first with m (marked: 0)")
        XCTAssertEqual(s.captures.jobs, [])
    }

    func testOpenPromptTypesAndSubmits() {
        var s = state()
        _ = Dispatcher.handle(.char("o"), &s)
        XCTAssertEqual(s.mode, .pathPrompt)
        _ = Dispatcher.handle(.ctrl("u"), &s)
        for c in "/tmp/img" { _ = Dispatcher.handle(.char(c), &s) }
        _ = Dispatcher.handle(.backspace, &s)
        _ = Dispatcher.handle(.enter, &s)
        XCTAssertEqual(s.captures.jobs, [.open(path: "/tmp/im")])
        XCTAssertEqual(s.mode, .list)
    }

    func testDiffLinesHighlightChangedField() {
        let change = FieldChange(name: "position", before: "100", after: "4096")
        let entry = EntryChange(key: "fd 3", change: .changed, summary: ["fd 3 position 100 → 4096"], fields: [change])
        let files = KindDiff(kind: "files", title: "Files", unavailable: nil, added: 0, removed: 0, changed: 1, unchanged: 4,
                             entries: [entry], notes: [])
        let diff = DumpDiff(before: "capture #1", after: "capture #2", process: [], kinds: [files])
        let lines = CaptureViews.diffLines(diff)
        XCTAssertEqual(lines[0].text, "1 change from capture #1 to capture #2")
        XCTAssertEqual(lines[1].text, "  Files: 0 added, 0 removed, 1 changed")
        let field = try? XCTUnwrap(lines.first { $0.text.contains("position") })
        XCTAssertEqual(field?.text, "      position 100 → 4096")
        XCTAssertEqual(field?.spans.first { $0.text == "4096" }?.style, .statusInfo)
        XCTAssertEqual(field?.spans.first { $0.text == "100" }?.style, .statusError)
    }

    /// The summary names the sections only checkpoints have by their tab
    /// titles, like the registered kinds, not by their internal names.
    func testDiffSummaryUsesTitles() {
        func section(_ kind: String, _ value: String) -> Section {
            Section(kind: kind, source: .bpf, unavailable: nil, elapsedNs: 0, items: [],
                    entries: [Entry(key: "row", cells: [value], fields: [Field("value", value)])])
        }
        func dump(_ value: String) -> Dump {
            let kinds = [FilesKind.name, CheckpointView.registersKind, CheckpointView.pagesKind, CheckpointView.savedFilesKind]
            return Dump(pid: 7, process: process(7, comm: "target"), source: .bpf, takenAt: 0, totalNs: 1,
                        sections: kinds.map { section($0, value) })
        }
        let diff = Differ.diff(dump("1"), dump("2"), beforeLabel: "capture #1", afterLabel: "capture #2")
        let summary = CaptureViews.diffLines(diff).map(\.text).filter { $0.hasPrefix("  ") && $0.contains(": 0 added, 0 removed, 1 changed") }
        XCTAssertEqual(summary, [
            "  Files: 0 added, 0 removed, 1 changed",
            "  Registers: 0 added, 0 removed, 1 changed",
            "  Saved memory: 0 added, 0 removed, 1 changed",
            "  Saved files: 0 added, 0 removed, 1 changed",
        ])
        let headers = CaptureViews.diffLines(diff).filter { $0.spans.first?.style == .columnHeader }.map(\.text)
        XCTAssertEqual(headers.map { String($0.prefix { $0 != ":" }) }, ["Files", "Registers", "Saved memory", "Saved files"])
    }

    func testYesOnWriteQuestionQueuesWrite() {
        var s = state()
        var screen = TextScreen(title: "before writing", lines: [])
        screen.question = "write capture #1 to /tmp/a?"
        screen.onYes = .write(captureId: 1, path: "/tmp/a")
        s.captures.screen = screen
        s.mode = .textScreen
        _ = Dispatcher.handle(.char("n"), &s)
        XCTAssertEqual(s.captures.jobs, [])
        XCTAssertEqual(s.mode, .list)

        s.captures.screen = screen
        s.mode = .textScreen
        _ = Dispatcher.handle(.char("y"), &s)
        XCTAssertEqual(s.captures.jobs, [.write(captureId: 1, path: "/tmp/a")])
    }
}
