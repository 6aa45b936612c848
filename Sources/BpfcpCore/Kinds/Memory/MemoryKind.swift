import CBpfcpShim
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
    public var device: String
    public var inode: UInt64
    /// File path (escaped), "[heap]", "[stack]", "[vdso]", "[vvar]", "[vvar_vclock]", or "" for anonymous memory.
    public var path: String
    /// Pages present in RAM, when known.
    public var residentPages: UInt64?

    public var size: UInt64 { end - start }
}

/// Memory areas (iter/task_vma). Paths are resolved in user space because
/// bpf_d_path() is rejected for vma->vm_file.
public enum MemoryKind: ResourceKind {
    public static let name = "memory"
    public static let title = "Memory"
    public static let columns = [
        Column("START", width: 14), Column("END", width: 14), Column("SIZE", width: 9, alignRight: true),
        Column("PERM", width: 5), Column("OFFSET", width: 10), Column("PATH", width: 40),
    ]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [MemoryArea] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid)
        case .proc: try MemoryProc.collect(pid: target.pid)
        }
    }

    public static func collectBPF(pid: Int32) throws -> [MemoryArea] {
        let bytes = try BPFRuntime.shared.object("vma").iterate("dump_vmas", pid: pid)
        let reader = RecordReader(bytes)
        let resolver = MappedFileResolver(pid: pid)
        return try reader.records().filter { Int($0.kind) == Int(BPFCP_REC_VMA.rawValue) }.map { record in
            area(try reader.load(record, as: bpfcp_vma.self), resolver: resolver)
        }
    }

    private static func area(_ rec: bpfcp_vma, resolver: MappedFileResolver) -> MemoryArea {
        let flags = rec.vm_flags
        let shared = flags & 0x8 != 0
        let perms = (flags & 0x1 != 0 ? "r" : "-") + (flags & 0x2 != 0 ? "w" : "-") + (flags & 0x4 != 0 ? "x" : "-") + (shared ? "s" : "p")
        let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        var path = ""

        if rec.has_file != 0 {
            path = resolver.path(dev: rec.dev, inode: rec.ino, start: rec.start, end: rec.end)
        } else if rec.start <= rec.brk && rec.end >= rec.start_brk {
            path = "[heap]"
        } else if rec.start <= rec.start_stack && rec.end >= rec.start_stack {
            path = "[stack]"
        } else {
            path = Escape.bytes(cStringBytes(rec.name))
        }

        return MemoryArea(
            start: rec.start, end: rec.end, permissions: perms, shared: shared,
            offset: rec.has_file != 0 ? rec.pgoff * pageSize : 0,
            device: rec.has_file != 0 ? Format.kernelDev(rec.dev) : "0:0", inode: rec.ino,
            path: path, residentPages: nil
        )
    }

    public static func entry(_ a: MemoryArea) -> Entry {
        let fields = [
            Field("start", Format.hex(a.start)), Field("end", Format.hex(a.end)), Field("size", Format.bytes(a.size)),
            Field("permissions", a.permissions), Field("shared", a.shared ? "shared" : "private"),
            Field("offset", Format.hex(a.offset)), Field("device", a.device), Field("inode", "\(a.inode)"),
            Field("path", a.path.ifEmpty("[anonymous]")),
            Field("resident pages", a.residentPages.map { "\($0)" } ?? "unknown"),
        ]
        let cells = [String(a.start, radix: 16), String(a.end, radix: 16), Format.bytes(a.size), a.permissions,
                     String(a.offset, radix: 16), a.path.ifEmpty("[anonymous]")]
        // Keyed by start and name, not end, so that a growing heap or stack stays the same entry across captures.
        return Entry(key: "\(Format.hex(a.start)) \(a.path.ifEmpty("[anonymous]"))", cells: cells, fields: fields)
    }
}

/// Resolves (device, inode) of mapped files to paths through
/// /proc/PID/map_files, reading each distinct file once.
final class MappedFileResolver {
    private let pid: Int32
    private var cache: [String: String] = [:]

    init(pid: Int32) {
        self.pid = pid
    }

    func path(dev: UInt32, inode: UInt64, start: UInt64, end: UInt64) -> String {
        let key = "\(dev):\(inode)"
        if let hit = cache[key] { return hit }
        let link = "/proc/\(pid)/map_files/\(String(start, radix: 16))-\(String(end, radix: 16))"
        let path = ProcFS.readLink(link).map { Escape.bytes($0) } ?? "[file \(Format.kernelDev(dev)) inode \(inode)]"
        cache[key] = path
        return path
    }
}

/// Reads /proc/PID/maps, the fallback and the oracle for memory areas.
public enum MemoryProc {
    public static func collect(pid: Int32) throws -> [MemoryArea] {
        guard let bytes = try? ProcFS.readBytes("/proc/\(pid)/maps") else { throw BpfcpError.noSuchProcess(pid) }
        return bytes.split(separator: 0x0A).compactMap(parse)
    }

    /// Parses "start-end perms offset major:minor inode path".
    static func parse(_ line: ArraySlice<UInt8>) -> MemoryArea? {
        var parts: [ArraySlice<UInt8>] = []
        var rest = line[...]
        for _ in 0..<5 {
            guard let space = rest.firstIndex(of: 0x20) else { return nil }
            parts.append(rest[rest.startIndex..<space])
            rest = rest[(space + 1)...]
        }
        let inodeEnd = rest.firstIndex(of: 0x20) ?? rest.endIndex
        parts.append(rest[rest.startIndex..<inodeEnd])
        let path = Array(rest[inodeEnd...].drop { $0 == 0x20 })

        let text = parts.map { String(decoding: $0, as: UTF8.self) }
        let range = text[0].split(separator: "-")
        guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16) else { return nil }
        let devParts = text[3].split(separator: ":")
        let device = devParts.count == 2 ? "\(UInt32(devParts[0], radix: 16) ?? 0):\(UInt32(devParts[1], radix: 16) ?? 0)" : "0:0"

        return MemoryArea(
            start: start, end: end, permissions: text[1], shared: text[1].hasSuffix("s"),
            offset: UInt64(text[2], radix: 16) ?? 0, device: device, inode: UInt64(text[5]) ?? 0,
            path: Escape.bytes(path), residentPages: nil
        )
    }
}
