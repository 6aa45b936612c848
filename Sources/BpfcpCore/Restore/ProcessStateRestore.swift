import Foundation

/// Restores the per-process settings that live in the kernel: the mm
/// fields behind [heap], [stack] and /proc/PID/cmdline, comm, cwd, umask and
/// signal actions.
struct ProcessStateRestore {
    let plan: RestorePlan
    let injector: Injector
    let fds: FdTable

    static let prSetName = 15, prSetMM = 35, prSetMMMap = 14
    /// sizeof(struct prctl_mm_map) on x86_64.
    static let mmMapSize = 104

    func run() throws {
        try setMMFields()
        try setComm()
        if let cwd = plan.cwd {
            try injector.queue(SyscallNumber.chdir, [.payload(0)], payloads: [Array(cwd.utf8) + [0]],
                               text: "chdir(\"\(Escape.text(cwd))\")")
        }
        if let umask = plan.umask {
            try injector.queue(SyscallNumber.umask, [.value(UInt64(umask))], text: "umask(\(Format.octal(umask)))")
        }
        try setActions()
        if let main = plan.threads.first { try register(main.registration) }
        try injector.flush()
    }

    /// Registers the rseq area, robust futex list and alternate signal
    /// stack again. The child dropped restore's own before the restore began.
    func register(_ registration: ThreadRegistration) throws {
        if let head = registration.robustList {
            try injector.queue(SyscallNumber.setRobustList, [.value(head), .int(24)], text: "set_robust_list(\(Format.hex(head)), 24)")
        }
        if let rseq = registration.rseq {
            try injector.queue(SyscallNumber.rseq, [.value(rseq.address), .value(UInt64(rseq.length)), .int(0), .value(UInt64(rseq.signature))],
                               text: "rseq(\(Format.hex(rseq.address)), \(rseq.length), 0, \(Format.hex(UInt64(rseq.signature))))")
        }
        if let stack = registration.altStack {
            let ss = Self.bytes(stack.address) + Self.bytes(stack.flags) + Self.bytes(Int32(0)) + Self.bytes(stack.size)
            try injector.queue(SyscallNumber.sigaltstack, [.payload(0), .int(0)], payloads: [ss],
                               text: "sigaltstack({ss_sp=\(Format.hex(stack.address)), ss_flags=\(stack.flags == 0 ? "0" : "SS_AUTODISARM"), ss_size=\(stack.size)}, NULL)")
        }
    }

    /// Drops to the image's user and group ids, the last injected calls,
    /// because a process that is no longer root may not run the others.
    func setCredentials() throws {
        guard let ids = plan.credentials, ids.uid != 0 || ids.euid != 0 || ids.gid != 0 || ids.egid != 0 else { return }
        try injector.queue(SyscallNumber.setresgid, [.value(UInt64(ids.gid)), .value(UInt64(ids.egid)), .value(UInt64(ids.egid))],
                           text: "setresgid(\(ids.gid), \(ids.egid), \(ids.egid))")
        try injector.queue(SyscallNumber.setresuid, [.value(UInt64(ids.uid)), .value(UInt64(ids.euid)), .value(UInt64(ids.euid))],
                           text: "setresuid(\(ids.uid), \(ids.euid), \(ids.euid))")
        try injector.flush()
    }

    /// PR_SET_MM_MAP sets every mm field at once, together with the auxv
    /// and the exe link, which the kernel checks for consistency.
    private func setMMFields() throws {
        guard let mm = plan.mm else { return }
        var exeFd: Int32 = -1
        if let exe = plan.exePath {
            exeFd = fds.allocate()
            try injector.queue(SyscallNumber.openat, [.int(Int(AT_FDCWD)), .payload(0), .int(Int(O_RDONLY | O_CLOEXEC)), .int(0)],
                               payloads: [Array(exe.utf8) + [0]],
                               text: "openat(AT_FDCWD, \"\(Escape.text(exe))\", O_RDONLY|O_CLOEXEC)", expected: Int64(exeFd))
        }

        let words = [mm.startCode, mm.endCode, mm.startData, mm.endData, mm.startBrk, mm.brk, mm.startStack,
                     mm.argStart, mm.argEnd, mm.envStart, mm.envEnd, 0]
        var map = words.flatMap { Self.bytes($0) }
        map += Self.bytes(UInt32(mm.auxv.count * 8)) + Self.bytes(UInt32(bitPattern: exeFd))
        let auxv = mm.auxv.isEmpty ? [UInt8](repeating: 0, count: 8) : mm.auxv.flatMap { Self.bytes($0) }

        try injector.queue(SyscallNumber.prctl, [.int(Self.prSetMM), .int(Self.prSetMMMap), .payload(0), .int(Self.mmMapSize), .int(0)],
                           payloads: [map, auxv],
                           text: "prctl(PR_SET_MM, PR_SET_MM_MAP, {start_code=\(Format.hex(mm.startCode)), start_brk=\(Format.hex(mm.startBrk)), brk=\(Format.hex(mm.brk)), start_stack=\(Format.hex(mm.startStack)), arg_start=\(Format.hex(mm.argStart)), env_end=\(Format.hex(mm.envEnd)), auxv_size=\(mm.auxv.count * 8), exe_fd=\(exeFd)}, \(Self.mmMapSize))",
                           pointers: [(payload: 0, at: 88, target: 1)])
        if exeFd >= 0 {
            try injector.queue(SyscallNumber.close, [.int(Int(exeFd))], text: "close(\(exeFd))")
            fds.release(exeFd)
        }
    }

    private func setComm() throws {
        let name = Array(plan.comm.prefix(15)) + [0]
        try injector.queue(SyscallNumber.prctl, [.int(Self.prSetName), .payload(0), .int(0), .int(0), .int(0)], payloads: [name],
                           text: "prctl(PR_SET_NAME, \"\(Escape.bytes(plan.comm))\")")
    }

    /// Installs each action as `struct kernel_sigaction` (handler, flags,
    /// restorer, mask); the child starts with every action at SIG_DFL.
    private static func handlerName(_ handler: UInt64) -> String {
        switch handler {
        case 0: return "SIG_DFL"
        case 1: return "SIG_IGN"
        default: return Format.hex(handler)
        }
    }

    private func setActions() throws {
        for action in plan.actions {
            let act = [action.handler, action.flags, action.restorer, action.mask].flatMap { Self.bytes($0) }
            let handler = Self.handlerName(action.handler)
            try injector.queue(SyscallNumber.rtSigaction, [.int(Int(action.signal)), .payload(0), .int(0), .int(8)], payloads: [act],
                               text: "rt_sigaction(\(SignalName.name(action.signal)), {\(handler), \(Format.hex(action.flags)), restorer=\(Format.hex(action.restorer)), mask=\(SignalName.describe(mask: action.mask))}, NULL, 8)")
        }
    }

    static func bytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }
}
