import CBpfcpShim
import Foundation

/// One fd that refers to a memfd.
public struct MemfdFile: Codable, Sendable, Equatable {
    public var fd: Int32
    /// Name given to memfd_create() (escaped), without the kernel's "memfd:" prefix.
    public var name: String
    public var size: UInt64
    public var position: Int64
    /// F_SEAL_* by name.
    public var seals: [String]
    /// True while no link to the file exists, which is always the case for a memfd.
    public var deleted: Bool
    /// Mode bits, octal ("0755").
    public var mode: String
    public var flags: [String]
    public var closeOnExec: Bool
    public var inode: UInt64
    /// True for a memfd created with MFD_HUGETLB.
    public var hugetlb: Bool

    static func sealNames(_ seals: UInt32) -> [String] {
        let bits: [(UInt32, String)] = [
            (0x1, "F_SEAL_SEAL"), (0x2, "F_SEAL_SHRINK"), (0x4, "F_SEAL_GROW"), (0x8, "F_SEAL_WRITE"),
            (0x10, "F_SEAL_FUTURE_WRITE"), (0x20, "F_SEAL_EXEC"),
        ]
        var names = bits.filter { seals & $0.0 != 0 }.map(\.1)
        let unknown = seals & ~0x3F
        if unknown != 0 { names.append(Format.hex(UInt64(unknown))) }
        return names
    }
}

/// memfds (iter/task_file, filtered in the kernel): name, size, position and seals.
public enum MemfdKind: ResourceKind {
    public static let name = "memfd"
    public static let title = "memfd"
    public static let columns = [
        Column("FD", width: 6, alignRight: true), Column("NAME", width: 24), Column("SIZE", width: 10, alignRight: true),
        Column("POS", width: 10, alignRight: true), Column("SEALS", width: 40),
    ]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [MemfdFile] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid, shared: target.fdTable)
        case .proc: try MemfdProc.collect(pid: target.pid)
        }
    }

    public static let readsFdTable = true

    /// Reads the memfds of `pid` from `shared`, or from dump_memfds when nil.
    public static func collectBPF(pid: Int32, shared: FdTablePass? = nil) throws -> [MemfdFile] {
        let (reader, records) = try FdRecords.read([BPFCP_REC_MEMFD.rawValue], pid: pid, shared: shared,
                                                   object: "memfd", program: "dump_memfds")
        let files = try records.map { record in
            memfd(try reader.load(record, as: bpfcp_memfd.self))
        }
        return files.sorted { $0.fd < $1.fd }
    }

    private static func memfd(_ rec: bpfcp_memfd) -> MemfdFile {
        var flags = OpenFlags.names(rec.f_flags)
        if rec.cloexec != 0 { flags.append("O_CLOEXEC") }
        return MemfdFile(
            fd: rec.fd, name: Escape.bytes(cStringBytes(rec.name).dropFirst("memfd:".count)), size: rec.size,
            position: rec.pos, seals: MemfdFile.sealNames(rec.seals), deleted: rec.nlink == 0,
            mode: Format.octal(rec.i_mode & 0o7777), flags: flags, closeOnExec: rec.cloexec != 0,
            inode: rec.ino, hugetlb: rec.hugetlb != 0
        )
    }

    public static func entry(_ m: MemfdFile) -> Entry {
        let seals = m.seals.joined(separator: "|").ifEmpty("none")
        let fields = [
            Field("fd", "\(m.fd)"), Field("name", m.name), Field("deleted", m.deleted ? "yes" : "no"),
            Field("size", "\(m.size) bytes"), Field("position", "\(m.position)"), Field("seals", seals),
            Field("mode", m.mode), Field("flags", m.flags.joined(separator: "|")),
            Field("close-on-exec", m.closeOnExec ? "yes" : "no"), Field("inode", "\(m.inode)"),
            Field("huge pages", m.hugetlb ? "yes" : "no"),
        ]
        let name = m.deleted ? "memfd:\(m.name) (deleted)" : "memfd:\(m.name)"
        return Entry(key: "fd \(m.fd)", cells: ["\(m.fd)", name, "\(m.size)", "\(m.position)", seals], fields: fields)
    }
}

/// Reads memfds from /proc/PID/fd and fdinfo, with the seals from
/// F_GET_SEALS on a pidfd_getfd(2) duplicate. The fallback and the oracle.
public enum MemfdProc {
    public static func collect(pid: Int32) throws -> [MemfdFile] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else {
            throw BpfcpError.noSuchProcess(pid)
        }
        return names.compactMap { Int32($0) }.sorted().compactMap { memfd(pid: pid, fd: $0) }
    }

    static func memfd(pid: Int32, fd: Int32) -> MemfdFile? {
        let prefix = Array("/memfd:".utf8)
        let link = "/proc/\(pid)/fd/\(fd)"
        guard let target = ProcFS.readLink(link), target.starts(with: prefix),
              let file = FilesProc.file(pid: pid, fd: fd) else { return nil }
        let tmpfsMagic: UInt = 0x0102_1994
        let hugetlbMagic: UInt = 0x9584_58F6
        let magic = bpfcp_statfs_type(link)
        guard magic == tmpfsMagic || magic == hugetlbMagic else { return nil }
        let (path, _) = FilesProc.stripDeleted(target)
        let getSeals: Int32 = 1034

        return MemfdFile(
            fd: fd, name: Escape.bytes(path.dropFirst(prefix.count)), size: file.size, position: file.position,
            seals: MemfdFile.sealNames(UInt32(bitPattern: RemoteFile(pid: pid, fd: fd)?.fcntl(getSeals) ?? 0)),
            deleted: file.deleted, mode: file.mode, flags: file.flags, closeOnExec: file.closeOnExec,
            inode: file.inode, hugetlb: magic == hugetlbMagic
        )
    }
}
