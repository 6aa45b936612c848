import CBpfcpShim
import Foundation

/// Dirty page counts per area from vmapages.bpf.c, which walks the page
/// tables of the process. PAGEMAP_SCAN has no dirty category, and
/// soft-dirty tracking exists only in kernels built with
/// CONFIG_MEM_SOFT_DIRTY. The counts equal /proc/PID/smaps Private_Dirty
/// plus Shared_Dirty, in pages.
///
/// The same walk counts swapped pages as smaps counts Swap: entries that
/// hold a swap entry. PAGEMAP_SCAN's "swapped" category also takes in
/// migration entries and guard or userfaultfd markers, so the walk's count
/// replaces it where the walk ran. The swap of a shared memory (shmem)
/// mapping lives in the file's page cache rather than in page table
/// entries, and neither count includes it.
public enum DirtyPages {
    /// Fills `dirtyPages` and `swappedPages` of `areas`. Leaves dirty nil
    /// and swapped as PAGEMAP_SCAN gave it, and logs why, for
    /// hugetlb areas (smaps counts those apart), for the [vsyscall] gate
    /// area, and for every area when the walk cannot run here.
    public static func fill(_ areas: inout [MemoryArea], pid: Int32) {
        if let reason = unsupportedReason {
            Log.shared.write("dirty pages of \(pid): \(reason)")
            return
        }
        let counts: [UInt64: bpfcp_vma_pages]
        do {
            counts = try read(pid: pid)
        } catch {
            Log.shared.write("dirty pages of \(pid): \(error)")
            return
        }

        var statuses = Set<UInt32>()
        for i in areas.indices {
            guard let rec = counts[areas[i].start], rec.end == areas[i].end else { continue }
            if rec.status == UInt32(BPFCP_PAGES_COUNTED) {
                areas[i].dirtyPages = rec.dirty
                areas[i].swappedPages = rec.swapped
            } else {
                statuses.insert(rec.status)
            }
        }
        for status in statuses where status != UInt32(BPFCP_PAGES_HUGETLB) {
            Log.shared.write("dirty pages of \(pid): \(describe(status))")
        }
    }

    /// The reason the walk cannot run on this machine, nil when it can. It
    /// reads x86-64 4-level page tables only.
    static let unsupportedReason: String? = {
        #if arch(x86_64)
        let cpuinfo = (try? ProcFS.readText("/proc/cpuinfo")) ?? ""
        let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
        if flags.split(separator: " ").contains("la57") {
            return "the CPU supports 5-level paging (la57), which the page-table walk does not handle"
        }
        return nil
        #else
        return "the page-table walk reads x86-64 page tables only"
        #endif
    }()

    private static func read(pid: Int32) throws -> [UInt64: bpfcp_vma_pages] {
        let reader = RecordReader(try BPFRuntime.shared.object("vmapages").iterate("count_vma_pages", pid: pid))
        var counts: [UInt64: bpfcp_vma_pages] = [:]
        for record in try reader.records() where Int(record.kind) == Int(BPFCP_REC_VMA_PAGES.rawValue) {
            let rec = try reader.load(record, as: bpfcp_vma_pages.self)
            counts[rec.start] = rec
        }
        return counts
    }

    private static func describe(_ status: UInt32) -> String {
        switch status {
        case UInt32(BPFCP_PAGES_NO_LAYOUT):
            "the kernel's direct map or struct page array was not found, so page tables cannot be read"
        case UInt32(BPFCP_PAGES_TRUNCATED):
            "an area has more page table entries than one walk reads, so its count is left out"
        default:
            "page walk status \(status)"
        }
    }
}
