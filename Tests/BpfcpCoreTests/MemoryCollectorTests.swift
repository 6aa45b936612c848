@testable import BpfcpCore
import XCTest

/// Checks memory areas from BPF against the memory_areas fixture, against
/// /proc/PID/maps field for field, and their page counts and flags against
/// /proc/PID/smaps.
final class MemoryCollectorTests: XCTestCase {
    private var fixture: Fixture!
    private var child: Int32 = 0

    override func setUpWithError() throws {
        try requireBPF()
        fixture = try Fixture(c: "memory_areas")
        child = Int32(try XCTUnwrap(fixture.int("child")))
    }

    override func tearDown() {
        if child > 0 { kill(child, SIGKILL) }
        fixture?.stop()
        if let dir = fixture?.values["dir"], dir.hasPrefix("/tmp/bpfcp-memory-") {
            try? FileManager.default.removeItem(atPath: dir)
        }
        fixture = nil
    }

    private func address(_ key: String) throws -> UInt64 {
        try XCTUnwrap(fixture.values[key].flatMap { UInt64($0, radix: 16) }, "fixture did not print \(key)")
    }

    private func area(_ key: String, in areas: [MemoryArea]) throws -> MemoryArea {
        let start = try address(key)
        return try XCTUnwrap(areas.first { $0.start == start }, "no area starts at \(key)")
    }

    func testKnownAreas() throws {
        let areas = try MemoryKind.collectBPF(pid: fixture.pid)
        let page: UInt64 = 4096

        let rw = try area("rw", in: areas)
        XCTAssertEqual(rw.size, 16 * page)
        XCTAssertEqual(rw.permissions, "rw-p")
        XCTAssertEqual(rw.backing, .anonymous)
        XCTAssertEqual(rw.residentPages, 5)
        XCTAssertEqual(rw.swappedPages, 0)

        let ro = try area("ro", in: areas)
        XCTAssertEqual(ro.size, 8 * page)
        XCTAssertEqual(ro.permissions, "r--p")
        XCTAssertEqual(ro.residentPages, 0, "reads map the shared zero page, which is not resident memory")

        let file = try area("file_map", in: areas)
        var st = stat()
        XCTAssertEqual(stat(try XCTUnwrap(fixture.values["file"]), &st), 0)
        XCTAssertEqual(file.size, 3 * page)
        XCTAssertEqual(file.permissions, "rw-s")
        XCTAssertTrue(file.shared)
        XCTAssertEqual(file.offset, page)
        XCTAssertEqual(file.inode, UInt64(st.st_ino))
        XCTAssertEqual(file.path, fixture.values["file"])
        XCTAssertEqual(file.backing, .file)
        XCTAssertEqual(file.residentPages, 2)

        let reserve = try area("reserve", in: areas)
        XCTAssertEqual(reserve.size, 16 << 40)
        XCTAssertEqual(reserve.permissions, "---p")
        XCTAssertEqual(reserve.residentPages, 0)

        for special in ["[heap]", "[stack]", "[vdso]", "[vvar]", "[vvar_vclock]"] {
            XCTAssertEqual(areas.filter { $0.path == special }.count, 1, "\(special) listed once")
        }
        XCTAssertEqual(areas.first { $0.path == "[heap]" }?.backing, .heap)
        XCTAssertEqual(areas.first { $0.path == "[vdso]" }?.backing, .special)
    }

    func testFlagsByName() throws {
        let areas = try MemoryKind.collectBPF(pid: fixture.pid)
        let expected = [
            ("locked", "VM_LOCKED"), ("growsdown", "VM_GROWSDOWN"), ("dontdump", "VM_DONTDUMP"),
            ("dontfork", "VM_DONTCOPY"), ("wipe", "VM_WIPEONFORK"), ("seq", "VM_SEQ_READ"),
            ("reserve", "VM_NORESERVE"), ("sealed", "VM_SEALED"), ("shmem", "VM_SHARED"),
        ]
        for (key, flag) in expected {
            let flags = try XCTUnwrap(try area(key, in: areas).flags, "flags of \(key)")
            XCTAssertTrue(flags.contains(flag), "\(key) has \(flags), expected \(flag)")
        }
        let vvar = try XCTUnwrap(areas.first { $0.path == "[vvar]" }?.flags)
        XCTAssertTrue(vvar.contains("VM_PFNMAP"), "[vvar] has \(vvar)")
        XCTAssertTrue(vvar.contains("VM_IO"), "[vvar] has \(vvar)")
    }

    func testEveryFieldEqualsMaps() throws {
        for pid in [fixture.pid, child] {
            let bpf = try MemoryKind.collectBPF(pid: pid)
            let proc = try MemoryProc.collect(pid: pid)

            XCTAssertEqual(bpf.count, proc.count, "area count of \(pid)")
            for (b, p) in zip(bpf, proc) {
                let at = "area \(Format.hex(b.start)) of \(pid)"
                XCTAssertEqual(b.start, p.start, at)
                XCTAssertEqual(b.end, p.end, at)
                XCTAssertEqual(b.permissions, p.permissions, "permissions of \(at)")
                XCTAssertEqual(b.offset, p.offset, "offset of \(at)")
                XCTAssertEqual(b.device, p.device, "device of \(at)")
                XCTAssertEqual(b.inode, p.inode, "inode of \(at)")
                XCTAssertEqual(b.path, p.path, "path of \(at)")
                XCTAssertEqual(b.backing, p.backing, "backing of \(at)")
                XCTAssertEqual(b.residentPages, p.residentPages, "resident pages of \(at)")
            }
        }
    }

    func testPageCountsEqualSmaps() throws {
        let areas = try MemoryKind.collectBPF(pid: fixture.pid)
        let smaps = try Smaps.read(pid: fixture.pid)

        XCTAssertEqual(areas.map(\.start), smaps.map(\.start))
        for (a, s) in zip(areas, smaps) {
            XCTAssertEqual(a.residentPages, s.rssKiB / 4, "resident pages of \(Format.hex(a.start)) \(a.path)")
            XCTAssertEqual(a.swappedPages, s.swapKiB / 4, "swapped pages of \(Format.hex(a.start)) \(a.path)")
        }
    }

    /// Every flag smaps names must be named from vm_flags, and no other: this
    /// checks each VM_* value against the running kernel.
    func testFlagsEqualSmapsVmFlags() throws {
        let areas = try MemoryKind.collectBPF(pid: fixture.pid)
        let smaps = try Smaps.read(pid: fixture.pid)

        for (a, s) in zip(areas, smaps) {
            let flags = try XCTUnwrap(a.flags)
            let mnemonics = Set(flags.compactMap { Smaps.mnemonic[$0] })
            XCTAssertEqual(mnemonics.count, flags.count, "unnamed flags of \(Format.hex(a.start)): \(flags)")
            XCTAssertEqual(mnemonics, s.vmFlags, "flags of \(Format.hex(a.start)) \(a.path)")
        }
    }

    /// Shared anonymous memory, a memfd and a SysV segment show the same
    /// device, inode and path in the parent and in the child that inherited them.
    func testSharedObjectsHaveOneIdentity() throws {
        let parent = try MemoryKind.collectBPF(pid: fixture.pid)
        let inherited = try MemoryKind.collectBPF(pid: child)
        let backings: [(String, AreaBacking)] = [("shmem", .shmem), ("memfd", .memfd), ("sysv", .sysvShm)]

        for (key, backing) in backings {
            let mine = try area(key, in: parent)
            let theirs = try area(key, in: inherited)
            XCTAssertEqual(mine.backing, backing, "backing of \(key)")
            XCTAssertEqual(theirs.backing, backing, "backing of \(key) in the child")
            XCTAssertEqual(mine.device, theirs.device, "device of \(key)")
            XCTAssertEqual(mine.inode, theirs.inode, "inode of \(key)")
            XCTAssertEqual(mine.path, theirs.path, "path of \(key)")
            XCTAssertTrue(mine.device.hasPrefix("0:"), "\(key) lives on an internal mount, not \(mine.device)")
        }
        XCTAssertEqual(try area("memfd", in: parent).path, "/memfd:bpfcp-memfd (deleted)")
        XCTAssertEqual(try area("shmem", in: parent).path, "/dev/zero (deleted)")
        XCTAssertNotEqual(try area("shmem", in: parent).inode, try area("memfd", in: parent).inode)
    }
}

/// The fields of /proc/PID/smaps the tests compare.
struct Smaps {
    let start: UInt64
    let rssKiB: UInt64
    let swapKiB: UInt64
    /// Private_Dirty plus Shared_Dirty.
    let dirtyKiB: UInt64
    let vmFlags: Set<String>

    /// Two-letter VmFlags names of /proc/PID/smaps, from show_smap_vma_flags() in fs/proc/task_mmu.c.
    static let mnemonic: [String: String] = [
        "VM_READ": "rd", "VM_WRITE": "wr", "VM_EXEC": "ex", "VM_SHARED": "sh", "VM_MAYREAD": "mr",
        "VM_MAYWRITE": "mw", "VM_MAYEXEC": "me", "VM_MAYSHARE": "ms", "VM_GROWSDOWN": "gd",
        "VM_PFNMAP": "pf", "VM_LOCKED": "lo", "VM_IO": "io", "VM_SEQ_READ": "sr", "VM_RAND_READ": "rr",
        "VM_DONTCOPY": "dc", "VM_DONTEXPAND": "de", "VM_LOCKONFAULT": "lf", "VM_ACCOUNT": "ac",
        "VM_NORESERVE": "nr", "VM_HUGETLB": "ht", "VM_SYNC": "sf", "VM_PAT": "ar", "VM_WIPEONFORK": "wf",
        "VM_DONTDUMP": "dd", "VM_MIXEDMAP": "mm", "VM_HUGEPAGE": "hg", "VM_NOHUGEPAGE": "nh",
        "VM_MERGEABLE": "mg", "VM_UFFD_MISSING": "um", "VM_UFFD_WP": "uw", "VM_SEALED": "sl",
    ]

    static func read(pid: Int32) throws -> [Smaps] {
        let text = try ProcFS.readText("/proc/\(pid)/smaps")
        var result: [Smaps] = []
        var start: UInt64?
        var rss: UInt64 = 0
        var swap: UInt64 = 0
        var dirty: UInt64 = 0

        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = words.first else { continue }
            if first.hasSuffix(":") {
                let value = words.count > 1 ? UInt64(words[1]) ?? 0 : 0
                switch first {
                case "Rss:": rss = value
                case "Swap:": swap = value
                case "Shared_Dirty:", "Private_Dirty:": dirty += value
                case "VmFlags:":
                    result.append(Smaps(start: start ?? 0, rssKiB: rss, swapKiB: swap, dirtyKiB: dirty,
                                        vmFlags: Set(words.dropFirst().map(String.init))))
                    dirty = 0
                default: break
                }
            } else if let dash = first.firstIndex(of: "-") {
                start = UInt64(first[..<dash], radix: 16)
            }
        }
        return result
    }
}
