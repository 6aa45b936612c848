import CBpfcpShim
import Foundation

/// Epoll instances and their watches (iter/task_file, filtered in the
/// kernel, walking each instance's tree of epitems): one row per watch.
public enum EpollKind: ResourceKind {
    public static let name = "epoll"
    public static let title = "Epoll"
    public static let columns = [
        Column("EPFD", width: 6, alignRight: true), Column("TFD", width: 6, alignRight: true),
        Column("TARGET", width: 12), Column("INODE", width: 10, alignRight: true), Column("EVENTS", width: 40),
        Column("DATA", width: 19),
    ]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [EpollWatch] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid, shared: target.fdTable)
        case .proc: try EpollProc.collect(pid: target.pid)
        }
    }

    /// Serialises runs, because the resume cursor lives in the shared BPF object.
    private static let cursorLock = NSLock()

    public static let readsFdTable = true

    private static let recordKinds = [BPFCP_REC_EPOLL.rawValue, BPFCP_REC_EPOLL_WATCH.rawValue]

    /// Reads every epoll fd from `shared`, or from one run of the iterator
    /// when nil, then runs the iterator from a cursor for each fd that had
    /// more watches than one run may write.
    public static func collectBPF(pid: Int32, shared: FdTablePass? = nil) throws -> [EpollWatch] {
        var (watches, pending) = try shared.map { try parse($0.reader, $0.records(recordKinds)) } ?? ([], [])
        guard shared == nil || !pending.isEmpty else { return sorted(watches) }

        let object = try BPFRuntime.shared.object("epoll")
        cursorLock.lock()
        defer { cursorLock.unlock() }
        var cursor = shared == nil ? bpfcp_epoll_cursor(fd: -1, skip: 0) : pending.removeLast()
        for _ in 0..<100_000 {
            try object.updateMap("epoll_cursor", key: UInt32(0), value: cursor)
            let (found, unfinished) = try run(object, pid: pid)
            watches += found
            pending += unfinished
            guard let next = pending.popLast() else { break }
            cursor = next
        }
        return sorted(watches)
    }

    private static func run(_ object: BPFObject, pid: Int32) throws -> ([EpollWatch], [bpfcp_epoll_cursor]) {
        let reader = RecordReader(try object.iterate("dump_epoll", pid: pid))
        return try parse(reader, try reader.records())
    }

    private static func parse(_ reader: RecordReader, _ records: [RawRecord]) throws -> ([EpollWatch], [bpfcp_epoll_cursor]) {
        var watches: [EpollWatch] = []
        var unfinished: [bpfcp_epoll_cursor] = []

        for record in records {
            switch Int(record.kind) {
            case Int(BPFCP_REC_EPOLL_WATCH.rawValue):
                watches.append(watch(try reader.load(record, as: bpfcp_epoll_watch.self)))
            case Int(BPFCP_REC_EPOLL.rawValue):
                let rec = try reader.load(record, as: bpfcp_epoll.self)
                if rec.truncated != 0 { unfinished.append(bpfcp_epoll_cursor(fd: rec.fd, skip: rec.first + rec.watches)) }
                if rec.watches == 0 && rec.first == 0 { watches.append(EpollWatch(epollFd: rec.fd, events: [])) }
            default:
                continue
            }
        }
        return (watches, unfinished)
    }

    static func sorted(_ watches: [EpollWatch]) -> [EpollWatch] {
        watches.sorted { ($0.epollFd, $0.targetFd ?? -1, $0.data ?? 0) < ($1.epollFd, $1.targetFd ?? -1, $1.data ?? 0) }
    }

    private static func watch(_ rec: bpfcp_epoll_watch) -> EpollWatch {
        let type = FileType.classify(mode: rec.target_mode, magic: rec.target_magic)
        return EpollWatch(
            epollFd: rec.epoll_fd, targetFd: rec.target_fd, targetInode: rec.target_ino,
            targetDevice: Format.kernelDev(rec.target_dev), targetType: type.rawValue,
            events: EpollWatch.names(events: rec.events), data: rec.data
        )
    }

    public static func entry(_ w: EpollWatch) -> Entry {
        guard let targetFd = w.targetFd else {
            let fields = [Field("epoll fd", "\(w.epollFd)"), Field("watches", "none")]
            return Entry(key: "epoll \(w.epollFd)", cells: ["\(w.epollFd)", "-", "-", "-", "no watches", "-"], fields: fields)
        }
        let events = w.events.joined(separator: "|")
        let data = w.data.map { Format.hex($0) } ?? "-"
        let fields = [
            Field("epoll fd", "\(w.epollFd)"), Field("target fd", "\(targetFd)"),
            Field("target type", w.targetType ?? "unknown"), Field("target inode", w.targetInode.map(String.init) ?? "-"),
            Field("target device", w.targetDevice ?? "-"), Field("events", events), Field("data", data),
        ]
        let cells = ["\(w.epollFd)", "\(targetFd)", w.targetType ?? "?", w.targetInode.map(String.init) ?? "-", events, data]
        return Entry(key: "epoll \(w.epollFd) fd \(targetFd) inode \(w.targetInode ?? 0)", cells: cells, fields: fields)
    }
}
