import CBpfcpShim
import Foundation

/// Copies the memory of held processes into a pages section.
///
/// PAGEMAP_SCAN finds the pages worth saving in one ioctl per batch of
/// runs, walking only populated page tables, so a huge reservation with
/// nothing in it costs nothing. Pages are read with process_vm_readv into
/// a `PageSink`, which stages them in memory up to its budget. A snapshot
/// copy can instead write its pages to the sink's file itself (`CopyPageWriter`).
final class MemoryCapture {
    let sink: PageSink
    let pageSize: UInt64
    /// Runs of files already saved, by "device:inode", so a file open in several processes is stored once.
    var savedFiles: [String: [FileRun]] = [:]
    /// Offsets of shared pages already stored, by "device:inode" and page index in the object.
    private var sharedOffsets: [String: [UInt64: UInt64]] = [:]
    private(set) var pagesWritten: UInt64 = 0
    private(set) var pagesShared: UInt64 = 0
    /// Pages that snapshot copies wrote themselves, and pages of copies read through /proc/PID/mem.
    private(set) var pagesByCopies: UInt64 = 0
    private(set) var pagesReadFromCopies: UInt64 = 0
    /// Bytes a copy writes per injected pwrite64: a ptrace round trip per
    /// chunk is negligible, and the file's checksum, computed on another
    /// thread, trails the copy by at most one chunk.
    static let copyChunk = 8 << 20
    var checkInterrupted: () throws -> Void = {}

    /// Areas of one process, with the private pages still to be read and where they lie.
    struct DeferredPages {
        let pid: Int32
        var areas: [MemoryAreaImage]
        var pending: [(index: Int, regions: [bpfcp_page_region])]
    }

    init(sink: PageSink, pageSize: UInt64) {
        self.sink = sink
        self.pageSize = pageSize
    }

    /// Captures every memory area of the held process `pid`.
    func capture(pid: Int32) throws -> [MemoryAreaImage] {
        var pages = try scan(pid: pid, deferring: false)
        return try finish(&pages, from: pid)
    }

    /// Lists the areas of the held process `pid` and finds its pages. The
    /// pages of shared areas are read now: they are the same pages in a
    /// snapshot copy, which the target may change after its release. With
    /// `deferring`, the private pages that a copy made by clone holds
    /// unchanged are left for `finish`; the others are read now too.
    func scan(pid: Int32, deferring: Bool) throws -> DeferredPages {
        let areas = try MemoryProc.collect(pid: pid)
        let notInCopy = deferring ? try Self.areasNotCopied(pid: pid) : []
        let pagemap = open("/proc/\(pid)/pagemap", O_RDONLY | O_CLOEXEC)
        guard pagemap >= 0 else { throw BpfcpError.system("opening /proc/\(pid)/pagemap", errno) }
        defer { close(pagemap) }
        let mem = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC)
        guard mem >= 0 else { throw BpfcpError.system("opening /proc/\(pid)/mem", errno) }
        defer { close(mem) }

        var result = DeferredPages(pid: pid, areas: [], pending: [])
        for area in areas {
            try checkInterrupted()
            let contents = Self.classify(area, pid: pid)
            var runs: [PageRun] = []
            switch contents {
            case .privatePages:
                // The scan must run on the target: fork does not copy the page-table entries of clean file pages.
                let regions = try Self.scan(pagemap, area)
                if deferring && !notInCopy.contains(area.start) {
                    result.pending.append((result.areas.count, regions))
                } else {
                    runs = try copyRegions(pid: pid, mem: mem, regions)
                }
            case .sharedPages:
                runs = try copyShared(pid: pid, mem: mem, area: area, regions: try Self.scan(pagemap, area))
            case .file, .kernel:
                break
            }
            result.areas.append(MemoryAreaImage(area: area, contents: contents, runs: runs))
        }
        return result
    }

    /// Reads the pages `scan` left, from `source`: the target itself while
    /// held, or its snapshot copy, and returns the complete areas. With
    /// `writer`, the copy `source` writes the pages of its readable areas itself.
    func finish(_ pages: inout DeferredPages, from source: Int32, writer: CopyPageWriter? = nil) throws -> [MemoryAreaImage] {
        guard !pages.pending.isEmpty else { return pages.areas }
        let mem = open("/proc/\(source)/mem", O_RDONLY | O_CLOEXEC)
        guard mem >= 0 else { throw BpfcpError.system("opening /proc/\(source)/mem", errno) }
        defer { close(mem) }
        // A copy shares its pages with the target copy-on-write. process_vm_readv
        // pins what it reads, and pinning a shared anonymous page makes the
        // kernel copy it first; /proc/PID/mem reads the page where it is.
        let fromCopy = source != pages.pid
        let written = pagesWritten
        let byCopies = pagesByCopies
        for (index, regions) in pages.pending {
            // pwrite64 in the copy fails with EFAULT on pages it cannot read (PROT_NONE).
            let readable = pages.areas[index].area.permissions.hasPrefix("r")
            pages.areas[index].runs = try regions.map { region in
                try copyRun(pid: source, mem: mem, from: region.start, pages: (region.end - region.start) / pageSize,
                            pinning: !fromCopy, writer: readable ? writer : nil)
            }
        }
        if fromCopy {
            pagesReadFromCopies += (pagesWritten - written) - (pagesByCopies - byCopies)
        }
        pages.pending = []
        return pages.areas
    }

    /// Starts of the areas whose pages a copy made by clone lacks or does
    /// not keep faithfully: MADV_DONTFORK (absent), MADV_WIPEONFORK (empty),
    /// device mappings, and private hugetlb areas. The copy can lose a
    /// private huge page when the target writes it and no huge page is free.
    private static func areasNotCopied(pid: Int32) throws -> Set<UInt64> {
        let unsafe: Set<String> = ["VM_DONTCOPY", "VM_WIPEONFORK", "VM_IO", "VM_PFNMAP", "VM_MIXEDMAP", "VM_HUGETLB"]
        let areas = try MemoryKind.collectBPF(pid: pid, pageCounts: false)
        return Set(areas.filter { !unsafe.isDisjoint(with: $0.flags ?? []) }.map(\.start))
    }

    private func copyRegions(pid: Int32, mem: Int32, _ regions: [bpfcp_page_region]) throws -> [PageRun] {
        try regions.map { try copyRun(pid: pid, mem: mem, from: $0.start, pages: ($0.end - $0.start) / pageSize) }
    }

    static func classify(_ area: MemoryArea, pid: Int32) -> AreaContents {
        if ["[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]"].contains(area.path) { return .kernel }
        guard area.shared else { return .privatePages }
        let link = "/proc/\(pid)/map_files/\(String(area.start, radix: 16))-\(String(area.end, radix: 16))"
        let tmpfsMagic: UInt = 0x0102_1994
        let hugetlbfsMagic: UInt = 0x9584_58F6
        let type = UInt(bpfcp_statfs_type(link))
        return type == tmpfsMagic || type == hugetlbfsMagic ? .sharedPages : .file
    }

    /// Runs of present or swapped pages in `area`. In private areas only
    /// anonymous pages count: in a file mapping those are the written
    /// (copied-on-write) pages, and the shared zero page never counts.
    static func scan(_ pagemap: Int32, _ area: MemoryArea) throws -> [bpfcp_page_region] {
        let fileBit = UInt64(BPFCP_PAGE_IS_FILE)
        let zeroBit = UInt64(BPFCP_PAGE_IS_PFNZERO)
        let required = area.shared ? 0 : (fileBit | zeroBit)
        let anyOf = UInt64(BPFCP_PAGE_IS_PRESENT) | UInt64(BPFCP_PAGE_IS_SWAPPED)

        var regions: [bpfcp_page_region] = []
        var batch = [bpfcp_page_region](repeating: bpfcp_page_region(), count: 1024)
        var start = area.start
        while start < area.end {
            var walkEnd: UInt64 = 0
            let n = batch.withUnsafeMutableBufferPointer {
                bpfcp_pagemap_scan(pagemap, start, area.end, required, required, anyOf, $0.baseAddress, $0.count, &walkEnd)
            }
            guard n >= 0 else {
                throw BpfcpError.system("PAGEMAP_SCAN of \(Format.hex(area.start))-\(Format.hex(area.end))", Int32(-n))
            }
            regions.append(contentsOf: batch[0..<n])
            guard walkEnd > start else { break }
            start = walkEnd
        }
        return merge(regions)
    }

    /// Joins runs that touch: PAGEMAP_SCAN splits them where categories differ.
    private static func merge(_ regions: [bpfcp_page_region]) -> [bpfcp_page_region] {
        var merged: [bpfcp_page_region] = []
        for region in regions {
            if let last = merged.last, last.end == region.start {
                merged[merged.count - 1].end = region.end
            } else {
                merged.append(region)
            }
        }
        return merged
    }

    /// Copies `pages` pages at `address` to the store and returns their run.
    /// With `writer`, the copy `pid` writes them, and bpfcp reads through
    /// `mem` only the pages the copy cannot read.
    private func copyRun(pid: Int32, mem: Int32, from address: UInt64, pages: UInt64, pinning: Bool = true,
                         writer: CopyPageWriter? = nil) throws -> PageRun {
        let run = PageRun(address: address, pages: pages, offset: sink.offset)
        var done: UInt64 = 0
        let total = pages * pageSize
        while done < total {
            try checkInterrupted()
            var chunk = Int(min(UInt64(sink.chunkSize), total - done))
            if let writer, writer.failure == nil {
                let count = Int(min(UInt64(Self.copyChunk), total - done))
                let written = try sink.appendFromCopy(writer, address: address + done, count: count)
                done += UInt64(written)
                pagesByCopies += UInt64(written) / pageSize
                if written > 0 { continue }
                // The copy cannot read the page at address + done: that page alone goes through /proc/PID/mem.
                if writer.failure == nil { chunk = Int(pageSize - done % pageSize) }
            }
            let buffer = try sink.reserve(chunk)
            try Self.readRemote(pid: pid, mem: mem, into: buffer, address: address + done, count: chunk, pinning: pinning)
            try sink.commit(chunk)
            done += UInt64(chunk)
        }
        pagesWritten += pages
        return run
    }

    /// Stores each page of a shared object once, however many areas and
    /// processes map it, keyed by device, inode and page offset in the object.
    private func copyShared(pid: Int32, mem: Int32, area: MemoryArea, regions: [bpfcp_page_region]) throws -> [PageRun] {
        let key = "\(area.device):\(area.inode)"
        let firstIndex = area.offset / pageSize
        var runs: [PageRun] = []
        for region in regions {
            var address = region.start
            while address < region.end {
                let index = firstIndex + (address - area.start) / pageSize
                let offset: UInt64
                if let stored = sharedOffsets[key]?[index] {
                    offset = stored
                    pagesShared += 1
                } else {
                    offset = try copyRun(pid: pid, mem: mem, from: address, pages: 1).offset
                    sharedOffsets[key, default: [:]][index] = offset
                }
                if let last = runs.last, last.address + last.pages * pageSize == address, last.offset + last.pages * pageSize == offset {
                    runs[runs.count - 1].pages += 1
                } else {
                    runs.append(PageRun(address: address, pages: 1, offset: offset))
                }
                address += pageSize
            }
        }
        return runs
    }

    /// Fills `buffer` from the target: process_vm_readv first, unless
    /// `pinning` is off, then /proc/PID/mem, which also reads pages the
    /// target cannot read itself (PROT_NONE).
    static func readRemote(pid: Int32, mem: Int32, into buffer: UnsafeMutableRawPointer, address: UInt64, count: Int,
                           pinning: Bool = true) throws {
        var done = pinning ? max(0, bpfcp_read_remote(pid, buffer, address, count)) : 0
        while done < count {
            let n = pread(mem, buffer + done, count - done, off_t(Int64(bitPattern: address + UInt64(done))))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw BpfcpError("memory_read", "reading memory of process \(pid) at \(Format.hex(address + UInt64(done))) failed: \(String(cString: strerror(n < 0 ? errno : EIO)))")
            }
            done += n
        }
    }
}
