@testable import BpfcpCore
import XCTest

/// Swapped page counts against /proc/PID/smaps, with a swap file of the
/// test's own. The fixture writes 64 pages and pushes 24 of them out with
/// MADV_PAGEOUT. Enabling swap needs root, which BPF tests need anyway, so
/// a failing swapon fails the test instead of skipping it.
final class MemorySwapTests: XCTestCase {
    private var swap: SwapFile?
    private var fixture: Fixture?

    override func setUpWithError() throws {
        try requireBPF()
        if let reason = DirtyPages.unsupportedReason { throw XCTSkip(reason) }
        swap = try SwapFile(megabytes: 64)
        fixture = try Fixture(c: "swap_pages")
    }

    override func tearDown() {
        fixture?.stop()
        fixture = nil
        swap?.remove()
        swap = nil
    }

    func testSwapCountsEqualSmaps() throws {
        let fixture = try XCTUnwrap(fixture)
        let start = try XCTUnwrap(fixture.values["area"].flatMap { UInt64($0, radix: 16) })
        let pageKiB = UInt64(sysconf(Int32(_SC_PAGESIZE))) / 1024
        let smaps = try waitForSwap(pid: fixture.pid, start: start, kib: 24 * pageKiB)

        let bpf = try MemoryKind.collectBPF(pid: fixture.pid)
        let proc = try MemoryProc.collect(pid: fixture.pid)
        for (name, areas) in [("eBPF", bpf), ("/proc", proc)] {
            let area = try XCTUnwrap(areas.first { $0.start == start }, "\(name): no area at \(Format.hex(start))")
            XCTAssertEqual(area.swappedPages, 24, "\(name): pages pushed out")
            XCTAssertEqual(area.residentPages, 40, "\(name): pages left in memory")
            XCTAssertEqual(area.dirtyPages, 40, "\(name): written pages left in memory")

            XCTAssertEqual(areas.map(\.start), smaps.map(\.start), "\(name): areas")
            for (a, s) in zip(areas, smaps) where a.path != "[vsyscall]" {
                XCTAssertEqual(a.swappedPages, s.swapKiB / pageKiB, "\(name): swap of \(Format.hex(a.start)) \(a.path)")
                XCTAssertEqual(a.dirtyPages, s.dirtyKiB / pageKiB, "\(name): dirty of \(Format.hex(a.start)) \(a.path)")
            }
        }
    }

    /// Guard markers are non-present page table entries that PAGEMAP_SCAN
    /// reports as swapped; smaps does not count them as Swap, and neither does bpfcp.
    func testGuardMarkersAreNotSwap() throws {
        let fixture = try XCTUnwrap(fixture)
        let start = try XCTUnwrap(fixture.values["guard"].flatMap { UInt64($0, radix: 16) })
        XCTAssertNotEqual(start, 0, "madvise(MADV_GUARD_INSTALL) failed in the fixture (kernels before 6.13 lack it)")

        for (name, areas) in [("eBPF", try MemoryKind.collectBPF(pid: fixture.pid)), ("/proc", try MemoryProc.collect(pid: fixture.pid))] {
            let area = try XCTUnwrap(areas.first { $0.start == start }, "\(name): no area at \(Format.hex(start))")
            XCTAssertEqual(area.swappedPages, 0, "\(name): guard markers counted as swap")
            XCTAssertEqual(area.residentPages, 5, "\(name): written pages without a guard marker")
        }
    }

    /// MADV_PAGEOUT returns before every page is written out, so smaps is
    /// read until the area shows `kib` of swap, for up to 20 s.
    private func waitForSwap(pid: Int32, start: UInt64, kib: UInt64) throws -> [Smaps] {
        var last: UInt64 = 0
        for _ in 0..<200 {
            let smaps = try Smaps.read(pid: pid)
            last = smaps.first { $0.start == start }?.swapKiB ?? 0
            if last == kib { return smaps }
            usleep(100_000)
        }
        throw FixtureError("smaps of process \(pid) shows \(last) kB of swap at \(Format.hex(start)) after 20 s, not \(kib) kB")
    }
}
