import CBpfcpShim
import Foundation

/// A copy-on-write copy of a held process's memory, made so that the
/// target can be released before its private pages are read.
///
/// One held thread of the target runs an injected
/// `clone(CLONE_FILES, exit signal 0)`, as fork() does in Redis's BGSAVE.
/// The kernel attaches the copy to this tracer (PTRACE_O_TRACECLONE) and
/// stops it before its first instruction. It runs no target code but the
/// `syscall` instruction `CopyPageWriter` sends it through, and
/// PTRACE_O_EXITKILL makes it die with bpfcp. Exit signal 0 means the
/// target gets no SIGCHLD, and CLONE_FILES means the copy holds no extra
/// reference to the target's files, so a peer still sees EOF when the target
/// closes its end. The copy then writes its pages, or they are read from
/// it, while the target runs: the target's later writes go to its own new pages.
///
/// A dead copy stays a zombie child of the target until the target waits
/// for it with __WALL, since only a parent can reap. `dispose` therefore
/// holds one target thread once more and makes it call wait4 on the copy.
final class Snapshot {
    /// The target.
    let pid: Int32
    /// The copy, as this process numbers it.
    let copy: Int32
    /// The copy as the target numbers it (they differ across pid namespaces).
    let copyInTarget: Int32
    private(set) var disposed = false
    /// Reaps the copy if bpfcp is killed before `dispose` has.
    private var guardian: SnapshotGuardian?

    private init(pid: Int32, copy: Int32, copyInTarget: Int32) {
        self.pid = pid
        self.copy = copy
        self.copyInTarget = copyInTarget
    }

    /// Returns why no snapshot can be made of `process`, or nil. Called
    /// before the freeze; `fdLinks` are the targets of its fd symlinks.
    static func obstacle(_ process: ProcessEntry, fdLinks: [String]) -> String? {
        if process.state == .stopped { return "the process is stopped" }
        // A userfaultfd with UFFD_FEATURE_EVENT_FORK would tell its reader about the copy.
        if fdLinks.contains("anon_inode:[userfaultfd]") { return "the process has a userfaultfd" }
        return nil
    }

    /// Makes the copy of the held process `pid`. Returns the snapshot, or
    /// nil and the reason, after which the caller reads the pages while held.
    static func make(pid: Int32, freezer: Freezer, guardian: SnapshotGuardian?) -> (Snapshot?, String) {
        let clone = 56
        let cloneFiles: UInt64 = 0x400
        var skipped: Set<String> = []
        for tid in freezer.threads(of: pid) {
            if let reason = unsuitable(tid, pid: pid, freezer: freezer) {
                skipped.insert(reason)
                continue
            }
            guard let site = SyscallSite.find(tid: tid, pid: pid) else {
                skipped.insert("no thread stopped where it could run a system call")
                continue
            }
            var out = bpfcp_injection()
            let rc = inject(tid, site: site, nr: clone, args: [cloneFiles, 0, 0, 0, 0, 0], out: &out)
            if out.signal != 0 { freezer.keepSignal(out.signal, for: tid) }
            if out.created > 0 {
                let snapshot = Snapshot(pid: pid, copy: out.created, copyInTarget: Int32(truncatingIfNeeded: out.result))
                snapshot.guardian = guardian
                guardian?.watch(snapshot)
                if rc == 0 && out.result > 0 { return (snapshot, "") }
                // The copy exists although the call failed afterwards: remove it while the target is held.
                snapshot.dispose(freezer: freezer)
            }
            if rc == -EINTR { continue }
            if rc != 0 { return (nil, "injecting clone into thread \(tid) failed: \(String(cString: strerror(-rc)))") }
            return (nil, "clone in thread \(tid) failed: \(String(cString: strerror(Int32(truncatingIfNeeded: -out.result))))")
        }
        return (nil, skipped.sorted().joined(separator: ", "))
    }

    /// Returns why the held thread `tid` must not run the clone, or nil.
    private static func unsuitable(_ tid: Int32, pid: Int32, freezer: Freezer) -> String? {
        if freezer.pendingSignal(of: tid) != 0 { return "every thread has a signal pending" }
        let status = (try? ProcFS.readText("/proc/\(pid)/task/\(tid)/status")).map(ProcFS.keyValues) ?? [:]
        // A seccomp filter may kill the target on clone, send it SIGSYS or
        // ask a supervisor about it; only a plain EPERM would be harmless.
        if status["Seccomp"] != "0" { return "every thread has a seccomp filter" }
        return nil
    }

    /// Kills the copy and has the target reap it. If `freezer` has already
    /// released the target, one thread is held again for the wait4 and
    /// released at once. Returns how long that second hold took, in nanoseconds.
    @discardableResult
    func dispose(freezer: Freezer) -> UInt64 {
        guard !disposed else { return 0 }
        disposed = true
        kill(copy, SIGKILL)
        var status: Int32 = 0
        // As tracer this collects the copy's exit; the zombie then passes to its parent, the target.
        while waitpid(copy, &status, __WALL) < 0 && errno == EINTR {}

        let start = Clock.now()
        let wasHeld = !freezer.threads(of: pid).isEmpty
        defer { if !wasHeld { freezer.release(keepHandlers: true) } }
        for tid in Freezer.taskIds(pid) {
            guard (try? freezer.hold(thread: tid, of: pid)) == true, freezer.pendingSignal(of: tid) == 0,
                  let site = SyscallSite.find(tid: tid, pid: pid) else { continue }
            var out = bpfcp_injection()
            // WNOHANG: the copy is a zombie by now, and a wait must never block the target.
            let wall: UInt64 = 0x4000_0000 | UInt64(WNOHANG)
            let rc = Snapshot.inject(tid, site: site, nr: 61, args: [UInt64(UInt32(bitPattern: copyInTarget)), 0, wall, 0, 0, 0], out: &out)
            if out.signal != 0 { freezer.keepSignal(out.signal, for: tid) }
            if rc == 0 {
                guardian?.forget(self)
                if out.result != Int64(copyInTarget) {
                    Log.shared.write("snapshot copy \(copy) of process \(pid): wait4 in thread \(tid) returned \(out.result)")
                }
                return Clock.now() - start
            }
            if !wasHeld { freezer.release(keepHandlers: true) }
        }
        Log.shared.write("snapshot copy \(copy) of process \(pid) could not be reaped: it stays a zombie child until the process waits for it or exits")
        return Clock.now() - start
    }

    private static func inject(_ tid: Int32, site: UInt64, nr: Int, args: [UInt64], out: inout bpfcp_injection) -> Int32 {
        args.withUnsafeBufferPointer { bpfcp_inject_syscall(tid, site, nr, $0.baseAddress, &out) }
    }
}

/// A `syscall` instruction (0f 05) a held thread can be sent to, so that
/// nothing has to be written into the target's code (`bpfcp_find_syscall_site`).
enum SyscallSite {
    static func find(tid: Int32, pid: Int32) -> UInt64? {
        var site: UInt64 = 0
        return bpfcp_find_syscall_site(pid, tid, &site) == 0 ? site : nil
    }
}

/// The child process that reaps the snapshot copies if bpfcp is killed
/// while they exist (`bpfcp_guardian_start`). It is started before the
/// freeze, so that forking bpfcp costs no frozen time.
final class SnapshotGuardian {
    private let pid: Int32
    private let control: Int32

    init?() {
        var fd: Int32 = -1
        let child = bpfcp_guardian_start(&fd)
        guard child > 0 else {
            Log.shared.write("snapshot guardian could not start: \(String(cString: strerror(-child))); a SIGKILL of bpfcp would leave a zombie child in the target")
            return nil
        }
        pid = child
        control = fd
    }

    func watch(_ snapshot: Snapshot) {
        _ = bpfcp_guardian_watch(control, snapshot.pid, snapshot.copy, snapshot.copyInTarget, 1)
    }

    func forget(_ snapshot: Snapshot) {
        _ = bpfcp_guardian_watch(control, snapshot.pid, snapshot.copy, snapshot.copyInTarget, 0)
    }

    func stop() {
        bpfcp_guardian_stop(control, pid)
    }
}
