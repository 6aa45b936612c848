import CBpfcpShim
import Foundation

/// Open files (iter/task_file): one row per fd.
public enum FilesKind: ResourceKind {
    public static let name = "files"
    public static let title = "Files"
    public static let columns = [
        Column("FD", width: 6, alignRight: true), Column("TYPE", width: 12), Column("POS", width: 10, alignRight: true),
        Column("FLAGS", width: 28), Column("PATH", width: 40),
    ]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [OpenFile] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid, shared: target.fdTable)
        case .proc: try FilesProc.collect(pid: target.pid)
        }
    }

    public static let readsFdTable = true

    /// Reads the files of `pid` from `shared`, or from dump_files when nil.
    public static func collectBPF(pid: Int32, shared: FdTablePass? = nil) throws -> [OpenFile] {
        let (reader, records) = try FdRecords.read([BPFCP_REC_FILE.rawValue], pid: pid, shared: shared,
                                                   object: "file", program: "dump_files")
        let files = try records.map { record in
            let rec = try reader.load(record, as: bpfcp_file.self)
            let path = Array(reader.trailing(record, after: bpfcp_file.self, count: Int(rec.path_len)))
            return file(rec, path: path)
        }
        // The iterator visits fds in ascending order, so sorting is usually skipped.
        let ordered = zip(files, files.dropFirst()).allSatisfy { $0.fd < $1.fd }
        return ordered ? files : files.sorted { $0.fd < $1.fd }
    }

    private static func file(_ rec: bpfcp_file, path rawPath: [UInt8]) -> OpenFile {
        let type = FileType.classify(mode: rec.i_mode, magic: rec.s_magic)
        let (path, deletedSuffix) = FilesProc.stripDeleted(rawPath)
        var flags = OpenFlags.names(rec.f_flags)
        if rec.cloexec != 0 { flags.append("O_CLOEXEC") }

        return OpenFile(
            fd: rec.fd, type: type,
            anonKind: type == .anonInode ? AnonInode.kind(dname: Escape.bytes(cStringBytes(rec.dname)), path: Escape.bytes(path))
                : AnonInode.memfdKind(path: path, magic: rec.s_magic, deleted: deletedSuffix && rec.nlink == 0),
            path: Escape.bytes(path),
            deleted: deletedSuffix && rec.nlink == 0,
            device: Format.kernelDev(rec.dev), inode: rec.ino, mountId: rec.mnt_id, position: rec.pos,
            flags: flags, closeOnExec: rec.cloexec != 0,
            mode: Format.octal(rec.i_mode & 0o7777), size: rec.size, openFileId: openFileId(rec.file_addr)
        )
    }

    /// Hashes the `struct file` address with Swift's per-run random seed,
    /// so that equal addresses give equal ids within this run only.
    static func openFileId(_ address: UInt64) -> String? {
        guard address != 0 else { return nil }
        var hasher = Hasher()
        hasher.combine(address)
        return String(UInt64(bitPattern: Int64(hasher.finalize())), radix: 16)
    }

    public static func entry(_ f: OpenFile) -> Entry {
        let typeName = f.anonKind ?? f.type.rawValue
        let path = f.deleted ? f.path + " (deleted)" : f.path
        let fields = [
            Field("fd", "\(f.fd)"), Field("type", f.type.rawValue), Field("anon kind", f.anonKind ?? "-"),
            Field("path", path), Field("deleted", f.deleted ? "yes" : "no"), Field("device", f.device),
            Field("inode", "\(f.inode)"), Field("mount id", "\(f.mountId)"), Field("position", "\(f.position)"),
            Field("flags", f.flags.joined(separator: "|")), Field("close-on-exec", f.closeOnExec ? "yes" : "no"),
            Field("mode", f.mode), Field("size", "\(f.size)"),
        ]
        let cells = ["\(f.fd)", typeName, "\(f.position)", f.flags.joined(separator: "|"), path]
        return Entry(key: "fd \(f.fd)", cells: cells, fields: fields)
    }
}
