@testable import BpfcpCore
import XCTest

/// Dirty page counts from the page-table walk against a fixture that
/// dirties known numbers of pages, and against /proc/PID/smaps.
final class DirtyPagesTests: XCTestCase {
    private var fixture: Fixture!

    override func setUpWithError() throws {
        try requireBPF()
        if let reason = DirtyPages.unsupportedReason { throw XCTSkip(reason) }
        fixture = try Fixture(c: "dirty_pages")
    }

    override func tearDown() {
        fixture?.stop()
        if let dir = fixture?.values["dir"], dir.hasPrefix("/tmp/bpfcp-dirty-") {
            try? FileManager.default.removeItem(atPath: dir)
        }
        fixture = nil
    }

    private func area(_ key: String, in areas: [MemoryArea]) throws -> MemoryArea {
        let start = try XCTUnwrap(fixture.values[key].flatMap { UInt64($0, radix: 16) }, "fixture printed no \(key)")
        return try XCTUnwrap(areas.first { $0.start == start }, "no area starts at \(key)")
    }

    func testKnownDirtyCounts() throws {
        let areas = try MemoryKind.collectBPF(pid: fixture.pid)

        XCTAssertEqual(try area("anon", in: areas).dirtyPages, 7, "written anonymous pages; read ones map the zero page")
        XCTAssertEqual(try area("file_private", in: areas).dirtyPages, 3, "pages copied on write")
        XCTAssertEqual(try area("file_private", in: areas).residentPages, 16)
        XCTAssertEqual(try area("cache_dirty", in: areas).residentPages, 8)
    }

    /// Writeback may clean page cache pages at any time, so smaps and the
    /// /proc collector, which reads smaps too, run between two walks that agree.
    func testDirtyCountsEqualSmaps() throws {
        for _ in 0..<20 {
            let before = try MemoryKind.collectBPF(pid: fixture.pid)
            let smaps = try Smaps.read(pid: fixture.pid)
            let proc = try MemoryProc.collect(pid: fixture.pid)
            let after = try MemoryKind.collectBPF(pid: fixture.pid)
            guard before.map(\.dirtyPages) == after.map(\.dirtyPages) else { continue }

            XCTAssertEqual(before.map(\.start), smaps.map(\.start))
            for (a, s) in zip(before, smaps) where a.path != "[vsyscall]" {
                XCTAssertEqual(a.dirtyPages, s.dirtyKiB / 4, "dirty pages of \(Format.hex(a.start)) \(a.path)")
            }
            XCTAssertEqual(proc.map(\.dirtyPages), before.map(\.dirtyPages), "dirty pages of the /proc collector")
            XCTAssertNil(before.last { $0.path == "[vsyscall]" }?.dirtyPages, "the gate area is no VMA and is not walked")
            XCTAssertLessThanOrEqual(try XCTUnwrap(try area("cache_dirty", in: before).dirtyPages), 8)
            XCTAssertLessThanOrEqual(try XCTUnwrap(try area("file_shared", in: before).dirtyPages), 2)
            return
        }
        XCTFail("dirty counts changed between the two walks in each of 20 tries")
    }

    func testEntryShowsDirtyPages() throws {
        let areas = try MemoryKind.collectBPF(pid: fixture.pid)
        let entry = MemoryKind.entry(try area("anon", in: areas))
        XCTAssertTrue(entry.fields.contains(Field("dirty pages", "7")))
    }
}
