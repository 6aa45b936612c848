import CBpfcpShim
import Foundation

/// Memory areas (iter/task_vma). Paths are resolved in user space because
/// bpf_d_path() is rejected for vma->vm_file.
public enum MemoryKind: ResourceKind {
    public static let name = "memory"
    public static let title = "Memory"
    public static let columns = [
        Column("START", width: 14), Column("END", width: 14), Column("SIZE", width: 9, alignRight: true),
        Column("PERM", width: 5), Column("RSS", width: 9, alignRight: true), Column("OFFSET", width: 10),
        Column("PATH", width: 40),
    ]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [MemoryArea] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid)
        case .proc: try MemoryProc.collect(pid: target.pid)
        }
    }

    /// Lists the areas of `pid`. `pageCounts: false` skips the PAGEMAP_SCAN
    /// page counts and the dirty counts of the page-table walk, which cost
    /// about as much as the listing itself for processes with many areas,
    /// and leaves them nil.
    public static func collectBPF(pid: Int32, pageCounts: Bool = true) throws -> [MemoryArea] {
        let bytes = try BPFRuntime.shared.object("vma").iterate("dump_vmas", pid: pid)
        let reader = RecordReader(bytes)
        let resolver = MappedFileResolver(pid: pid)
        let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        var areas: [MemoryArea] = []
        // Many areas share one vm_flags value, and naming the bits allocates
        // an array, so each distinct value is named once per collection.
        var flagNames: [UInt64: [String]] = [:]

        let records = try reader.records()
        areas.reserveCapacity(records.count)
        for record in records where Int(record.kind) == Int(BPFCP_REC_VMA.rawValue) {
            let rec = try reader.load(record, as: bpfcp_vma.self)
            var next = area(rec, resolver: resolver, pageSize: pageSize)
            if let named = flagNames[rec.vm_flags] {
                next.flags = named
            } else {
                let named = MemoryFlags.names(rec.vm_flags)
                flagNames[rec.vm_flags] = named
                next.flags = named
            }
            areas.append(next)
        }
        if !areas.isEmpty, let gate = GateArea.current {
            areas.append(gate)
        }
        if pageCounts {
            PageCounts.fill(&areas, pid: pid)
            DirtyPages.fill(&areas, pid: pid)
        }
        return areas
    }

    /// Permission strings of /proc/PID/maps indexed by VM_READ|VM_WRITE|VM_EXEC|VM_SHARED.
    private static let permissionStrings: [String] = (0..<16).map { bits in
        (bits & 1 != 0 ? "r" : "-") + (bits & 2 != 0 ? "w" : "-") + (bits & 4 != 0 ? "x" : "-") + (bits & 8 != 0 ? "s" : "p")
    }

    private static func area(_ rec: bpfcp_vma, resolver: MappedFileResolver, pageSize: UInt64) -> MemoryArea {
        let flags = rec.vm_flags
        let shared = flags & 0x8 != 0
        let perms = permissionStrings[Int(flags & 0xF)]
        let hasFile = rec.has_file != 0
        let device = hasFile ? Format.kernelDev(rec.dev) : "0:0"
        var path = ""

        if hasFile {
            path = resolver.path(dev: rec.dev, inode: rec.ino, start: rec.start, end: rec.end)
        } else if rec.start <= rec.brk && rec.end >= rec.start_brk {
            path = "[heap]"
        } else if rec.start <= rec.start_stack && rec.end >= rec.start_stack {
            path = "[stack]"
        } else if rec.name.0 != 0 {
            path = Escape.bytes(cStringBytes(rec.name))
        }

        return MemoryArea(
            start: rec.start, end: rec.end, permissions: perms, shared: shared,
            offset: hasFile ? rec.pgoff * pageSize : 0, device: device, inode: rec.ino, path: path,
            backing: AreaBacking.classify(path: path, hasFile: hasFile, device: device),
            residentPages: nil, swappedPages: nil, flags: nil
        )
    }

    public static func entry(_ a: MemoryArea) -> Entry {
        let pages = { (v: UInt64?) in v.map { "\($0)" } ?? "unknown" }
        let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let fields = [
            Field("start", Format.hex(a.start)), Field("end", Format.hex(a.end)), Field("size", Format.bytes(a.size)),
            Field("permissions", a.permissions), Field("shared", a.shared ? "shared" : "private"),
            Field("offset", Format.hex(a.offset)), Field("device", a.device), Field("inode", "\(a.inode)"),
            Field("path", a.path.ifEmpty("[anonymous]")), Field("backing", a.backing.rawValue),
            Field("resident pages", pages(a.residentPages)), Field("swapped pages", pages(a.swappedPages)),
            Field("dirty pages", a.flags?.contains("VM_HUGETLB") == true ? "not counted for hugetlb areas" : pages(a.dirtyPages)),
            Field("flags", a.flags.map { $0.joined(separator: "|") } ?? "unknown"),
        ]
        let rss = a.residentPages.map { Format.bytes($0 * pageSize) } ?? "-"
        let cells = [String(a.start, radix: 16), String(a.end, radix: 16), Format.bytes(a.size), a.permissions,
                     rss, String(a.offset, radix: 16), a.path.ifEmpty("[anonymous]")]
        // Keyed by start and name, not end, so that a growing heap or stack stays the same entry across captures.
        return Entry(key: "\(Format.hex(a.start)) \(a.path.ifEmpty("[anonymous]"))", cells: cells, fields: fields)
    }
}

/// Resolves (device, inode) of mapped files to paths through
/// /proc/PID/map_files, reading each distinct file once per collection.
final class MappedFileResolver {
    private struct Key: Hashable {
        let dev: UInt32
        let inode: UInt64
    }

    private let pid: Int32
    private var cache: [Key: String] = [:]

    init(pid: Int32) {
        self.pid = pid
    }

    func path(dev: UInt32, inode: UInt64, start: UInt64, end: UInt64) -> String {
        let key = Key(dev: dev, inode: inode)
        if let hit = cache[key] { return hit }
        let link = "/proc/\(pid)/map_files/\(String(start, radix: 16))-\(String(end, radix: 16))"
        let path = ProcFS.readLink(link).map { Escape.bytes($0) } ?? "[file \(Format.kernelDev(dev)) inode \(inode)]"
        cache[key] = path
        return path
    }
}

/// The [vsyscall] gate area, which /proc/PID/maps lists after the VMAs but
/// which is no VMA, so iter/task_vma never visits it. Its range and
/// permissions depend only on the kernel's vsyscall mode, so they are read
/// once from this process's own maps.
/// NOTE: a 32-bit process has no gate area, but it is still added for one.
enum GateArea {
    static let current: MemoryArea? = {
        guard let maps = try? ProcFS.readBytes("/proc/self/maps"),
              let last = maps.split(separator: 0x0A).last,
              var area = MemoryProc.parse(last), area.path == "[vsyscall]" else { return nil }
        // gate_vma carries VM_READ and VM_EXEC as its permissions show them.
        area.flags = MemoryFlags.names((area.permissions.hasPrefix("r") ? 0x1 : 0) | (area.permissions.dropFirst(2).hasPrefix("x") ? 0x4 : 0))
        return area
    }()
}
