@testable import BpfcpCore
import XCTest

final class DifferTests: XCTestCase {
    func testLiveDiffNamesEachKnownChange() throws {
        try requireBPF()
        let fixture = try Fixture(c: "diff_steps")
        let seekFd = try XCTUnwrap(fixture.int("seek_fd"))
        let closeFd = try XCTUnwrap(fixture.int("close_fd"))

        let before = try Dumper.dump(pid: fixture.pid)
        let stepped = try fixture.signal(SIGUSR1, expect: "STEPPED")
        let newFd = try XCTUnwrap(stepped.split(separator: "=").last.flatMap { Int($0) })
        let after = try Dumper.dump(pid: fixture.pid)
        let diff = Differ.diff(before, after, beforeLabel: "a", afterLabel: "b")
        let lines = DiffText.lines(diff)

        XCTAssertTrue(lines.contains("  ~ fd \(seekFd) position 100 → 4096"), lines.joined(separator: "\n"))
        let goneLine = lines.first { $0.hasPrefix("  - fd \(closeFd) gone: regular") }
        XCTAssertEqual(goneLine?.hasSuffix("/closing"), true, lines.joined(separator: "\n"))
        let newLine = lines.first { $0.hasPrefix("  + new fd \(newFd): regular") }
        XCTAssertEqual(newLine?.hasSuffix("/opened"), true, lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains("  ~ [heap] grew by 2.0 MiB"), lines.joined(separator: "\n"))

        let threads = try XCTUnwrap(diff.kinds.first { $0.kind == "threads" })
        XCTAssertEqual(threads.added, 1)
        XCTAssertEqual(threads.removed, 0)
        let started = threads.entries.first { $0.change == .added }
        XCTAssertEqual(started?.summary.first?.hasSuffix("started"), true)

        let files = try XCTUnwrap(diff.kinds.first { $0.kind == "files" })
        XCTAssertEqual(files.added, 1)
        XCTAssertEqual(files.removed, 1)
        XCTAssertEqual(files.changed, 1)
    }

    func testSameDumpHasNoDifferences() throws {
        try requireBPF()
        let fixture = try Fixture(c: "files_basic")
        let dump = try Dumper.dump(pid: fixture.pid)
        let diff = Differ.diff(dump, dump, beforeLabel: "a", afterLabel: "a")
        XCTAssertTrue(diff.isEmpty)
        XCTAssertEqual(DiffText.lines(diff), ["diff a → a", "no differences"])
    }

    func testFieldChangesIncludeAbsentFields() {
        let changes = Differ.fieldChanges([Field("a", "1"), Field("b", "2")], [Field("a", "1"), Field("c", "3")])
        XCTAssertEqual(changes, [FieldChange(name: "b", before: "2", after: "(absent)"),
                                 FieldChange(name: "c", before: "(absent)", after: "3")])
    }

    func testUnavailableKindIsNotCompared() {
        let a = Section(kind: "files", source: .bpf, unavailable: "no iterator", elapsedNs: 0, items: [], entries: [])
        let result = Differ.diffKind("files", a, a, showUnchanged: false)
        XCTAssertEqual(result.unavailable, "no iterator")
        XCTAssertEqual(result.added + result.removed + result.changed, 0)
    }
}
