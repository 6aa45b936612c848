@testable import BpfcpCore
import XCTest

final class IoUringCollectorTests: XCTestCase {
    /// BC21: an io_uring with 8 SQ entries and its SQ ring, CQ ring and SQE array mapped.
    func testRingSizesAndMappings() throws {
        try requireBPF()
        let fixture = try SharedCase.startC("bc21_io_uring.c")
        let line = fixture.firstLine
        let pid = try XCTUnwrap(SharedCase.number(after: "pid", in: line))
        let fd = try XCTUnwrap(SharedCase.number(after: "fd", in: line))
        let rings = try IoUringKind.collectBPF(pid: pid)
        XCTAssertEqual(rings.count, 1)

        let ring = try XCTUnwrap(rings.first)
        XCTAssertEqual(ring.fd, fd)
        XCTAssertEqual(ring.sqEntries.map(Int32.init), SharedCase.number(after: "sq_entries", in: line))
        XCTAssertEqual(ring.cqEntries.map(Int32.init), SharedCase.number(after: "cq_entries", in: line))
        XCTAssertEqual(ring.setupFlags, [])
        XCTAssertEqual(ring.mappings.map(\.ring).sorted(), ["CQ ring", "SQ ring", "SQE array"])

        let maps = try MemoryProc.collect(pid: pid).filter { $0.path == "anon_inode:[io_uring]" }
        XCTAssertEqual(Set(ring.mappings.map(\.start)), Set(maps.map(\.start)))
        let file = try XCTUnwrap(try FilesKind.collectBPF(pid: pid).first { $0.fd == fd })
        XCTAssertEqual(file.anonKind, "io_uring")
        XCTAssertEqual(IoUringKind.entry(ring).fields[2], Field("sq entries", "8"))
    }

    func testRingsEqualProcOracle() throws {
        try requireBPF()
        let fixture = try SharedCase.startC("bc21_io_uring.c")
        let pid = try XCTUnwrap(SharedCase.number(after: "pid", in: fixture.firstLine))
        let bpf = try IoUringKind.collectBPF(pid: pid).map { ring -> IoUringInstance in
            var copy = ring
            copy.setupFlags = nil
            copy.sqThread = nil
            copy.mappings.sort { $0.start < $1.start }
            return copy
        }
        let proc = try IoUringProc.collect(pid: pid).map { ring -> IoUringInstance in
            var copy = ring
            copy.mappings.sort { $0.start < $1.start }
            return copy
        }
        XCTAssertEqual(bpf, proc)
    }
}
