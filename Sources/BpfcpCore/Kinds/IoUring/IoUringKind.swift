import CBpfcpShim
import Foundation

/// One io_uring instance with the mappings of its rings. An instance whose
/// fd the process closed while keeping the rings mapped has no fd and no sizes.
public struct IoUringInstance: Codable, Sendable, Equatable {
    public var fd: Int32?
    /// Inode of the io_uring file; its ring mappings share it.
    public var inode: UInt64
    public var sqEntries: UInt32?
    public var cqEntries: UInt32?
    /// IORING_SETUP_* by name.
    public var setupFlags: [String]?
    /// Thread id of the SQPOLL kernel thread.
    public var sqThread: Int32?
    public var mappings: [IoUringMapping]
}

/// One mapping of an io_uring ring.
public struct IoUringMapping: Codable, Sendable, Equatable {
    /// "SQ ring", "CQ ring", "SQE array" or "buffer ring N".
    public var ring: String
    public var start: UInt64
    public var end: UInt64
}

/// io_uring instances (iter/task_file and iter/task_vma, filtered in the
/// kernel): ring sizes, setup flags and the ring mappings by ring.
public enum IoUringKind: ResourceKind {
    public static let name = "io_uring"
    public static let title = "io_uring"
    public static let columns = [
        Column("FD", width: 6, alignRight: true), Column("SQ", width: 6, alignRight: true),
        Column("CQ", width: 6, alignRight: true), Column("FLAGS", width: 28), Column("MAPPINGS", width: 60),
    ]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [IoUringInstance] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid, shared: target.fdTable)
        case .proc: try IoUringProc.collect(pid: target.pid)
        }
    }

    public static let readsFdTable = true

    /// Reads the io_uring fds of `pid` from `shared`, or from dump_io_uring
    /// when nil, and their ring mappings from dump_io_uring_maps.
    public static func collectBPF(pid: Int32, shared: FdTablePass? = nil) throws -> [IoUringInstance] {
        let object = try BPFRuntime.shared.object("io_uring")
        let (files, records) = try FdRecords.read([BPFCP_REC_IO_URING.rawValue], pid: pid, shared: shared,
                                                  object: "io_uring", program: "dump_io_uring")
        let maps = RecordReader(try object.iterate("dump_io_uring_maps", pid: pid))
        let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))

        let instances = try records.map { record in
            let rec = try files.load(record, as: bpfcp_io_uring.self)
            return IoUringInstance(fd: rec.fd, inode: rec.ino, sqEntries: rec.sq_entries, cqEntries: rec.cq_entries,
                                   setupFlags: setupFlagNames(rec.setup_flags),
                                   sqThread: rec.sq_thread_pid >= 0 ? rec.sq_thread_pid : nil, mappings: [])
        }
        let mappings = try maps.records().filter { Int($0.kind) == Int(BPFCP_REC_IO_URING_MAP.rawValue) }.map { record in
            let rec = try maps.load(record, as: bpfcp_io_uring_map.self)
            return (rec.ino, IoUringMapping(ring: ringName(offset: rec.pgoff * pageSize), start: rec.start, end: rec.end))
        }
        return attach(mappings, to: instances)
    }

    /// Adds each mapping to the instance with the same inode, or to a new
    /// instance without fd when the process closed the io_uring fd.
    static func attach(_ mappings: [(UInt64, IoUringMapping)], to instances: [IoUringInstance]) -> [IoUringInstance] {
        var result = instances
        for (inode, mapping) in mappings {
            let matching = result.indices.filter { result[$0].inode == inode }
            if matching.isEmpty {
                result.append(IoUringInstance(fd: nil, inode: inode, mappings: [mapping]))
            }
            for i in matching { result[i].mappings.append(mapping) }
        }
        return result.sorted { ($0.fd ?? Int32.max, $0.inode) < ($1.fd ?? Int32.max, $1.inode) }
    }

    /// Names a ring by its mmap offset (IORING_OFF_* in linux/io_uring.h).
    public static func ringName(offset: UInt64) -> String {
        switch offset {
        case 0: "SQ ring"
        case 0x800_0000: "CQ ring"
        case 0x1000_0000: "SQE array"
        case 0x8000_0000..<0x8000_0000 + (1 << 31): "buffer ring \((offset - 0x8000_0000) >> 16)"
        default: "ring at offset \(Format.hex(offset))"
        }
    }

    static func setupFlagNames(_ flags: UInt32) -> [String] {
        let names = ["IORING_SETUP_IOPOLL", "IORING_SETUP_SQPOLL", "IORING_SETUP_SQ_AFF", "IORING_SETUP_CQSIZE",
                     "IORING_SETUP_CLAMP", "IORING_SETUP_ATTACH_WQ", "IORING_SETUP_R_DISABLED", "IORING_SETUP_SUBMIT_ALL",
                     "IORING_SETUP_COOP_TASKRUN", "IORING_SETUP_TASKRUN_FLAG", "IORING_SETUP_SQE128", "IORING_SETUP_CQE32",
                     "IORING_SETUP_SINGLE_ISSUER", "IORING_SETUP_DEFER_TASKRUN", "IORING_SETUP_NO_MMAP",
                     "IORING_SETUP_REGISTERED_FD_ONLY", "IORING_SETUP_NO_SQARRAY", "IORING_SETUP_HYBRID_IOPOLL"]
        var result = names.indices.filter { flags & (1 << UInt32($0)) != 0 }.map { names[$0] }
        let unknown = flags & ~((1 << UInt32(names.count)) - 1)
        if unknown != 0 { result.append(Format.hex(UInt64(unknown))) }
        return result
    }

    public static func entry(_ u: IoUringInstance) -> Entry {
        let flags = u.setupFlags.map { $0.joined(separator: "|").ifEmpty("none") } ?? "-"
        var fields = [
            Field("fd", u.fd.map(String.init) ?? "closed"), Field("inode", "\(u.inode)"),
            Field("sq entries", u.sqEntries.map(String.init) ?? "unknown"),
            Field("cq entries", u.cqEntries.map(String.init) ?? "unknown"), Field("setup flags", flags),
            Field("sq thread", u.sqThread.map(String.init) ?? "none"),
        ]
        fields += u.mappings.map { Field("\($0.ring) mapping", "\(Format.hex($0.start))-\(Format.hex($0.end)) (\(Format.bytes($0.end - $0.start)))") }
        let mapped = u.mappings.map { "\($0.ring) \(String($0.start, radix: 16))" }.joined(separator: ", ")
        let cells = [u.fd.map(String.init) ?? "-", u.sqEntries.map(String.init) ?? "?", u.cqEntries.map(String.init) ?? "?",
                     flags, mapped.ifEmpty("not mapped")]
        return Entry(key: "io_uring inode \(u.inode)", cells: cells, fields: fields)
    }
}

/// Reads io_uring instances from fdinfo (SqMask and CqMask are the ring
/// sizes minus one) and their mappings from /proc/PID/maps. The fallback
/// and the oracle; fdinfo shows neither the setup flags nor, on Linux 6.18, the SQPOLL thread id as a tid.
public enum IoUringProc {
    public static func collect(pid: Int32) throws -> [IoUringInstance] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else {
            throw BpfcpError.noSuchProcess(pid)
        }
        let instances = names.compactMap { Int32($0) }.compactMap { instance(pid: pid, fd: $0) }
        let mappings = try MemoryProc.collect(pid: pid).filter { $0.path == "anon_inode:[io_uring]" }.map {
            ($0.inode, IoUringMapping(ring: IoUringKind.ringName(offset: $0.offset), start: $0.start, end: $0.end))
        }
        return IoUringKind.attach(mappings, to: instances)
    }

    static func instance(pid: Int32, fd: Int32) -> IoUringInstance? {
        guard let link = ProcFS.readLink("/proc/\(pid)/fd/\(fd)"),
              String(decoding: link, as: UTF8.self) == "anon_inode:[io_uring]",
              let info = try? ProcFS.readText("/proc/\(pid)/fdinfo/\(fd)") else { return nil }
        let fields = ProcFS.keyValues(info)
        func size(_ key: String) -> UInt32? {
            fields[key].flatMap { UInt32($0.replacingOccurrences(of: "0x", with: ""), radix: 16) }.map { $0 + 1 }
        }
        return IoUringInstance(fd: fd, inode: UInt64(fields["ino"] ?? "") ?? 0, sqEntries: size("SqMask"),
                               cqEntries: size("CqMask"), setupFlags: nil, sqThread: nil, mappings: [])
    }
}
