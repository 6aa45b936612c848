import CBpfcpShim
import Foundation

/// Event files (iter/task_file, filtered in the kernel): eventfd, timerfd,
/// signalfd and pidfd, with the state each keeps in its private data.
public enum EventFilesKind: ResourceKind {
    public static let name = "events"
    public static let title = "Event fds"
    public static let columns = [
        Column("FD", width: 6, alignRight: true), Column("TYPE", width: 9), Column("FLAGS", width: 26),
        Column("STATE", width: 60),
    ]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [EventFile] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid, shared: target.fdTable)
        case .proc: try EventFilesProc.collect(pid: target.pid)
        }
    }

    public static let readsFdTable = true

    /// Reads the event files of `pid` from `shared`, or from dump_event_files when nil.
    public static func collectBPF(pid: Int32, shared: FdTablePass? = nil) throws -> [EventFile] {
        let (reader, records) = try FdRecords.read([BPFCP_REC_EVENT_FILE.rawValue], pid: pid, shared: shared,
                                                   object: "eventfd", program: "dump_event_files")
        let files = try records.compactMap { record in
            eventFile(try reader.load(record, as: bpfcp_event_file.self))
        }
        return files.sorted { $0.fd < $1.fd }
    }

    private static func eventFile(_ rec: bpfcp_event_file) -> EventFile? {
        let types: [UInt32: String] = [
            BPFCP_EVENT_EVENTFD.rawValue: "eventfd", BPFCP_EVENT_TIMERFD.rawValue: "timerfd",
            BPFCP_EVENT_SIGNALFD.rawValue: "signalfd", BPFCP_EVENT_PIDFD.rawValue: "pidfd",
        ]
        guard let type = types[rec.type] else { return nil }
        var file = EventFile(fd: rec.fd, type: type,
                             flags: EventNames.flags(type: type, fileFlags: rec.f_flags, semaphore: rec.efd_flags & 1 != 0),
                             closeOnExec: rec.cloexec != 0)

        switch type {
        case "eventfd":
            file.count = rec.count
            file.eventfdId = rec.efd_id
        case "timerfd":
            fillTimer(&file, rec)
        case "signalfd":
            file.signals = SignalName.names(mask: rec.sigmask)
        default:
            file.targetPid = rec.pid
        }
        return file
    }

    /// A timer is armed while its hrtimer is queued. A periodic timer that
    /// fired is not queued until a read re-arms it, and it_value reads zero
    /// then, yet it stays armed.
    private static func fillTimer(_ file: inout EventFile, _ rec: bpfcp_event_file) {
        let armed = rec.enqueued != 0 || (rec.interval_ns != 0 && rec.expired != 0)
        file.clock = EventNames.clock(rec.clockid)
        file.intervalNs = rec.interval_ns
        file.armed = armed
        file.nextExpiryNs = armed ? max(0, rec.enqueued != 0 ? rec.remaining_ns : 0) : nil
        file.ticks = rec.ticks
        file.settimeFlags = EventNames.settimeFlags(rec.settime_flags)
    }

    public static func entry(_ e: EventFile) -> Entry {
        var fields = [
            Field("fd", "\(e.fd)"), Field("type", e.type), Field("flags", e.flags.joined(separator: "|").ifEmpty("none")),
            Field("close-on-exec", e.closeOnExec ? "yes" : "no"),
        ]
        fields += details(e)
        let state = details(e).map { "\($0.name) \($0.value)" }.joined(separator: ", ")
        let cells = ["\(e.fd)", e.type, e.flags.joined(separator: "|"), state]
        return Entry(key: "fd \(e.fd)", cells: cells, fields: fields)
    }

    private static func details(_ e: EventFile) -> [Field] {
        var fields: [Field] = []
        if let count = e.count { fields.append(Field("count", "\(count)")) }
        if let id = e.eventfdId { fields.append(Field("eventfd id", "\(id)")) }
        if let clock = e.clock { fields.append(Field("clock", clock)) }
        if let armed = e.armed {
            fields.append(Field("armed", armed ? "yes" : "no"))
        } else if e.type == "timerfd" {
            fields.append(Field("armed", "unknown"))
        }
        if let interval = e.intervalNs { fields.append(Field("interval", EventNames.duration(interval))) }
        if let next = e.nextExpiryNs { fields.append(Field("next expiry in", EventNames.duration(next))) }
        if let ticks = e.ticks { fields.append(Field("ticks", "\(ticks)")) }
        if let flags = e.settimeFlags { fields.append(Field("settime flags", flags.joined(separator: "|").ifEmpty("none"))) }
        if let signals = e.signals { fields.append(Field("signals", signals.joined(separator: "|").ifEmpty("none"))) }
        if let pid = e.targetPid { fields.append(Field("target pid", pid < 0 ? "-1 (reaped)" : "\(pid)")) }
        return fields
    }
}
