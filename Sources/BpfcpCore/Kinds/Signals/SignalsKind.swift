import Foundation

/// Signal dispositions (iter/task): one row per signal with its handler,
/// SA_* flags and handler mask, and where it is blocked or pending.
public enum SignalsKind: ResourceKind {
    public static let name = "signals"
    public static let title = "Signals"
    public static let columns = [
        Column("SIGNAL", width: 13), Column("ACTION", width: 18), Column("FLAGS", width: 36),
        Column("BLOCKED", width: 8), Column("PENDING", width: 12),
    ]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [SignalAction] {
        switch source {
        case .bpf: try SignalSnapshot.collect(pid: target.pid).signalActions()
        case .proc: try SignalsProc.actions(pid: target.pid)
        }
    }

    public static func entry(_ s: SignalAction) -> Entry {
        let action = s.handler ?? s.disposition.rawValue
        let flags = s.flags.map { $0.joined(separator: "|").ifEmpty("none") } ?? "unknown"
        let pendingParts = (s.pendingShared ? ["shared"] : []) + s.pendingIn.map { "tid \($0)" }
        let pending = pendingParts.joined(separator: ",").ifEmpty("no")
        let blocked = s.blockedIn.map(String.init).joined(separator: ",").ifEmpty("no")
        let fields = [
            Field("signal", "\(s.signal) (\(s.number))"), Field("disposition", s.disposition.rawValue),
            Field("handler", s.handler ?? "-"), Field("flags", flags),
            Field("handler mask", s.handlerMask.map { $0.joined(separator: "|").ifEmpty("none") } ?? "unknown"),
            Field("blocked in threads", blocked), Field("pending", pending),
        ]
        return Entry(key: "signal \(s.signal)", cells: [s.signal, action, flags, s.blockedIn.isEmpty ? "no" : "yes", pending],
                     fields: fields)
    }
}

/// Queued signals with their siginfo, shared queue first, then each thread's queue, each in queue order.
public enum PendingSignalsKind: ResourceKind {
    public static let name = "sigqueue"
    public static let title = "Pending"
    public static let columns = [
        Column("QUEUE", width: 14), Column("#", width: 4, alignRight: true), Column("SIGNAL", width: 13),
        Column("CODE", width: 11), Column("VALUE", width: 12, alignRight: true), Column("FROM", width: 16),
    ]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [QueuedSignal] {
        switch source {
        case .bpf: try SignalSnapshot.collect(pid: target.pid).queuedSignals()
        case .proc: throw KindUnavailable("/proc shows pending signal masks, not the queued siginfo")
        }
    }

    public static func entry(_ q: QueuedSignal) -> Entry {
        let queue = q.tid.map { "thread \($0)" } ?? "shared"
        let value = q.valueInt.map(String.init) ?? "-"
        let from = q.senderPid.map { "pid \($0) uid \(q.senderUid ?? 0)" } ?? "-"
        var fields = [
            Field("queue", queue), Field("position", "\(q.position)"), Field("signal", q.signal), Field("code", q.code),
            Field("errno", "\(q.errnoValue)"), Field("sender pid", q.senderPid.map(String.init) ?? "-"),
            Field("sender uid", q.senderUid.map(String.init) ?? "-"), Field("value (int)", value),
            Field("value (pointer)", q.valuePointer ?? "-"),
        ]
        fields += q.details
        return Entry(key: "\(queue) #\(q.position)", cells: [queue, "\(q.position)", q.signal, q.code, value, from],
                     fields: fields)
    }
}

/// Per-thread blocked and pending signals, sigaltstack, rseq area and robust list head.
public enum ThreadSignalsKind: ResourceKind {
    public static let name = "sigthreads"
    public static let title = "Thread state"
    public static let columns = [
        Column("TID", width: 8, alignRight: true), Column("BLOCKED", width: 30), Column("PENDING", width: 16),
        Column("ALTSTACK", width: 24), Column("RSEQ", width: 20), Column("ROBUST LIST", width: 16),
    ]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [ThreadSignalState] {
        switch source {
        case .bpf: try SignalSnapshot.collect(pid: target.pid).threadStates()
        case .proc: try SignalsProc.threadStates(pid: target.pid)
        }
    }

    public static func entry(_ t: ThreadSignalState) -> Entry {
        let blocked = t.blocked.joined(separator: "|").ifEmpty("none")
        let pending = t.pending.joined(separator: "|").ifEmpty("none")
        let alt = t.altStack.map { $0.flags == ["SS_DISABLE"] ? "SS_DISABLE" : "\($0.address) +\($0.size)" } ?? "unknown"
        let rseq = t.rseq.map { $0 == "none" ? $0 : "\($0) len \(t.rseqLength ?? 0)" } ?? "unknown"
        let fields = [
            Field("tid", "\(t.tid)"), Field("blocked", blocked), Field("pending", pending),
            Field("sigaltstack address", t.altStack?.address ?? "unknown"),
            Field("sigaltstack size", t.altStack.map { "\($0.size)" } ?? "unknown"),
            Field("sigaltstack flags", t.altStack.map { $0.flags.joined(separator: "|").ifEmpty("none") } ?? "unknown"),
            Field("rseq area", t.rseq ?? "unknown"), Field("rseq length", t.rseqLength.map(String.init) ?? "unknown"),
            Field("rseq signature", t.rseqSignature ?? "unknown"), Field("robust list head", t.robustList ?? "unknown"),
            Field("queue truncated", t.queueTruncated ? "yes" : "no"),
        ]
        return Entry(key: "thread \(t.tid)", cells: ["\(t.tid)", blocked, pending, alt, rseq, t.robustList ?? "unknown"],
                     fields: fields)
    }
}
