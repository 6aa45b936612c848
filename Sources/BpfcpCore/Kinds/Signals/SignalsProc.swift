import Foundation

/// Reads signal masks from /proc/PID/status and /proc/PID/task/TID/status.
/// /proc gives no handler addresses, flags, siginfo or sigaltstack.
enum SignalsProc {
    struct ThreadMasks {
        let tid: Int32
        let blocked: UInt64
        let pending: UInt64
    }

    static func hexField(_ fields: [String: String], _ key: String) -> UInt64 {
        UInt64(fields[key] ?? "0", radix: 16) ?? 0
    }

    static func threadMasks(pid: Int32) throws -> [ThreadMasks] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else {
            throw BpfcpError.noSuchProcess(pid)
        }
        return names.compactMap { Int32($0) }.sorted().compactMap { tid in
            guard let text = try? ProcFS.readText("/proc/\(pid)/task/\(tid)/status") else { return nil }
            let fields = ProcFS.keyValues(text)
            return ThreadMasks(tid: tid, blocked: hexField(fields, "SigBlk"), pending: hexField(fields, "SigPnd"))
        }
    }

    static func actions(pid: Int32) throws -> [SignalAction] {
        let status = ProcFS.keyValues(try ProcFS.readText("/proc/\(pid)/status"))
        let ignored = hexField(status, "SigIgn")
        let caught = hexField(status, "SigCgt")
        let shared = hexField(status, "ShdPnd")
        let threads = try threadMasks(pid: pid)

        return (1...SignalName.max).map { number in
            let bit = UInt64(1) << UInt64(number - 1)
            let disposition: SignalDisposition = caught & bit != 0 ? .handler : (ignored & bit != 0 ? .ignore : .default)
            return SignalAction(
                signal: SignalName.name(number), number: number, disposition: disposition,
                handler: nil, flags: nil, handlerMask: nil,
                blockedIn: threads.filter { $0.blocked & bit != 0 }.map(\.tid),
                pendingShared: shared & bit != 0,
                pendingIn: threads.filter { $0.pending & bit != 0 }.map(\.tid)
            )
        }
    }

    static func threadStates(pid: Int32) throws -> [ThreadSignalState] {
        try threadMasks(pid: pid).map { t in
            ThreadSignalState(
                tid: t.tid, blocked: SignalName.names(mask: t.blocked), pending: SignalName.names(mask: t.pending),
                altStack: nil, rseq: nil, rseqLength: nil, rseqSignature: nil, robustList: nil, queueTruncated: false
            )
        }
    }
}
