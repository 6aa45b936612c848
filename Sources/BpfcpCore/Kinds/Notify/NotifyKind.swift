import CBpfcpShim
import Foundation

/// inotify watches and fanotify marks (iter/task_file, filtered in the
/// kernel): one row per watch or mark, with the path it resolves to.
public enum NotifyKind: ResourceKind {
    public static let name = "notify"
    public static let title = "Inotify/fanotify"
    public static let columns = [
        Column("FD", width: 5, alignRight: true), Column("API", width: 8), Column("WD", width: 5, alignRight: true),
        Column("TARGET", width: 10), Column("MASK", width: 36), Column("PATH", width: 40),
    ]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [NotifyMark] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid, shared: target.fdTable)
        case .proc: try NotifyProc.collect(pid: target.pid)
        }
    }

    /// Serialises runs, because the resume cursor lives in the shared BPF object.
    private static let cursorLock = NSLock()

    public static let readsFdTable = true

    private static let recordKinds = [BPFCP_REC_NOTIFY_MARK.rawValue, BPFCP_REC_NOTIFY_GROUP.rawValue]

    /// Reads every notification fd from `shared`, or from one run of the
    /// iterator when nil, then runs the iterator from a cursor for each fd
    /// whose marks did not fit in one run.
    public static func collectBPF(pid: Int32, shared: FdTablePass? = nil) throws -> [NotifyMark] {
        let sharedRecords = shared?.records(recordKinds) ?? []
        // MountTable reads mountinfo, which a process without notify fds does not need.
        if shared != nil && sharedRecords.isEmpty { return [] }
        let mounts = MountTable(pid: pid)
        var (marks, pending) = try shared.map { try parse($0.reader, sharedRecords, mounts: mounts) } ?? ([], [])
        guard shared == nil || !pending.isEmpty else { return sorted(marks) }

        let object = try BPFRuntime.shared.object("notify")
        cursorLock.lock()
        defer { cursorLock.unlock() }
        var cursor = shared == nil ? bpfcp_notify_cursor(fd: -1, skip: 0) : pending.removeLast()
        for _ in 0..<100_000 {
            try object.updateMap("notify_cursor", key: UInt32(0), value: cursor)
            let (found, unfinished) = try run(object, pid: pid, mounts: mounts)
            marks += found
            pending += unfinished
            guard let next = pending.popLast() else { break }
            cursor = next
        }
        return sorted(marks)
    }

    static func sorted(_ marks: [NotifyMark]) -> [NotifyMark] {
        marks.sorted { ($0.fd, $0.wd ?? 0, $0.inode ?? 0, $0.mountId ?? 0) < ($1.fd, $1.wd ?? 0, $1.inode ?? 0, $1.mountId ?? 0) }
    }

    private static func run(_ object: BPFObject, pid: Int32, mounts: MountTable) throws -> ([NotifyMark], [bpfcp_notify_cursor]) {
        let reader = RecordReader(try object.iterate("dump_notify", pid: pid))
        return try parse(reader, try reader.records(), mounts: mounts)
    }

    private static func parse(_ reader: RecordReader, _ records: [RawRecord],
                              mounts: MountTable) throws -> ([NotifyMark], [bpfcp_notify_cursor]) {
        var marks: [NotifyMark] = []
        var unfinished: [bpfcp_notify_cursor] = []

        for record in records {
            switch Int(record.kind) {
            case Int(BPFCP_REC_NOTIFY_MARK.rawValue):
                let rec = try reader.load(record, as: bpfcp_notify_mark.self)
                let names = Array(reader.trailing(record, after: bpfcp_notify_mark.self, count: Int(rec.path_len)))
                marks.append(mark(rec, names: names, mounts: mounts))
            case Int(BPFCP_REC_NOTIFY_GROUP.rawValue):
                let rec = try reader.load(record, as: bpfcp_notify_group.self)
                if rec.truncated != 0 { unfinished.append(bpfcp_notify_cursor(fd: rec.fd, skip: rec.first + rec.marks)) }
            default:
                continue
            }
        }
        return (marks, unfinished)
    }

    private static func mark(_ rec: bpfcp_notify_mark, names: [UInt8], mounts: MountTable) -> NotifyMark {
        let inotify = rec.api == BPFCP_NOTIFY_INOTIFY.rawValue
        let target = NotifyNames.target(rec.obj_type)
        let device = rec.dev == 0 && target != "filesystem" ? "0:0" : Format.kernelDev(rec.dev)
        let mask = inotify ? NotifyNames.names(NotifyNames.inotifyUserMask(mask: rec.mask, markFlags: rec.mark_flags), NotifyNames.inotifyBits)
            : NotifyNames.names(rec.mask, NotifyNames.fanotifyBits)

        return NotifyMark(
            fd: rec.fd, api: inotify ? "inotify" : "fanotify", wd: inotify ? rec.wd : nil, mask: mask,
            ignoredMask: inotify ? nil : NotifyNames.names(rec.ignore_mask, NotifyNames.fanotifyBits),
            markFlags: inotify ? nil : NotifyNames.fanotifyMarkFlags(rec.mark_flags),
            target: target, device: device, inode: target == "inode" ? rec.ino : nil,
            mountId: target == "mount" ? rec.mnt_id : nil,
            path: target == "inode" ? path(names: names, truncated: rec.path_truncated != 0, device: device, mounts: mounts) : ""
        )
    }

    /// Joins the leaf-first dentry names from BPF into a path and maps it
    /// through the process's mounts. A walk cut short keeps a leading "…".
    private static func path(names: [UInt8], truncated: Bool, device: String, mounts: MountTable) -> String {
        let components = names.split(separator: 0, omittingEmptySubsequences: true).reversed()
        let relative = components.isEmpty ? [UInt8(0x2F)] : components.flatMap { [UInt8(0x2F)] + $0 }
        if truncated { return "…" + Escape.bytes(relative) }
        guard let resolved = mounts.resolve(device: device, relative: relative) else {
            return "[\(device)]" + Escape.bytes(relative)
        }
        return Escape.bytes(resolved)
    }

    public static func entry(_ m: NotifyMark) -> Entry {
        let mask = m.mask.joined(separator: "|")
        var fields = [
            Field("fd", "\(m.fd)"), Field("api", m.api), Field("target", m.target), Field("mask", mask),
            Field("device", m.device),
        ]
        if let wd = m.wd { fields.insert(Field("wd", "\(wd)"), at: 2) }
        if let inode = m.inode { fields.append(Field("inode", "\(inode)")) }
        if let mountId = m.mountId { fields.append(Field("mount id", "\(mountId)")) }
        if let ignored = m.ignoredMask { fields.append(Field("ignored mask", ignored.joined(separator: "|").ifEmpty("none"))) }
        if let flags = m.markFlags { fields.append(Field("mark flags", flags.joined(separator: "|").ifEmpty("none"))) }
        fields.append(Field("path", m.path.ifEmpty("-")))

        let identity = m.wd.map { "wd \($0)" } ?? "\(m.target) \(m.inode ?? UInt64(m.mountId ?? 0)) dev \(m.device)"
        let cells = ["\(m.fd)", m.api, m.wd.map(String.init) ?? "-", m.target, mask, m.path]
        return Entry(key: "fd \(m.fd) \(identity)", cells: cells, fields: fields)
    }
}
