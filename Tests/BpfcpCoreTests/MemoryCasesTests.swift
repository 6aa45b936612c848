@testable import BpfcpCore
import XCTest

/// The Memory kind and a full dump on the shared case whose process removed
/// its own vDSO.
final class MemoryCasesTests: XCTestCase {
    /// bc20_no_vdso.c unmapped its [vdso] but keeps [vvar] and [vvar_vclock].
    func testNoVdsoAreas() throws {
        try requireBPF()
        let fixture = try SharedCase.startC("bc20_no_vdso.c")
        let pid = try XCTUnwrap(SharedCase.number(after: "pid", in: fixture.firstLine))
        try waitForVdsoUnmapped(pid: pid)
        let areas = try MemoryKind.collectBPF(pid: pid)

        XCTAssertFalse(areas.contains { $0.path == "[vdso]" }, "[vdso] listed after the process unmapped it")
        XCTAssertEqual(areas.filter { $0.path == "[vvar]" }.count, 1, "[vvar] listed once")
        XCTAssertEqual(areas.filter { $0.path == "[vvar_vclock]" }.count, 1, "[vvar_vclock] listed once")
        XCTAssertEqual(areas.first { $0.path == "[vvar]" }?.backing, .special)

        let proc = try MemoryProc.collect(pid: pid)
        XCTAssertEqual(areas.map(\.start), proc.map(\.start), "area starts equal /proc/PID/maps")
        XCTAssertEqual(areas.map(\.end), proc.map(\.end), "area ends equal /proc/PID/maps")
        XCTAssertEqual(areas.map(\.path), proc.map(\.path), "area paths equal /proc/PID/maps")
        XCTAssertEqual(areas.map(\.permissions), proc.map(\.permissions), "permissions equal /proc/PID/maps")
    }

    /// A dump of every kind works without a vDSO, and both sources list the same areas.
    func testFullDumpWithoutVdso() throws {
        try requireBPF()
        let fixture = try SharedCase.startC("bc20_no_vdso.c")
        let pid = try XCTUnwrap(SharedCase.number(after: "pid", in: fixture.firstLine))
        try waitForVdsoUnmapped(pid: pid)
        let bpf = try Dumper.dump(pid: pid, source: .bpf)
        let proc = try Dumper.dump(pid: pid, source: .proc)

        XCTAssertEqual(bpf.sections.map(\.kind), KindRegistry.all.map(\.name), "sections of the eBPF dump")
        XCTAssertEqual(proc.sections.map(\.kind), KindRegistry.all.map(\.name), "sections of the /proc dump")
        for section in bpf.sections {
            XCTAssertNil(section.unavailable, "\(section.kind) from eBPF: \(section.unavailable ?? "")")
        }

        let bpfAreas = try areas(in: bpf)
        let procAreas = try areas(in: proc)
        XCTAssertFalse(bpfAreas.contains { $0.path == "[vdso]" }, "[vdso] in the eBPF dump")
        XCTAssertTrue(bpfAreas.contains { $0.path == "[vvar]" }, "[vvar] missing from the eBPF dump")
        XCTAssertTrue(bpfAreas.contains { $0.path == "[vvar_vclock]" }, "[vvar_vclock] missing from the eBPF dump")
        XCTAssertEqual(bpfAreas.map(\.start), procAreas.map(\.start), "area starts of the two dumps")
        XCTAssertEqual(bpfAreas.map(\.end), procAreas.map(\.end), "area ends of the two dumps")
        XCTAssertEqual(bpfAreas.map(\.path), procAreas.map(\.path), "area paths of the two dumps")
        XCTAssertEqual(bpfAreas.map(\.residentPages), procAreas.map(\.residentPages), "resident pages of the two dumps")
    }

    private func areas(in dump: Dump) throws -> [MemoryArea] {
        let section = try XCTUnwrap(dump.section(MemoryKind.name), "no memory section from \(dump.source)")
        XCTAssertNil(section.unavailable, "memory from \(dump.source): \(section.unavailable ?? "")")
        return try section.items.map { try $0.decode(as: MemoryArea.self) }
    }

    /// Waits until /proc/PID/maps lists no [vdso], since the case prints its
    /// line before it calls munmap.
    private func waitForVdsoUnmapped(pid: Int32) throws {
        for _ in 0..<500 {
            let maps = try ProcFS.readText("/proc/\(pid)/maps")
            if !maps.contains("[vdso]") { return }
            usleep(10_000)
        }
        XCTFail("process \(pid) still maps [vdso] after 5 s")
    }
}
