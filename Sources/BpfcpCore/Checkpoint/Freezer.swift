import CBpfcpShim
import Foundation

/// Holds every thread of one or more processes in ptrace stops.
///
/// PTRACE_SEIZE plus PTRACE_INTERRUPT stops a thread without sending it a
/// signal, and the kernel detaches every tracee when the tracer exits, even
/// on SIGKILL, so the target always runs on. A cgroup freezer would stay
/// frozen after a crash, so it is not used. Every ptrace call must come from
/// the thread that seized, so a `Freezer` must stay on one thread.
final class Freezer {
    struct HeldThread {
        let tid: Int32
        let pid: Int32
        /// Signal caught in a signal-delivery stop, given back on detach so it is not lost.
        var pendingSignal: Int32
    }

    private(set) var held: [Int32: HeldThread] = [:]
    private(set) var frozenAt: UInt64 = 0
    private var exitedThreads: Set<Int32> = []
    private let stopTimeoutNs: UInt64 = 2_000_000_000

    init() {
        bpfcp_hold_install_handlers()
    }

    deinit {
        release()
    }

    /// Threads of `pid` that are held, in ascending order.
    func threads(of pid: Int32) -> [Int32] {
        held.values.filter { $0.pid == pid }.map(\.tid).sorted()
    }

    /// Holds every thread of `pid`, scanning /proc/PID/task again until no
    /// new thread shows up, so threads created meanwhile are caught too.
    func freeze(pid: Int32) throws {
        if frozenAt == 0 { frozenAt = Clock.now() }
        while true {
            try checkInterrupted()
            let fresh = Freezer.taskIds(pid).filter { held[$0] == nil && !exitedThreads.contains($0) }
            if fresh.isEmpty { break }
            var seized: [Int32] = []
            for tid in fresh {
                if try seize(tid, pid: pid) { seized.append(tid) }
            }
            for tid in seized {
                try waitForStop(tid, pid: pid)
            }
        }
        guard !threads(of: pid).isEmpty else { throw BpfcpError.exited(pid) }
    }

    /// Holds the one thread `tid` of `pid`, for a short step after the
    /// release such as reaping a snapshot copy. Returns false when the
    /// thread has exited. The caller releases it with `release`.
    func hold(thread tid: Int32, of pid: Int32) throws -> Bool {
        guard held[tid] == nil else { return true }
        guard try seize(tid, pid: pid) else { return false }
        try waitForStop(tid, pid: pid)
        return held[tid] != nil
    }

    /// Signal caught in a signal-delivery stop of `tid`, 0 when none.
    func pendingSignal(of tid: Int32) -> Int32 {
        held[tid]?.pendingSignal ?? 0
    }

    /// Records a signal that `tid` caught while held, to give back on release.
    func keepSignal(_ signal: Int32, for tid: Int32) {
        held[tid]?.pendingSignal = signal
    }

    /// Detaches every held thread. Threads that were in a group stop stay
    /// stopped with their stop signal, since the kernel re-enters the group
    /// stop on detach. Safe to call more than once. With `keepHandlers`
    /// the SIGINT (and other) handlers stay, so that an interrupted capture
    /// can still remove a snapshot copy; `restoreHandlers` removes them.
    func release(keepHandlers: Bool = false) {
        for thread in held.values {
            _ = bpfcp_ptrace(Int(Freezer.request("PTRACE_DETACH")), thread.tid, nil,
                             UnsafeMutableRawPointer(bitPattern: Int(thread.pendingSignal)))
            bpfcp_hold_remove(thread.tid)
        }
        held.removeAll()
        if !keepHandlers { restoreHandlers() }
    }

    /// Kills `pids` with SIGKILL while their threads are held, so that they
    /// run no further instruction, then collects the exit of each held thread.
    /// That hands each process back to its parent to reap. Gives up after
    /// two seconds on a thread that does not exit.
    func killHeld(_ pids: [Int32]) {
        for pid in pids {
            Glibc.kill(pid, SIGKILL)
        }

        let deadline = Clock.now() + stopTimeoutNs
        var waiting = held.values.filter { pids.contains($0.pid) }.map(\.tid)
        while !waiting.isEmpty && Clock.now() < deadline {
            waiting = waiting.filter { !collectExit($0) }
            if !waiting.isEmpty { usleep(200) }
        }
        held.values.filter { pids.contains($0.pid) }.forEach { dropExited($0.tid) }
    }

    /// Returns true once the exit of held thread `tid` is collected, or when
    /// another thread of this process collected it first.
    private func collectExit(_ tid: Int32) -> Bool {
        var status: Int32 = 0
        let r = waitpid(tid, &status, __WALL | WNOHANG)
        if r == tid { return !Freezer.stopped(status) }
        if r < 0 && errno == ECHILD { return true }
        return false
    }

    func restoreHandlers() {
        bpfcp_hold_restore_handlers()
    }

    func checkInterrupted() throws {
        try Freezer.checkInterrupted()
    }

    /// Throws when a SIGINT, SIGTERM, SIGHUP or SIGQUIT arrived since the last freeze began.
    static func checkInterrupted() throws {
        if bpfcp_interrupted() != 0 {
            throw BpfcpError("interrupted", "checkpoint interrupted by a signal: the target was released and no image was written")
        }
    }

    /// Seizes and interrupts one thread. Returns false when it has already exited.
    private func seize(_ tid: Int32, pid: Int32) throws -> Bool {
        if bpfcp_ptrace(Int(Freezer.request("PTRACE_SEIZE")), tid, nil, nil) != 0 {
            let err = errno
            if err == ESRCH {
                exitedThreads.insert(tid)
                return false
            }
            if let tracer = Freezer.tracerPid(of: tid), tracer != 0 {
                throw Freezer.alreadyTraced(pid, tracer: tracer)
            }
            // The kernel rejects attaching to a thread that is exiting with
            // EPERM; such a thread is about to disappear, so skip it.
            if err == EPERM, [nil, "Z", "X"].contains(Freezer.taskState(tid)) {
                exitedThreads.insert(tid)
                return false
            }
            throw BpfcpError("ptrace", "PTRACE_SEIZE of thread \(tid) of process \(pid) failed: \(String(cString: strerror(err))); check kernel.yama.ptrace_scope and CAP_SYS_PTRACE")
        }
        bpfcp_hold_add(tid)
        held[tid] = HeldThread(tid: tid, pid: pid, pendingSignal: 0)
        if bpfcp_ptrace(Int(Freezer.request("PTRACE_INTERRUPT")), tid, nil, nil) != 0 && errno != ESRCH {
            throw BpfcpError.system("PTRACE_INTERRUPT of thread \(tid) of process \(pid)", errno)
        }
        return true
    }

    /// Waits until `tid` sits in a ptrace stop. The stop is taken from
    /// waitpid, or from /proc when another thread of this process (such as
    /// Foundation's child monitor) collected the notification first.
    private func waitForStop(_ tid: Int32, pid: Int32) throws {
        let deadline = Clock.now() + stopTimeoutNs
        var spins = 0
        while true {
            var status: Int32 = 0
            let r = waitpid(tid, &status, __WALL | WNOHANG)
            if r == tid {
                if Freezer.stopped(status) {
                    recordSignal(tid, status: status)
                    return
                }
                dropExited(tid)
                return
            }
            if r < 0 && errno == EINTR { continue }
            spins += 1
            if spins > 16 || r < 0 {
                switch Freezer.taskState(tid) {
                case nil:
                    dropExited(tid)
                    return
                case "t":
                    return
                default:
                    break
                }
            }
            try checkInterrupted()
            guard Clock.now() < deadline else {
                let state = Freezer.taskState(tid) ?? "?"
                throw BpfcpError("freeze_timeout", "thread \(tid) of process \(pid) did not stop within 2 s (state \(state)): it may be in uninterruptible sleep; try again later")
            }
            if spins > 16 { usleep(50) } else { sched_yield() }
        }
    }

    private func recordSignal(_ tid: Int32, status: Int32) {
        let event = (status >> 16) & 0xFF
        let signal = (status >> 8) & 0xFF
        // A signal-delivery stop (no event, any signal but the SIGTRAP of
        // PTRACE_INTERRUPT) consumed a signal that must be given back.
        if event == 0 && signal != SIGTRAP {
            held[tid]?.pendingSignal = signal
        }
    }

    private func dropExited(_ tid: Int32) {
        held[tid] = nil
        exitedThreads.insert(tid)
        bpfcp_hold_remove(tid)
    }

    // MARK: - /proc helpers

    static func taskIds(_ pid: Int32) -> [Int32] {
        ProcFS.numericEntries("/proc/\(pid)/task")
    }

    /// Reads the one-letter state in /proc/TID/stat, after the last ')' because comm may contain one.
    static func taskState(_ tid: Int32) -> String? {
        guard let bytes = try? ProcFS.readBytes("/proc/\(tid)/stat"),
              let close = bytes.lastIndex(of: 0x29), close + 2 < bytes.count else { return nil }
        return String(UnicodeScalar(bytes[close + 2]))
    }

    static func tracerPid(of pid: Int32) -> Int32? {
        guard let status = try? ProcFS.readText("/proc/\(pid)/status") else { return nil }
        return ProcFS.keyValues(status)["TracerPid"].flatMap { Int32($0) }
    }

    static func alreadyTraced(_ pid: Int32, tracer: Int32) -> BpfcpError {
        BpfcpError("already_traced", "process \(pid) is already traced by PID \(tracer)\(commSuffix(tracer)): a checkpoint needs ptrace; detach that tracer (strace, gdb) first")
    }

    /// Returns " (COMM)" with the escaped name of `pid`, or "" when it cannot be read.
    static func commSuffix(_ pid: Int32) -> String {
        guard var bytes = try? ProcFS.readBytes("/proc/\(pid)/comm") else { return "" }
        if bytes.last == 0x0A { bytes.removeLast() }
        return bytes.isEmpty ? "" : " (\(Escape.bytes(bytes)))"
    }

    static func stopped(_ status: Int32) -> Bool {
        status & 0xFF == 0x7F
    }

    static func request(_ name: String) -> UInt {
        bpfcp_ptrace_request(name)
    }
}
