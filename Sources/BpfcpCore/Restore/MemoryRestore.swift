import Foundation

/// Rebuilds the address space of the child: everything it inherited from
/// restore goes, the kernel's [vdso] and [vvar] areas move to where the image
/// had them, and every saved area is mapped at its address with its
/// protection, then filled with its saved pages.
struct MemoryRestore {
    let plan: RestorePlan
    let injector: Injector
    let fds: FdTable
    var timer = PhaseTimer()

    private var tracee: Tracee { injector.tracee }

    /// Highest user address on x86_64 with 4-level page tables (TASK_SIZE).
    static let userEnd: UInt64 = 0x7FFF_FFFF_F000
    static let kernelAreaNames: Set<String> = ["[vdso]", "[vvar]", "[vvar_vclock]"]

    static let protRead: Int32 = 1, protWrite: Int32 = 2, protExec: Int32 = 4
    static let mapShared = 0x01, mapPrivate = 0x02, mapFixed = 0x10, mapAnonymous = 0x20
    static let mapGrowsDown = 0x100, mapNoReserve = 0x4000, mapFixedNoReplace = 0x10_0000
    static let mremapMayMove = 1, mremapFixed = 2

    /// Runs every step in order. `inherited` is the child's layout before the restore.
    func run(inherited: [MemoryArea]) throws {
        try unmapInherited(inherited)
        try placeKernelAreas(inherited)
        let protections = try mapAreas()
        try timer.measure(\.pagesNs) { try PageLoader(plan: plan, injector: injector, fds: fds).run() }
        try MemoryAdvice.apply(plan.areas, injector: injector)

        // After the pages: an anonymous area without pages (no anon_vma)
        // loses VM_ACCOUNT when it becomes read-only.
        for area in protections {
            try injector.queue(SyscallNumber.mprotect, [.value(area.start), .value(area.size), .int(Int(area.prot))],
                               text: "mprotect(\(Format.hex(area.start)), \(area.size), \(Self.protNames(area.prot)))")
        }
        try injector.flush()
    }

    // MARK: unmapping

    /// Unmaps all of the address space but the trampoline and the kernel
    /// areas, gap by gap, so nothing inherited can survive.
    private func unmapInherited(_ inherited: [MemoryArea]) throws {
        var keep = inherited.filter { Self.kernelAreaNames.contains($0.path) }.map { ($0.start, $0.end) }
        keep.append((tracee.trampoline, tracee.trampoline + tracee.trampolineSize))
        keep.sort { $0.0 < $1.0 }

        var cursor: UInt64 = 0
        for (start, end) in keep + [(Self.userEnd, Self.userEnd)] {
            if start > cursor {
                try injector.queue(SyscallNumber.munmap, [.value(cursor), .value(start - cursor)],
                                   text: "munmap(\(Format.hex(cursor)), \(start - cursor))")
            }
            cursor = max(cursor, end)
        }
        try injector.flush()
    }

    // MARK: kernel areas

    /// Moves [vvar], [vvar_vclock] and [vdso] to their addresses in the
    /// image, through a free range first so that no move lands on an area
    /// not yet moved, and unmaps the ones the image does not have.
    private func placeKernelAreas(_ inherited: [MemoryArea]) throws {
        let current = inherited.filter { Self.kernelAreaNames.contains($0.path) }
        let wanted = Dictionary(plan.areas.compactMap { area -> (String, AreaPlan)? in
            if case .kernel(let name) = area.backing, Self.kernelAreaNames.contains(name) { return (name, area) }
            return nil
        }, uniquingKeysWith: { first, _ in first })

        let moving = current.filter { wanted[$0.path] != nil }
        let total = moving.reduce(UInt64(0)) { $0 + $1.size }
        let occupied = plan.areas.map { ($0.start, $0.end) } + inherited.map { ($0.start, $0.end) }
            + [(tracee.trampoline, tracee.trampoline + tracee.trampolineSize)]
        var temporary = try Self.findGap(size: total, avoiding: occupied)

        var parked: [(UInt64, MemoryArea)] = []
        for area in moving {
            try mremap(from: area.start, size: area.size, to: temporary, name: area.path)
            parked.append((temporary, area))
            temporary += area.size
        }
        for (address, area) in parked {
            try mremap(from: address, size: area.size, to: wanted[area.path]!.start, name: area.path)
        }
        for area in current where wanted[area.path] == nil {
            try injector.queue(SyscallNumber.munmap, [.value(area.start), .value(area.size)],
                               text: "munmap(\(Format.hex(area.start)), \(area.size)) /* \(area.path): not in the image */")
        }
        try injector.flush()
    }

    private func mremap(from: UInt64, size: UInt64, to: UInt64, name: String) throws {
        let flags = Self.mremapMayMove | Self.mremapFixed
        try injector.queue(SyscallNumber.mremap, [.value(from), .value(size), .value(size), .int(flags), .value(to)],
                           text: "mremap(\(Format.hex(from)), \(size), \(size), MREMAP_MAYMOVE|MREMAP_FIXED, \(Format.hex(to))) /* \(name) */",
                           expected: Int64(bitPattern: to))
    }

    // MARK: mapping

    /// Opens each mapped file once, maps every area in address order, then
    /// closes the files. Returns the areas mapped writable that must become read-only.
    private func mapAreas() throws -> [AreaPlan] {
        var opened: [String: Int32] = [:]
        for area in plan.areas {
            guard case .file(let path, _) = area.backing, opened[path] == nil else { continue }
            let writable = area.shared && area.prot & Self.protWrite != 0
            let flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC
            let fd = fds.allocate()
            try injector.queue(SyscallNumber.openat, [.int(Int(AT_FDCWD)), .payload(0), .int(Int(flags)), .int(0)],
                               payloads: [Array(path.utf8) + [0]],
                               text: "openat(AT_FDCWD, \"\(Escape.text(path))\", \(writable ? "O_RDWR" : "O_RDONLY")|O_CLOEXEC)",
                               expected: Int64(fd))
            opened[path] = fd
        }

        let copies = try copySharedObjects()
        var protections: [AreaPlan] = []
        for area in plan.areas {
            if case .kernel = area.backing { continue }
            let fd: Int32? = switch area.backing {
            case .file(let path, _): opened[path]
            case .shared(let key, _, _): copies[key]
            default: nil
            }
            if try mapArea(area, fd: fd) { protections.append(area) }
        }

        for (_, fd) in opened.merging(copies, uniquingKeysWith: { a, _ in a }).sorted(by: { $0.value < $1.value }) {
            try injector.queue(SyscallNumber.close, [.int(Int(fd))], text: "close(\(fd))")
            fds.release(fd)
        }
        try injector.flush()
        return protections
    }

    /// Queues the mmap of `area`; returns true when it was mapped writable and still needs its mprotect.
    private func mapArea(_ area: AreaPlan, fd: Int32?) throws -> Bool {
        var flags = (area.shared ? Self.mapShared : Self.mapPrivate) | Self.mapFixedNoReplace
        var offset: UInt64 = 0
        if case .file(_, let fileOffset) = area.backing {
            offset = fileOffset
        } else if case .shared(_, let objectOffset, _) = area.backing {
            offset = objectOffset
        } else {
            flags |= Self.mapAnonymous
        }
        if area.growsDown { flags |= Self.mapGrowsDown }

        // The kernel merges adjacent areas with equal flags, and VM_ACCOUNT is
        // one of them: a private area gets it when mapped writable and keeps
        // it after mprotect. Mapping writable first, then mprotect, gives it
        // back to an area that had it, such as the RELRO part of a library
        // (relocated, then made read-only), so the kernel keeps it apart from
        // its neighbour as it did in the original. When the image does not
        // say, a read-only private area with saved pages is taken as one,
        // because it must have been written while it was writable.
        var prot = area.prot
        let writable = area.prot & Self.protWrite != 0
        let accounted = area.accounted ?? !area.runs.isEmpty
        let remapProtection = !area.shared && !writable && accounted
        if remapProtection { prot |= Self.protWrite }
        if !area.shared && (area.noReserve ?? (writable && area.accounted == false)) { flags |= Self.mapNoReserve }

        try injector.queue(SyscallNumber.mmap, [.value(area.start), .value(area.size), .int(Int(prot)), .int(flags),
                                                .int(Int(fd ?? -1)), .value(offset)],
                           text: "mmap(\(Format.hex(area.start)), \(area.size), \(Self.protNames(prot)), \(Self.mapNames(flags)), \(fd ?? -1), \(Format.hex(offset)))",
                           expected: Int64(bitPattern: area.start))
        return remapProtection
    }

    // MARK: helpers

    /// Returns the lowest page-aligned address from 4 GiB up where `size`
    /// bytes overlap none of `ranges`.
    static func findGap(size: UInt64, avoiding ranges: [(UInt64, UInt64)]) throws -> UInt64 {
        var candidate: UInt64 = 0x1_0000_0000
        for (start, end) in ranges.sorted(by: { $0.0 < $1.0 }) where end > candidate {
            if start >= candidate + size { break }
            candidate = (end + 0xFFF) & ~0xFFF
        }
        guard candidate + size <= userEnd else {
            throw BpfcpError("restore_failed", "no free range of \(size) bytes for the restore trampoline")
        }
        return candidate
    }

    static func protNames(_ prot: Int32) -> String {
        let names = [(protRead, "PROT_READ"), (protWrite, "PROT_WRITE"), (protExec, "PROT_EXEC")].filter { prot & $0.0 != 0 }.map(\.1)
        return names.isEmpty ? "PROT_NONE" : names.joined(separator: "|")
    }

    static func mapNames(_ flags: Int) -> String {
        let all = [(mapShared, "MAP_SHARED"), (mapPrivate, "MAP_PRIVATE"), (mapFixed, "MAP_FIXED"), (mapAnonymous, "MAP_ANONYMOUS"),
                   (mapGrowsDown, "MAP_GROWSDOWN"), (mapNoReserve, "MAP_NORESERVE"), (mapFixedNoReplace, "MAP_FIXED_NOREPLACE")]
        return all.filter { flags & $0.0 != 0 }.map(\.1).joined(separator: "|")
    }
}

/// The file descriptors open in the child, so that restore can predict which
/// number each open will return (the lowest free one) before it runs.
final class FdTable {
    private(set) var open: Set<Int32>

    init(pid: Int32) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")
        open = Set(names.compactMap { Int32($0) })
    }

    /// Marks the lowest free fd as taken and returns it.
    func allocate(from minimum: Int32 = 0) -> Int32 {
        var fd = minimum
        while open.contains(fd) { fd += 1 }
        open.insert(fd)
        return fd
    }

    func take(_ fd: Int32) {
        open.insert(fd)
    }

    func release(_ fd: Int32) {
        open.remove(fd)
    }
}

/// A file mapped read-only into restore, to copy page contents from.
final class MappedFile {
    let base: UnsafeRawPointer
    let size: Int

    /// `populate` maps every page at once (MAP_POPULATE), for a file that
    /// is read whole: no page fault per 16 pages, and UFFDIO_COPY, which
    /// reads its source with page faults disabled, needs no second try.
    init(path: String, populate: Bool = false) throws {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BpfcpError.system("opening \(Escape.text(path))", errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw BpfcpError.system("reading the size of \(Escape.text(path))", errno) }
        size = Int(info.st_size)
        guard size > 0 else {
            base = UnsafeRawPointer(bitPattern: 1)!
            return
        }
        guard let pointer = mmap(nil, size, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0), pointer != MAP_FAILED else {
            throw BpfcpError.system("mapping \(Escape.text(path))", errno)
        }
        base = UnsafeRawPointer(pointer)
    }

    deinit {
        if size > 0 { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }
}
