@testable import BpfcpCore
import CBpfcpShim
import XCTest

/// The process list that bpfcp-top refreshes: argv is copied once and then
/// taken from the cache, yet in-place rewrites and execs still show.
final class ProcessListCacheTests: XCTestCase {
    private func commandLine(_ pid: Int32) throws -> String {
        try XCTUnwrap(ProcessListCache.shared.collect().first { $0.pid == pid }, "pid \(pid) not listed").commandLine
    }

    /// Record kind the cached program writes for `pid` right now, without changing the cache.
    private func recordKind(_ pid: Int32) throws -> Int {
        let bytes = try BPFRuntime.shared.object(ProcessListBPF.object).iterate(ProcessListCache.program)
        let reader = RecordReader(bytes)
        for record in try reader.records() where Int(record.kind) != Int(BPFCP_REC_THREAD_CPU.rawValue) {
            if try reader.load(record, as: bpfcp_proc.self).pid == pid { return Int(record.kind) }
        }
        throw FixtureError("pid \(pid) has no record")
    }

    func testCachedListEqualsFullList() throws {
        try requireBPF()
        let fixture = try Fixture(c: "argv_rewrite", arguments: ["original"])
        _ = try ProcessListCache.shared.collect()
        let cached = try ProcessListCache.shared.collect()
        let full = try ProcessListBPF.collect()

        let fullByPid = Dictionary(full.map { ($0.pid, $0) }, uniquingKeysWith: { a, _ in a })
        var compared = 0
        for entry in cached {
            guard let other = fullByPid[entry.pid], other.startTimeNs == entry.startTimeNs else { continue }
            XCTAssertEqual(entry.commandLine, other.commandLine, "command line of \(entry.pid)")
            XCTAssertEqual(entry.argvTruncated, other.argvTruncated, "truncation of \(entry.pid)")
            XCTAssertEqual(entry.argvLength, other.argvLength, "argv length of \(entry.pid)")
            compared += 1
        }
        XCTAssertGreaterThan(compared, 10)
        XCTAssertTrue(try commandLine(fixture.pid).hasSuffix("argv_rewrite original"))
    }

    func testHeldArgvIsNotCopiedAgain() throws {
        try requireBPF()
        let fixture = try Fixture(c: "argv_rewrite", arguments: ["original"])
        XCTAssertTrue(try commandLine(fixture.pid).hasSuffix(" original"))
        // Each read also copies the argv of the pids whose turn it is (pid
        // modulo rotationSlices). The rotation moves on between the two
        // reads, so at most one of them can be the fixture's turn.
        let first = try recordKind(fixture.pid)
        _ = try ProcessListCache.shared.collect()
        let kinds = [first, try recordKind(fixture.pid)]
        XCTAssertTrue(kinds.contains(Int(BPFCP_REC_PROC_ARGS_HELD.rawValue)), "argv was copied on every read: kinds \(kinds)")
    }

    func testInPlaceRewriteShowsWithinRotation() throws {
        try requireBPF()
        let fixture = try Fixture(c: "argv_rewrite", arguments: ["original"])
        XCTAssertTrue(try commandLine(fixture.pid).hasSuffix(" original"))
        try fixture.signal(SIGUSR1, expect: "REWRITTEN")

        var reads = 0
        var shown = ""
        while reads <= Int(ProcessListCache.rotationSlices) {
            shown = try commandLine(fixture.pid)
            reads += 1
            if shown.hasSuffix(" rrrrrrrr") { break }
        }
        XCTAssertTrue(shown.hasSuffix(" rrrrrrrr"), "the rewrite did not show within \(reads) reads: \(shown)")
    }

    func testExecShowsOnNextRead() throws {
        try requireBPF()
        let fixture = try Fixture(c: "argv_rewrite", arguments: ["original"])
        XCTAssertTrue(try commandLine(fixture.pid).hasSuffix(" original"))
        try fixture.signal(SIGUSR2, expect: "READY argv1=exec-done")
        XCTAssertTrue(try commandLine(fixture.pid).hasSuffix(" exec-done"))
    }
}
