/// What a process does on one signal, and where that signal is blocked or pending.
public struct SignalAction: Codable, Sendable, Equatable {
    public var signal: String
    public var number: Int32
    public var disposition: SignalDisposition
    /// Handler address in hex; nil for default and ignore, and from /proc, which has no addresses.
    public var handler: String?
    /// SA_* flags by name; nil from /proc.
    public var flags: [String]?
    /// Signals blocked while the handler runs; nil from /proc.
    public var handlerMask: [String]?
    /// Threads whose blocked mask holds this signal.
    public var blockedIn: [Int32]
    /// Pending in the process-wide (shared) set.
    public var pendingShared: Bool
    /// Threads where this signal is pending privately.
    public var pendingIn: [Int32]
    /// sa_restorer in hex, the code a handler returns through (SA_RESTORER); nil without a handler and from /proc.
    public var restorer: String? = nil
}

public enum SignalDisposition: String, Codable, Sendable {
    case `default`, ignore, handler
}

/// One queued siginfo, from the shared queue or one thread's queue, in queue order.
public struct QueuedSignal: Codable, Sendable, Equatable {
    /// "shared" for signal->shared_pending, "thread" for a thread's own queue.
    public var queue: String
    /// Thread owning the queue; nil for the shared queue.
    public var tid: Int32?
    /// Position in its queue, from 0.
    public var position: Int
    public var signal: String
    /// si_code by name ("SI_QUEUE", "SI_USER", "CLD_EXITED"...).
    public var code: String
    public var errnoValue: Int32
    public var senderPid: Int32?
    public var senderUid: UInt32?
    /// sival_int of the payload, for codes that carry a value.
    public var valueInt: Int32?
    /// The whole sival_ptr in hex, for codes that carry a value.
    public var valuePointer: String?
    /// Other siginfo fields by name ("status", "address", "fd", "band", "timer id", "overrun"...).
    public var details: [Field]
}

/// Per-thread signal and user-space registration state.
public struct ThreadSignalState: Codable, Sendable, Equatable {
    public var tid: Int32
    public var blocked: [String]
    /// Signals pending on this thread only.
    public var pending: [String]
    /// Alternate signal stack; nil from /proc.
    public var altStack: AltStack?
    /// Address of the registered struct rseq in hex, "none", or nil from /proc.
    public var rseq: String?
    public var rseqLength: UInt32?
    public var rseqSignature: String?
    /// Head of the robust futex list in hex, "none", or nil from /proc.
    public var robustList: String?
    /// True when a queue was longer than the collector reads, so the pending list is incomplete.
    public var queueTruncated: Bool
}

/// A sigaltstack(2) setting.
public struct AltStack: Codable, Sendable, Equatable {
    public var address: String
    public var size: UInt64
    /// "SS_DISABLE" when no stack is set, otherwise the stored flags such as "SS_AUTODISARM".
    public var flags: [String]
}

/// Names of sigaction flags and si_code values on x86_64.
public enum SignalNames {
    private static let actionFlags: [(UInt64, String)] = [
        (0x1, "SA_NOCLDSTOP"), (0x2, "SA_NOCLDWAIT"), (0x4, "SA_SIGINFO"), (0x400, "SA_UNSUPPORTED"),
        (0x800, "SA_EXPOSE_TAGBITS"), (0x0400_0000, "SA_RESTORER"), (0x0800_0000, "SA_ONSTACK"),
        (0x1000_0000, "SA_RESTART"), (0x4000_0000, "SA_NODEFER"), (0x8000_0000, "SA_RESETHAND"),
    ]

    /// Names of `flags`; unknown bits are kept as one hex value.
    public static func actionFlagNames(_ flags: UInt64) -> [String] {
        var names = actionFlags.filter { flags & $0.0 != 0 }.map(\.1)
        let known = actionFlags.reduce(UInt64(0)) { $0 | $1.0 }
        if flags & ~known != 0 { names.append(Format.hex(flags & ~known)) }
        return names
    }

    private static let generalCodes: [Int32: String] = [
        0: "SI_USER", 0x80: "SI_KERNEL", -1: "SI_QUEUE", -2: "SI_TIMER", -3: "SI_MESGQ", -4: "SI_ASYNCIO",
        -5: "SI_SIGIO", -6: "SI_TKILL", -7: "SI_DETHREAD", -60: "SI_ASYNCNL",
    ]

    private static let faultCodes: [Int32: [String]] = [
        4: ["ILL_ILLOPC", "ILL_ILLOPN", "ILL_ILLADR", "ILL_ILLTRP", "ILL_PRVOPC", "ILL_PRVREG", "ILL_COPROC", "ILL_BADSTK", "ILL_BADIADDR"],
        8: ["FPE_INTDIV", "FPE_INTOVF", "FPE_FLTDIV", "FPE_FLTOVF", "FPE_FLTUND", "FPE_FLTRES", "FPE_FLTINV", "FPE_FLTSUB", "FPE_FLTUNK", "FPE_CONDTRAP"],
        11: ["SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR", "SEGV_PKUERR", "SEGV_ACCADI", "SEGV_ADIDERR", "SEGV_ADIPERR", "SEGV_MTEAERR", "SEGV_MTESERR", "SEGV_CPERR"],
        7: ["BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR", "BUS_MCEERR_AR", "BUS_MCEERR_AO"],
        5: ["TRAP_BRKPT", "TRAP_TRACE", "TRAP_BRANCH", "TRAP_HWBKPT", "TRAP_UNK", "TRAP_PERF"],
        17: ["CLD_EXITED", "CLD_KILLED", "CLD_DUMPED", "CLD_TRAPPED", "CLD_STOPPED", "CLD_CONTINUED"],
        29: ["POLL_IN", "POLL_OUT", "POLL_MSG", "POLL_ERR", "POLL_PRI", "POLL_HUP"],
        31: ["SYS_SECCOMP", "SYS_USER_DISPATCH"],
    ]

    /// Name of si_code `code` for signal `signo`, as siginfo.h defines them.
    public static func codeName(_ code: Int32, signo: Int32) -> String {
        if code > 0, code != 0x80, let names = faultCodes[signo], Int(code) <= names.count {
            return names[Int(code) - 1]
        }
        return generalCodes[code] ?? "si_code \(code)"
    }
}

extension SignalAction: TreeBuildable {
    /// Builds an item of the signals kind, which restore reads twice while planning (see `TreeBuildable`).
    init?(tree: JSONValue) {
        guard var object = TreeObject(tree),
              let signal = object.string("signal"),
              let number = object.integer("number", as: Int32.self),
              let disposition = object.string("disposition").flatMap(SignalDisposition.init(rawValue:)),
              let handler = object.optionalString("handler"),
              let flags = object.optionalStrings("flags"),
              let handlerMask = object.optionalStrings("handler_mask"),
              let blockedIn = object.integers("blocked_in", as: Int32.self),
              let pendingShared = object.bool("pending_shared"),
              let pendingIn = object.integers("pending_in", as: Int32.self),
              let restorer = object.optionalString("restorer"), object.isComplete else { return nil }
        self.init(signal: signal, number: number, disposition: disposition, handler: handler, flags: flags,
                  handlerMask: handlerMask, blockedIn: blockedIn, pendingShared: pendingShared, pendingIn: pendingIn,
                  restorer: restorer)
    }
}
