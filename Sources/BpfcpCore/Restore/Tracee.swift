import CBpfcpShim
import Foundation

/// The x86_64 user registers in `struct user_regs_struct` order, as
/// PTRACE_GETREGS and PTRACE_SETREGS exchange them.
public struct Registers: Sendable, Equatable {
    public static let count = 27
    public var words: [UInt64]

    public init(words: [UInt64]) {
        precondition(words.count == Self.count, "user_regs_struct has \(Self.count) words")
        self.words = words
    }

    static let r13 = 2, r12 = 3, r10 = 7, r9 = 8, r8 = 9, rax = 10, rdx = 12, rsi = 13, rdi = 14
    static let origRax = 15, rip = 16, rsp = 19, fsBase = 21, gsBase = 22

    subscript(index: Int) -> UInt64 {
        get { words[index] }
        set { words[index] = newValue }
    }
}

/// ptrace requests of x86_64 Linux, from <sys/ptrace.h> and <linux/ptrace.h>.
enum PtraceRequest {
    static let cont = 7, detach = 17, syscall = 24, getRegs = 12, setRegs = 13
    static let setOptions = 0x4200, getEventMessage = 0x4201, getRegSet = 0x4204, setRegSet = 0x4205
    static let getSigMask = 0x420a, setSigMask = 0x420b
    static let optionTraceSysGood = 0x1, optionTraceFork = 0x2, optionTraceClone = 0x8, optionExitKill = 0x10_0000
    static let noteXState: UInt = 0x202
}

/// A child created for restore and stopped under ptrace. It runs nothing of
/// its own: every system call it makes is one the restorer injects through
/// the syscall stub at the start of its trampoline. The thread that created
/// it must make every call, because ptrace binds a tracee to one tracer thread.
final class Tracee {
    let pid: Int32
    let trampoline: UInt64
    let trampolineSize: UInt64
    private let memory: Int32
    private var alive = true
    /// Tasks the injected calls created (clone3 of a thread or a process),
    /// which the kernel attached to this tracer; from PTRACE_GETEVENTMSG.
    private(set) var created: [Int32] = []

    /// Entries are 8 words: number, six arguments, result.
    static let entrySize = 64
    /// The first page holds the stub, the rest the entry table and the data the entries point at.
    static let codeSize: UInt64 = 4096

    /// Clones the empty child (with pid `pid` when given) and waits for it to stop.
    init(pid wanted: Int32?, trampoline: UInt64, trampolineSize: UInt64) throws {
        let pid = bpfcp_restore_spawn(wanted ?? 0, trampoline, trampolineSize)
        guard pid > 0 else { throw Tracee.spawnError(errno, wanted: wanted) }
        self.pid = pid
        self.trampoline = trampoline
        self.trampolineSize = trampolineSize

        let status = try Tracee.waitStop(pid)
        guard Tracee.isStopped(status, signal: SIGSTOP) else {
            memory = -1
            alive = false
            throw BpfcpError("restore_failed", "restore child \(pid) did not stop as expected (\(Tracee.describe(status)))")
        }
        memory = open("/proc/\(pid)/mem", O_RDWR | O_CLOEXEC)
        guard memory >= 0 else {
            let err = errno
            Tracee.killAndReap(pid)
            alive = false
            throw BpfcpError.system("opening /proc/\(pid)/mem", err)
        }
        let options = PtraceRequest.optionExitKill | PtraceRequest.optionTraceSysGood
            | PtraceRequest.optionTraceClone | PtraceRequest.optionTraceFork
        try ptrace(PtraceRequest.setOptions, data: UInt(options), what: "setting ptrace options")
    }

    /// Takes over a thread or process that an injected clone3 in `creator`
    /// made. The kernel attached it to this tracer with the creator's ptrace
    /// options and stops it with SIGSTOP before it runs any instruction. It
    /// shares the creator's trampoline: a thread shares the memory, and a
    /// forked process has a copy at the same address.
    init(attached pid: Int32, creator: Tracee) throws {
        self.pid = pid
        trampoline = creator.trampoline
        trampolineSize = creator.trampolineSize

        let status = try Tracee.waitStop(pid)
        guard Tracee.isStopped(status, signal: SIGSTOP) else {
            memory = -1
            alive = !Tracee.exited(status)
            throw BpfcpError("restore_failed", "task \(pid) created for restore did not stop as expected (\(Tracee.describe(status)))")
        }
        memory = open("/proc/\(pid)/mem", O_RDWR | O_CLOEXEC)
        guard memory >= 0 else { throw BpfcpError.system("opening /proc/\(pid)/mem", errno) }
    }

    deinit {
        if memory >= 0 { close(memory) }
        if alive { Tracee.killAndReap(pid) }
    }

    /// Kills the child and reaps it: the way every failed restore ends.
    func kill() {
        guard alive else { return }
        Tracee.killAndReap(pid)
        alive = false
    }

    // MARK: registers and memory

    func registers() throws -> Registers {
        var words = [UInt64](repeating: 0, count: Registers.count)
        try words.withUnsafeMutableBytes { buffer in
            try ptrace(PtraceRequest.getRegs, dataPointer: buffer.baseAddress, what: "PTRACE_GETREGS")
        }
        return Registers(words: words)
    }

    func setRegisters(_ regs: Registers) throws {
        var words = regs.words
        try words.withUnsafeMutableBytes { buffer in
            try ptrace(PtraceRequest.setRegs, dataPointer: buffer.baseAddress, what: "PTRACE_SETREGS")
        }
    }

    /// Loads an XSAVE area in the standard (non-compacted) layout that PTRACE_GETREGSET returns.
    func setXState(_ bytes: [UInt8]) throws {
        var copy = bytes
        try copy.withUnsafeMutableBytes { buffer in
            var vector = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
            try withUnsafeMutablePointer(to: &vector) { pointer in
                try ptrace(PtraceRequest.setRegSet, address: PtraceRequest.noteXState, dataPointer: pointer,
                           what: "PTRACE_SETREGSET NT_X86_XSTATE")
            }
        }
    }

    func setSignalMask(_ mask: UInt64) throws {
        var value = mask
        try withUnsafeMutablePointer(to: &value) { pointer in
            try ptrace(PtraceRequest.setSigMask, address: 8, dataPointer: pointer, what: "PTRACE_SETSIGMASK")
        }
    }

    /// Copies `bytes` into the child at `address`. process_vm_writev goes
    /// first, since it pins many pages per step and copies once, where
    /// /proc/PID/mem handles one page at a time through a bounce buffer.
    /// /proc/PID/mem then writes what is left, such as read-only pages:
    /// like ptrace, it ignores page protections.
    func write(_ bytes: UnsafeRawBufferPointer, at address: UInt64) throws {
        guard bytes.count > 0 else { return }
        var done = max(0, bpfcp_write_remote(pid, bytes.baseAddress, address, bytes.count))
        while done < bytes.count {
            let n = pwrite(memory, bytes.baseAddress! + done, bytes.count - done, off_t(Int64(bitPattern: address + UInt64(done))))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw BpfcpError.system("writing \(bytes.count) bytes at \(Format.hex(address)) in restored process \(pid)", errno)
            }
            done += n
        }
    }

    func write(_ bytes: [UInt8], at address: UInt64) throws {
        try bytes.withUnsafeBytes { try write($0, at: address) }
    }

    func read(_ count: Int, at address: UInt64) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { pread(memory, $0.baseAddress! + done, count - done, off_t(Int64(bitPattern: address + UInt64(done)))) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw BpfcpError.system("reading \(count) bytes at \(Format.hex(address)) in restored process \(pid)", errno) }
            done += n
        }
        return out
    }

    // MARK: running the stub

    /// Runs `count` table entries already written at `table`, and returns
    /// how many completed. The stub stops at the first failing entry.
    func runStub(table: UInt64, count: Int) throws -> Int {
        var regs = try registers()
        regs[Registers.rip] = trampoline
        regs[Registers.r12] = table
        regs[Registers.r13] = UInt64(count)
        regs[Registers.origRax] = UInt64.max
        try setRegisters(regs)
        try ptrace(PtraceRequest.cont, what: "PTRACE_CONT")

        let status = try waitStub()
        guard Tracee.isStopped(status, signal: SIGTRAP) else {
            alive = !Tracee.exited(status)
            throw BpfcpError("restore_failed", "restored process \(pid) left the syscall stub (\(Tracee.describe(status)))")
        }
        let after = try registers()
        return count - Int(after[Registers.r13])
    }

    /// Waits for the stop at the stub's int3. An injected clone3 first
    /// stops at a PTRACE_EVENT_CLONE or _FORK stop, whose new task goes to
    /// `created`. A SIGCHLD from a restored child that exits (a zombie to
    /// be) is suppressed: the process got it long ago, before the checkpoint.
    private func waitStub() throws -> Int32 {
        while true {
            let status = try Tracee.waitStop(pid)
            let stopped = status & 0xFF == 0x7F
            if stopped && status >> 16 != 0 {
                var message: UInt = 0
                try withUnsafeMutablePointer(to: &message) { pointer in
                    try ptrace(PtraceRequest.getEventMessage, dataPointer: pointer, what: "PTRACE_GETEVENTMSG")
                }
                created.append(Int32(truncatingIfNeeded: message))
            } else if !Tracee.isStopped(status, signal: SIGCHLD) {
                return status
            }
            try ptrace(PtraceRequest.cont, what: "PTRACE_CONT")
        }
    }

    /// Loads the final registers of a thread held at the stub's int3 stop.
    /// It stays held until `detach`.
    func load(registers final: Registers, xstate: [UInt8]?, signalMask: UInt64) throws {
        if let xstate { try setXState(xstate) }
        try setRegisters(final)
        try setSignalMask(signalMask)
    }

    /// Lets a task go that `load` prepared, delivering `signal` when not 0.
    func detach(signal: Int32 = 0) throws {
        try ptrace(PtraceRequest.detach, data: UInt(signal), what: "PTRACE_DETACH")
        alive = false
    }

    /// Unmaps the trampoline with the stub's own syscall instruction, then
    /// loads the final registers at the syscall-exit stop, before the
    /// process could return to the page it just unmapped, and lets it go.
    /// A `stopSignal` is delivered on detaching, so the process stops again as it was.
    /// `beforeDetach` runs while the process holds its final state but has not run yet.
    func finish(registers final: Registers, xstate: [UInt8]?, signalMask: UInt64, stopSignal: Int32? = nil,
                beforeDetach: (() -> Void)? = nil) throws {
        try loadFinal(registers: final, xstate: xstate, signalMask: signalMask)
        beforeDetach?()
        try detach(signal: stopSignal ?? 0)
    }

    /// Unmaps the trampoline and loads the final registers as `finish`
    /// does, but keeps the process held until `detach`.
    func loadFinal(registers final: Registers, xstate: [UInt8]?, signalMask: UInt64) throws {
        var regs = try registers()
        regs[Registers.rip] = trampoline + UInt64(bpfcp_stub_syscall_offset())
        regs[Registers.rax] = UInt64(SyscallNumber.munmap)
        regs[Registers.rdi] = trampoline
        regs[Registers.rsi] = trampolineSize
        regs[Registers.origRax] = UInt64.max
        try setRegisters(regs)

        for stop in ["entry", "exit"] {
            try ptrace(PtraceRequest.syscall, what: "PTRACE_SYSCALL")
            let status = try Tracee.waitStop(pid)
            guard Tracee.isStopped(status, signal: SIGTRAP | 0x80) else {
                alive = !Tracee.exited(status)
                throw BpfcpError("restore_failed", "restored process \(pid) missed the syscall-\(stop) stop of the last munmap (\(Tracee.describe(status)))")
            }
        }
        let result = Int64(bitPattern: try registers()[Registers.rax])
        guard result == 0 else {
            throw BpfcpError.system("munmap of the trampoline at \(Format.hex(trampoline)) in restored process \(pid)", Int32(-result))
        }

        try load(registers: final, xstate: xstate, signalMask: signalMask)
    }

    /// Makes the process call exit_group(`status`) from the stub's syscall
    /// instruction and waits until it has exited. Its parent then has a
    /// zombie child, because a tracer that is not the parent only collects the exit
    /// notification, and the kernel hands the zombie on to the parent.
    func exitNow(status: Int32) throws {
        var regs = try registers()
        regs[Registers.rip] = trampoline + UInt64(bpfcp_stub_syscall_offset())
        regs[Registers.rax] = UInt64(SyscallNumber.exitGroup)
        regs[Registers.rdi] = UInt64(status)
        regs[Registers.origRax] = UInt64.max
        try setRegisters(regs)
        try ptrace(PtraceRequest.cont, what: "PTRACE_CONT")
        let result = try Tracee.waitStop(pid)
        guard result & 0x7F == 0, (result >> 8) & 0xFF == status else {
            alive = !Tracee.exited(result)
            throw BpfcpError("restore_failed", "process \(pid) did not exit with status \(status) to become a zombie (\(Tracee.describe(result)))")
        }
        alive = false
    }

    // MARK: helpers

    private func ptrace(_ request: Int, address: UInt = 0, data: UInt = 0, what: String) throws {
        let rc = bpfcp_ptrace(request, pid, UnsafeMutableRawPointer(bitPattern: address), UnsafeMutableRawPointer(bitPattern: data))
        guard rc >= 0 else { throw BpfcpError.system("\(what) on restored process \(pid)", errno) }
    }

    private func ptrace(_ request: Int, address: UInt = 0, dataPointer: UnsafeMutableRawPointer?, what: String) throws {
        let rc = bpfcp_ptrace(request, pid, UnsafeMutableRawPointer(bitPattern: address), dataPointer)
        guard rc >= 0 else { throw BpfcpError.system("\(what) on restored process \(pid)", errno) }
    }

    private static func spawnError(_ err: Int32, wanted: Int32?) -> BpfcpError {
        if err == EEXIST, let wanted {
            return BpfcpError("pid_in_use", "pid \(wanted) is in use by \(processName(wanted)): stop that process, or restore with --new-pid")
        }
        return BpfcpError.system("clone3 of the restore child" + (wanted.map { " with pid \($0)" } ?? ""), err)
    }

    /// Names the task `pid` for an error: "process 12 (name)", or "thread
    /// 13 of process 12 (name)" when `pid` is a thread of another process.
    static func processName(_ pid: Int32) -> String {
        let status = (try? ProcFS.readText("/proc/\(pid)/status")) ?? ""
        let tgid = status.split(separator: "\n").first { $0.hasPrefix("Tgid:") }
            .flatMap { Int32($0.dropFirst(5).trimmingCharacters(in: .whitespaces)) } ?? pid
        guard let comm = (try? ProcFS.readText("/proc/\(tgid)/comm"))?.trimmingCharacters(in: .newlines) else {
            return "another process or thread"
        }
        let owner = "process \(tgid) (\(Escape.text(comm)))"
        return tgid == pid ? owner : "thread \(pid) of \(owner)"
    }

    private static func waitStop(_ pid: Int32) throws -> Int32 {
        var status: Int32 = 0
        while true {
            let rc = waitpid(pid, &status, Int32(__WALL))
            if rc == pid { return status }
            if rc < 0 && errno == EINTR { continue }
            throw BpfcpError.system("waitpid on restored process \(pid)", errno)
        }
    }

    private static func isStopped(_ status: Int32, signal: Int32) -> Bool {
        status & 0xFF == 0x7F && (status >> 8) & 0xFF == signal
    }

    private static func exited(_ status: Int32) -> Bool {
        status & 0x7F == 0 || (status & 0xFF != 0x7F && status & 0x7F != 0)
    }

    static func describe(_ status: Int32) -> String {
        if status & 0x7F == 0 { return "exited with status \((status >> 8) & 0xFF)" }
        if status & 0xFF == 0x7F { return "stopped by \(SignalName.name((status >> 8) & 0x7F))" }
        return "killed by \(SignalName.name(status & 0x7F))"
    }

    private static func killAndReap(_ pid: Int32) {
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, Int32(__WALL)) < 0 && errno == EINTR {}
    }
}
