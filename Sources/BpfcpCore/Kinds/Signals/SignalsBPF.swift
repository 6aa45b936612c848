import CBpfcpShim

/// Everything signal.bpf.c reports for one process.
struct SignalSnapshot {
    var actions: [bpfcp_sigaction] = []
    var sharedPending: UInt64 = 0
    var sharedTruncated = false
    var threads: [bpfcp_sigthread] = []
    var queued: [bpfcp_sigqueued] = []

    /// Runs dump_signals on `pid` and sorts its records by kind, keeping queue order.
    static func collect(pid: Int32) throws -> SignalSnapshot {
        let bytes = try BPFRuntime.shared.object("signal").iterate("dump_signals", pid: pid)
        let reader = RecordReader(bytes)
        var snapshot = SignalSnapshot()

        for record in try reader.records() {
            switch Int(record.kind) {
            case Int(BPFCP_REC_SIGHAND.rawValue):
                let rec = try reader.load(record, as: bpfcp_sighand.self)
                snapshot.actions = withUnsafeBytes(of: rec.action) { Array($0.bindMemory(to: bpfcp_sigaction.self)) }
                snapshot.sharedPending = rec.shared_pending
                snapshot.sharedTruncated = rec.shared_truncated != 0
            case Int(BPFCP_REC_SIGTHREAD.rawValue):
                snapshot.threads.append(try reader.load(record, as: bpfcp_sigthread.self))
            case Int(BPFCP_REC_SIGQUEUED.rawValue):
                snapshot.queued.append(try reader.load(record, as: bpfcp_sigqueued.self))
            default:
                continue
            }
        }
        guard !snapshot.threads.isEmpty else { throw BpfcpError.noSuchProcess(pid) }
        return snapshot
    }

    /// One row per signal 1...64. A zombie leader has released its handlers,
    /// so every disposition then reads as default.
    func signalActions() -> [SignalAction] {
        (1...SignalName.max).map { number in
            let bit = UInt64(1) << UInt64(number - 1)
            let action = Int(number) <= actions.count ? actions[Int(number) - 1] : bpfcp_sigaction()
            let disposition: SignalDisposition = action.handler == 0 ? .default : (action.handler == 1 ? .ignore : .handler)
            return SignalAction(
                signal: SignalName.name(number), number: number, disposition: disposition,
                handler: disposition == .handler ? Format.hex(action.handler) : nil,
                flags: SignalNames.actionFlagNames(action.flags),
                handlerMask: SignalName.names(mask: action.mask),
                blockedIn: threads.filter { $0.blocked & bit != 0 }.map(\.tid).sorted(),
                pendingShared: sharedPending & bit != 0,
                pendingIn: threads.filter { $0.pending & bit != 0 }.map(\.tid).sorted(),
                restorer: disposition == .handler ? Format.hex(action.restorer) : nil
            )
        }
    }

    func queuedSignals() -> [QueuedSignal] {
        queued.map(Self.queuedSignal)
    }

    func threadStates() -> [ThreadSignalState] {
        threads.sorted { $0.tid < $1.tid }.map { t in
            let addressOrNone = { (v: UInt64) in v == 0 ? "none" : Format.hex(v) }
            let altFlags = t.sas_ss_size == 0 ? ["SS_DISABLE"] : (t.sas_ss_flags & 0x8000_0000 != 0 ? ["SS_AUTODISARM"] : [])
            return ThreadSignalState(
                tid: t.tid, blocked: SignalName.names(mask: t.blocked), pending: SignalName.names(mask: t.pending),
                altStack: AltStack(address: Format.hex(t.sas_ss_sp), size: t.sas_ss_size, flags: altFlags),
                rseq: addressOrNone(t.rseq), rseqLength: t.rseq_len, rseqSignature: Format.hex(UInt64(t.rseq_sig)),
                robustList: addressOrNone(t.robust_list),
                queueTruncated: t.truncated != 0 || (t.tid == t.tgid && sharedTruncated)
            )
        }
    }

    /// Decodes the siginfo union the way the kernel's siginfo_layout() picks its member.
    static func queuedSignal(_ rec: bpfcp_sigqueued) -> QueuedSignal {
        let f = withUnsafeBytes(of: rec.fields) { Array($0.bindMemory(to: UInt64.self)) }
        let low = { (v: UInt64) in Int32(truncatingIfNeeded: v) }
        let high = { (v: UInt64) in UInt32(truncatingIfNeeded: v >> 32) }
        var item = QueuedSignal(
            queue: rec.tid == 0 ? "shared" : "thread", tid: rec.tid == 0 ? nil : rec.tid, position: Int(rec.index),
            signal: SignalName.name(rec.signo), code: SignalNames.codeName(rec.code, signo: rec.signo),
            errnoValue: rec.errno_value, senderPid: nil, senderUid: nil, valueInt: nil, valuePointer: nil, details: []
        )

        // SI_KERNEL carries the kill layout whatever the signal.
        switch (rec.code == 0x80 ? 0 : rec.code, rec.signo) {
        case (-2, _):
            item.details = [Field("timer id", "\(low(f[0]))"), Field("overrun", "\(Int32(bitPattern: high(f[0])))")]
            item.valueInt = low(f[1])
            item.valuePointer = Format.hex(f[1])
        case (-1, _), (-3, _), (-4, _):
            item.senderPid = low(f[0])
            item.senderUid = high(f[0])
            item.valueInt = low(f[1])
            item.valuePointer = Format.hex(f[1])
        case (-5, _), (1..., 29):
            item.details = [Field("band", "\(Int64(bitPattern: f[0]))"), Field("fd", "\(low(f[1]))")]
        case (1..., 17):
            item.senderPid = low(f[0])
            item.senderUid = high(f[0])
            item.details = [Field("status", "\(low(f[1]))")]
        case (1..., 4), (1..., 5), (1..., 7), (1..., 8), (1..., 11):
            item.details = [Field("address", Format.hex(f[0]))]
        case (1..., 31):
            item.details = [Field("call address", Format.hex(f[0])), Field("syscall", "\(low(f[1]))")]
        default:
            item.senderPid = low(f[0])
            item.senderUid = high(f[0])
        }
        return item
    }
}
