import CBpfcpShim
import Foundation

/// Pipes and FIFOs (iter/task_file, filtered in the kernel): one row per fd
/// with the shared identity, the end, the capacity and the bytes queued.
public enum PipesKind: ResourceKind {
    public static let name = "pipes"
    public static let title = "Pipes"
    public static let columns = [
        Column("FD", width: 6, alignRight: true), Column("END", width: 10), Column("IDENTITY", width: 24),
        Column("CAPACITY", width: 10, alignRight: true), Column("QUEUED", width: 10, alignRight: true),
        Column("R/W ENDS", width: 9), Column("PATH", width: 30),
    ]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [PipeEnd] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid, shared: target.fdTable)
        case .proc: try PipesProc.collect(pid: target.pid)
        }
    }

    public static let readsFdTable = true

    /// Reads the pipes of `pid` from `shared`, or from dump_pipes when nil.
    public static func collectBPF(pid: Int32, shared: FdTablePass? = nil) throws -> [PipeEnd] {
        let (reader, records) = try FdRecords.read([BPFCP_REC_PIPE.rawValue], pid: pid, shared: shared,
                                                   object: "pipe", program: "dump_pipes")
        let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let ends = try records.map { record in
            pipeEnd(try reader.load(record, as: bpfcp_pipe.self), pid: pid, pageSize: pageSize)
        }
        return ends.sorted { $0.fd < $1.fd }
    }

    private static func pipeEnd(_ rec: bpfcp_pipe, pid: Int32, pageSize: UInt64) -> PipeEnd {
        let pipeFSMagic: UInt32 = 0x5049_5045
        let type = rec.s_magic == pipeFSMagic ? "pipe" : "fifo"
        let device = Format.kernelDev(rec.dev)
        // FIFOs are few, so their paths are read from /proc instead of walking dentries in BPF.
        let path = type == "fifo" ? ProcFS.readLink("/proc/\(pid)/fd/\(rec.fd)").map { Escape.bytes($0) } ?? "" : ""

        return PipeEnd(
            fd: rec.fd, type: type, identity: PipeEnd.identity(type: type, device: device, inode: rec.ino),
            end: PipeEnd.end(readable: rec.f_mode & 1 != 0, writable: rec.f_mode & 2 != 0),
            capacity: UInt64(rec.max_usage) * pageSize, queued: rec.queued,
            readers: rec.readers, writers: rec.writers, device: device, inode: rec.ino,
            path: path, flags: OpenFlags.names(rec.f_flags)
        )
    }

    public static func entry(_ p: PipeEnd) -> Entry {
        let ends = p.readers.map { r in "\(r)/\(p.writers.map(String.init) ?? "?")" } ?? "?"
        let fields = [
            Field("fd", "\(p.fd)"), Field("type", p.type), Field("identity", p.identity), Field("end", p.end),
            Field("capacity", "\(p.capacity) bytes (\(Format.bytes(p.capacity)))"),
            Field("queued", "\(p.queued) bytes"),
            Field("readers", p.readers.map(String.init) ?? "unknown"),
            Field("writers", p.writers.map(String.init) ?? "unknown"),
            Field("device", p.device), Field("inode", "\(p.inode)"), Field("path", p.path.ifEmpty("-")),
            Field("flags", p.flags.joined(separator: "|")),
        ]
        let cells = ["\(p.fd)", p.end, p.identity, Format.bytes(p.capacity), "\(p.queued)", ends, p.path]
        return Entry(key: "fd \(p.fd)", cells: cells, fields: fields)
    }
}
