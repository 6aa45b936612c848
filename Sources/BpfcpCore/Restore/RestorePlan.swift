import Foundation

/// What restore rebuilds for one process, in the terms of the system calls
/// that rebuild it. `RestorePlan.init(image:)` derives it from a checkpoint,
/// and everything that restore cannot rebuild is rejected there, before any
/// process is created.
struct RestorePlan {
    var pid: Int32
    /// comm, as raw bytes (at most 15).
    var comm: [UInt8]
    var areas: [AreaPlan]
    var mm: MMFields?
    var exePath: String?
    var threads: [ThreadPlan]
    var actions: [ActionPlan]
    var files: [FilePlan]
    var cwd: String?
    var umask: UInt32?
    /// The image's session and process group ids; nil leaves restore's own.
    var session: Int32?
    var processGroup: Int32?
    /// Signal that had stopped the process (SIGSTOP, SIGTSTP...); it is stopped again after restore.
    var stopSignal: Int32?
    /// Set last, when they differ from restore's own (root), and only when `settings` has no credentials.
    var credentials: Credentials?
    /// Root directory, resource limits and full credentials, applied after the fds.
    var settings = SettingsPlan()
    /// Queued siginfos of the shared and per-thread queues, in queue order.
    var pendingSignals: [PendingSignal] = []
    /// Bytes to queue again in the pipes and sockets of `files`, by the identity of the queue's owner.
    var queued: [String: QueuedData] = [:]
    /// Watches the process adds to epoll instances it shares with other processes, by epoll fd.
    var sharedEpollWatches: [Int32: [EpollWatchPlan]] = [:]
    /// POSIX and interval timers, created after the threads and armed last.
    var timers = TimersPlan()
    /// Nice value, policy, CPU affinity and personality, set before the threads are created.
    var scheduling: SchedulingPlan?
}

struct Credentials {
    var uid: UInt32, euid: UInt32
    var gid: UInt32, egid: UInt32
}

/// One memory area to map, with the pages to write into it.
struct AreaPlan {
    enum Backing: Equatable {
        case anonymous
        /// A file mapped at byte `offset`. `ImagePlan` has checked it is the
        /// file the image mapped (device, inode, not modified since).
        case file(path: String, offset: UInt64)
        /// A mapping the kernel provides: "[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]".
        case kernel(String)
        /// A memfd, deleted file or shared anonymous memory that restore
        /// created in its own process (`SharedObjectPlan`), mapped at byte
        /// `offset`. `fd` is restore's fd, filled in once the object exists.
        case shared(key: String, offset: UInt64, fd: Int32)
    }

    var start: UInt64
    var end: UInt64
    /// PROT_* bits.
    var prot: Int32
    var shared: Bool
    /// The [stack] area, which grows down.
    var growsDown: Bool
    var backing: Backing
    /// Name as /proc/PID/maps shows it: a path, "[heap]", "[stack]", or "" for anonymous memory.
    var name: String
    /// Saved pages, each run written at its address after mapping.
    var runs: [PageRunPlan]
    /// Whether the kernel charged the area to the commit limit (VM_ACCOUNT);
    /// nil when the image does not say.
    var accounted: Bool?
    /// Whether the area was mapped with MAP_NORESERVE (VM_NORESERVE), as glibc
    /// maps its PROT_NONE thread-arena reservations; nil when the image does not say.
    var noReserve: Bool?
    /// MADV_* values to apply after mapping, for flags only madvise sets.
    var advice: [Int32] = []

    var size: UInt64 { end - start }
    var isHeap: Bool { name == "[heap]" }
}

/// `count` bytes to copy to `address`, found at byte `offset` of `file`.
struct PageRunPlan {
    var address: UInt64
    var count: Int
    var file: String
    var offset: UInt64
}

/// The fields of `struct prctl_mm_map` (linux/prctl.h) but the auxv and exe fd.
struct MMFields {
    var startCode: UInt64, endCode: UInt64
    var startData: UInt64, endData: UInt64
    var startBrk: UInt64, brk: UInt64
    var startStack: UInt64
    var argStart: UInt64, argEnd: UInt64
    var envStart: UInt64, envEnd: UInt64
    /// Pairs of AT_* type and value, AT_NULL included; empty keeps the kernel's copy.
    var auxv: [UInt64]
}

struct ThreadPlan {
    var tid: Int32
    var registers: Registers
    /// XSAVE area in the standard layout of PTRACE_GETREGSET NT_X86_XSTATE.
    var xstate: [UInt8]?
    var signalMask: UInt64
    var registration = ThreadRegistration()
    /// The thread's own comm (raw bytes, at most 15); nil keeps the process comm.
    var comm: [UInt8]? = nil
    /// set_tid_address(2) pointer; nil or 0 leaves it unset.
    var clearChildTid: UInt64? = nil
}

/// What a thread registered with the kernel: its rseq area, robust futex list and alternate signal stack.
struct ThreadRegistration {
    var rseq: (address: UInt64, length: UInt32, signature: UInt32)?
    var robustList: UInt64?
    /// sigaltstack(2) stack_t fields; nil when disabled.
    var altStack: (address: UInt64, flags: Int32, size: UInt64)?

    init() {}

    init(_ state: ThreadSignalState) {
        if let text = state.rseq, let address = Self.hex(text), let length = state.rseqLength,
           let signature = state.rseqSignature.flatMap(Self.hex) {
            rseq = (address, length, UInt32(truncatingIfNeeded: signature))
        }
        robustList = state.robustList.flatMap(Self.hex)
        if let stack = state.altStack, !stack.flags.contains("SS_DISABLE"), let address = Self.hex(stack.address) {
            let autoDisarm: Int32 = 1 << 31
            altStack = (address, stack.flags.contains("SS_AUTODISARM") ? autoDisarm : 0, stack.size)
        }
    }

    /// Parses "0x..." as the signal kinds write addresses; "none" and other text give nil.
    private static func hex(_ text: String) -> UInt64? {
        guard text.hasPrefix("0x") else { return nil }
        return UInt64(text.dropFirst(2), radix: 16)
    }
}

/// A signal action to install with rt_sigaction; signals without one keep a bare SIG_DFL.
struct ActionPlan {
    var signal: Int32
    /// Handler address, 0 for SIG_DFL or 1 for SIG_IGN.
    var handler: UInt64
    var flags: UInt64
    var restorer: UInt64
    var mask: UInt64
}

/// timerfd_create(clock, flags), armed to fire in `valueNs` and every
/// `intervalNs` after (both 0 leave it disarmed). `ticks` expirations not
/// yet read are set again with TFD_IOC_SET_TICKS when not 0.
struct TimerfdPlan: Equatable {
    var clock: Int32
    /// TFD_NONBLOCK or 0.
    var flags: Int32
    var valueNs: Int64
    var intervalNs: Int64
    var ticks: UInt64
    /// timerfd_settime flags: TFD_TIMER_ABSTIME (1) and TFD_TIMER_CANCEL_ON_SET (2).
    var settimeFlags: Int32 = 0
}

/// One file descriptor to reopen.
struct FilePlan {
    enum Source: Equatable {
        /// Reopen the path, then seek to `position`.
        case path(String, position: Int64)
        /// Use restore's own stdin, stdout or stderr (0, 1, 2), or the `--stdio` file.
        case terminal(restorerFd: Int32)
        /// eventfd2(count, flags); `flags` holds EFD_SEMAPHORE and EFD_NONBLOCK.
        case eventfd(count: UInt64, flags: Int32)
        /// signalfd4 with `mask`, bit n-1 for signal n.
        case signalfd(mask: UInt64, flags: Int32)
        /// A timerfd, created, armed and given its unread expirations.
        case timerfd(TimerfdPlan)
        /// One end of an empty pipe whose two ends are both in the process,
        /// created once per `identity`; `capacity` in bytes.
        case pipe(identity: String, readEnd: Bool, capacity: UInt64)
        /// A file restore opens in its own process and the restored process
        /// copies with pidfd_getfd: a pipe end shared with another restored
        /// process, or a pidfd. `key` names it, and `fd` is restore's fd,
        /// filled in once the file exists.
        case restorerFile(key: String, fd: Int32)
        /// A memfd or deleted file, recreated from the saved content.
        case saved(SavedFilePlan)
        /// One end of a unix socket pair with both ends in the process.
        case socketPair(SocketPairEnd)
        /// A listening TCP or unix socket.
        case listener(ListenerPlan)
        /// An epoll instance, created in fd order; its watches are added
        /// after every fd of the process exists.
        case epoll(watches: [EpollWatchPlan])
        /// One fd of a FIFO, opened again by its path.
        case fifo(FifoPlan)
        /// A dup of a lower fd of the process: both share one open file description.
        case duplicate(of: Int32)
    }

    var fd: Int32
    /// open(2) flags, access mode and status flags, without O_CLOEXEC.
    var flags: Int32
    var closeOnExec: Bool
    var source: Source
}
