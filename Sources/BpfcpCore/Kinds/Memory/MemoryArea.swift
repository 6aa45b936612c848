import Foundation

/// One memory area (VMA).
public struct MemoryArea: Codable, Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64
    /// "rwxp" as in /proc/PID/maps: read, write, execute, then p(rivate) or s(hared).
    public var permissions: String
    public var shared: Bool
    /// Offset into the mapped file, in bytes.
    public var offset: UInt64
    /// Device and inode of the mapped file as "major:minor". For shmem, SysV
    /// and memfd mappings this pair is the identity of the shared object, equal
    /// in every process that maps it.
    public var device: String
    public var inode: UInt64
    /// File path (escaped), "[heap]", "[stack]", "[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]", or "" for anonymous memory.
    public var path: String
    public var backing: AreaBacking
    /// Pages present in RAM, counted like /proc/PID/smaps Rss; nil when not read.
    public var residentPages: UInt64?
    /// Pages swapped out; nil when not read.
    public var swappedPages: UInt64?
    /// Pages dirty in the page table or the page cache, counted like
    /// /proc/PID/smaps Private_Dirty plus Shared_Dirty; nil when not read,
    /// and for hugetlb areas, which smaps counts apart.
    public var dirtyPages: UInt64? = nil
    /// VM_* flags by name; nil when the source (/proc/PID/maps) does not give them.
    public var flags: [String]?

    public var size: UInt64 { end - start }
}

/// The kind of object behind a memory area.
public enum AreaBacking: String, Codable, Sendable {
    case anonymous
    case file
    /// Shared anonymous memory (MAP_SHARED|MAP_ANONYMOUS), shown as "/dev/zero (deleted)".
    case shmem
    case sysvShm = "sysv-shm"
    case memfd
    /// MAP_HUGETLB anonymous memory, shown as "/anon_hugepage (deleted)".
    case hugetlb
    case heap
    case stack
    /// Kernel-provided mappings such as [vdso], [vvar] and [vsyscall].
    case special

    /// Classifies by the path the kernel shows, so that the BPF and /proc
    /// collectors agree. Objects on the kernel's internal mounts (device
    /// major 0) are the shared-memory kinds.
    public static func classify(path: String, hasFile: Bool, device: String) -> AreaBacking {
        if !hasFile {
            switch path {
            case "": return .anonymous
            case "[heap]": return .heap
            case "[stack]": return .stack
            default: return .special
            }
        }
        let internalMount = device.hasPrefix("0:")
        if internalMount && path.hasPrefix("/SYSV") { return .sysvShm }
        if internalMount && path.hasPrefix("/memfd:") { return .memfd }
        if internalMount && path == "/dev/zero (deleted)" { return .shmem }
        if path == "/anon_hugepage (deleted)" { return .hugetlb }
        return .file
    }
}

/// Names of vm_area_struct flags (VM_* in include/linux/mm.h, Linux 6.18 on
/// x86_64). The test against /proc/PID/smaps VmFlags checks every value.
public enum MemoryFlags {
    private static let bits: [(UInt64, String)] = [
        (0x1, "VM_READ"), (0x2, "VM_WRITE"), (0x4, "VM_EXEC"), (0x8, "VM_SHARED"),
        (0x10, "VM_MAYREAD"), (0x20, "VM_MAYWRITE"), (0x40, "VM_MAYEXEC"), (0x80, "VM_MAYSHARE"),
        (0x100, "VM_GROWSDOWN"), (0x200, "VM_UFFD_MISSING"), (0x400, "VM_PFNMAP"), (0x1000, "VM_UFFD_WP"),
        (0x2000, "VM_LOCKED"), (0x4000, "VM_IO"), (0x8000, "VM_SEQ_READ"), (0x10000, "VM_RAND_READ"),
        (0x20000, "VM_DONTCOPY"), (0x40000, "VM_DONTEXPAND"), (0x80000, "VM_LOCKONFAULT"), (0x100000, "VM_ACCOUNT"),
        (0x200000, "VM_NORESERVE"), (0x400000, "VM_HUGETLB"), (0x800000, "VM_SYNC"), (0x1000000, "VM_PAT"),
        (0x2000000, "VM_WIPEONFORK"), (0x4000000, "VM_DONTDUMP"), (0x10000000, "VM_MIXEDMAP"),
        (0x20000000, "VM_HUGEPAGE"), (0x40000000, "VM_NOHUGEPAGE"), (0x80000000, "VM_MERGEABLE"),
        (UInt64(1) << 42, "VM_SEALED"),
    ]
    private static let known = bits.reduce(UInt64(0)) { $0 | $1.0 }
    /// Name of each bit by bit number, "" where the bit has none.
    private static let byBit: [String] = (0..<64).map { bit in
        bits.first { $0.0 == UInt64(1) << UInt64(bit) }?.1 ?? ""
    }

    /// Names of the bits set in `flags`, in bit order. Bits without a name
    /// here (protection keys, shadow stack) follow as one hexadecimal value.
    public static func names(_ flags: UInt64) -> [String] {
        var result: [String] = []
        result.reserveCapacity(flags.nonzeroBitCount)
        var rest = flags & known
        while rest != 0 {
            let bit = rest.trailingZeroBitCount
            result.append(byBit[bit])
            rest &= rest - 1
        }
        if flags & ~known != 0 { result.append(Format.hex(flags & ~known)) }
        return result
    }
}
