import Foundation

/// Reopens the file descriptors of the image at their numbers, with their
/// flags, positions and close-on-exec bits. Terminal fds are attached to
/// restore's own stdin, stdout and stderr, or to the `--stdio` file.
struct FileRestore {
    let plan: RestorePlan
    let injector: Injector
    let fds: FdTable
    /// File that takes the place of the image's terminal, from `--stdio`.
    let stdio: String?
    /// Helper fds that keep each FIFO open while its ends are opened.
    let fifoHelpers = FifoHelpers()

    static let fDupFdCloexec = 1030, fSetPipeSize = 1031
    static let oCloexec: Int32 = 0o2000000
    /// _IOW('T', 0, u64) from linux/timerfd.h: sets a timerfd's count of
    /// expirations not yet read. The kernel has it with CONFIG_CHECKPOINT_RESTORE.
    static let tfdIocSetTicks: UInt = 0x4008_5400
    /// Flags that would change the file if passed again on reopening.
    static let creationFlags: Int32 = O_CREAT | O_EXCL | O_TRUNC

    func run() throws {
        let stash = try stashRestorerStdio()
        let base = (plan.files.map(\.fd).max() ?? 2) + 1
        var createdPipes: Set<String> = []
        let saved = SavedFileState()
        defer { saved.removeCreated() }

        for file in plan.files.sorted(by: { $0.fd < $1.fd }) {
            switch file.source {
            case .path(let path, let position):
                try reopen(file, path: path, position: position)
            case .terminal(let restorerFd):
                guard let source = stash[restorerFd] else {
                    throw BpfcpError("restore_failed", "fd \(file.fd) is a terminal, but restore has no fd \(restorerFd) to attach it to: run restore with --stdio FILE")
                }
                try place(source, at: file, text: "terminal")
            case .eventfd(let count, let flags):
                try create(file, SyscallNumber.eventfd2, [.value(count), .int(Int(flags))],
                           text: "eventfd2(\(count), \(Format.hex(UInt64(flags))))")
            case .signalfd(let mask, let flags):
                try create(file, SyscallNumber.signalfd4, [.int(-1), .payload(0), .int(8), .int(Int(flags))],
                           payloads: [ProcessStateRestore.bytes(mask)],
                           text: "signalfd4(-1, [\(SignalName.describe(mask: mask))], 8, \(Format.hex(UInt64(flags))))")
            case .timerfd(let timer):
                try createTimerfd(file, timer)
            case .restorerFile(let key, let fd):
                try copyRestorerFile(file, key: key, restorerFd: fd)
            case .pipe(let identity, _, let capacity):
                if !createdPipes.contains(identity) {
                    try createPipe(identity, capacity: capacity, base: base)
                    createdPipes.insert(identity)
                }
            case .saved(let plan):
                try restoreSaved(file, plan, state: saved, base: base)
            case .socketPair(let end):
                if !createdPipes.contains(end.pair) {
                    try createSocketPair(end, base: base)
                    createdPipes.insert(end.pair)
                }
            case .listener(let listener):
                try createListener(file, listener)
            case .epoll:
                try create(file, SyscallNumber.epollCreate1, [.int(0)], text: "epoll_create1(0)")
            case .fifo(let fifo):
                try openFifo(file, fifo, base: base)
            case .duplicate(let first):
                try place(first, at: file, text: "dup of fd \(first)")
            }
        }
        try closeFifoHelpers()
        try addEpollWatches()

        try finishSaved(saved)
        for fd in Set(stash.values).sorted() {
            try injector.queue(SyscallNumber.close, [.int(Int(fd))], text: "close(\(fd))")
            fds.release(fd)
        }
        try injector.flush()
    }

    /// Moves the child's inherited 0, 1 and 2 (restore's own) above every fd
    /// of the image, or opens the `--stdio` file there, so the image's
    /// numbers are free. Returns the stashed fd for each of 0, 1 and 2.
    /// The `--stdio` file is opened, and so created, only when a terminal fd of the image goes to it.
    private func stashRestorerStdio() throws -> [Int32: Int32] {
        let base = (plan.files.map(\.fd).max() ?? 2) + 1
        var stash: [Int32: Int32] = [:]
        let hasTerminal = plan.files.contains { if case .terminal = $0.source { true } else { false } }
        if let stdio, hasTerminal {
            let opened = fds.allocate()
            let flags = O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC
            try injector.queue(SyscallNumber.openat, [.int(Int(AT_FDCWD)), .payload(0), .int(Int(flags)), .int(0o600)],
                               payloads: [Array(stdio.utf8) + [0]],
                               text: "openat(AT_FDCWD, \"\(Escape.text(stdio))\", O_RDWR|O_CREAT|O_APPEND|O_CLOEXEC, 0600)",
                               expected: Int64(opened))
            let copy = fds.allocate(from: base)
            try injector.queue(SyscallNumber.fcntl, [.int(Int(opened)), .int(Self.fDupFdCloexec), .int(Int(base))],
                               text: "fcntl(\(opened), F_DUPFD_CLOEXEC, \(base))", expected: Int64(copy))
            try injector.queue(SyscallNumber.close, [.int(Int(opened))], text: "close(\(opened))")
            fds.release(opened)
            stash = [0: copy, 1: copy, 2: copy]
        }
        for fd: Int32 in 0...2 where fds.open.contains(fd) {
            if stash[fd] == nil {
                let copy = fds.allocate(from: base)
                try injector.queue(SyscallNumber.fcntl, [.int(Int(fd)), .int(Self.fDupFdCloexec), .int(Int(base))],
                                   text: "fcntl(\(fd), F_DUPFD_CLOEXEC, \(base))", expected: Int64(copy))
                stash[fd] = copy
            }
            try injector.queue(SyscallNumber.close, [.int(Int(fd))], text: "close(\(fd))")
            fds.release(fd)
        }
        try injector.flush()
        return stash
    }

    func reopen(_ file: FilePlan, path: String, position: Int64) throws {
        let flags = (file.flags & ~Self.creationFlags) | (file.closeOnExec ? Self.oCloexec : 0)
        let target = fds.allocate()
        try injector.queue(SyscallNumber.openat, [.int(Int(AT_FDCWD)), .payload(0), .int(Int(flags)), .int(0)],
                           payloads: [Array(path.utf8) + [0]],
                           text: "openat(AT_FDCWD, \"\(Escape.text(path))\", \(OpenFlags.names(UInt32(bitPattern: flags)).joined(separator: "|")))",
                           expected: Int64(target))
        if target != file.fd {
            try place(target, at: file, text: "reopened")
            try injector.queue(SyscallNumber.close, [.int(Int(target))], text: "close(\(target))")
            fds.release(target)
        }
        if position != 0 {
            try injector.queue(SyscallNumber.lseek, [.int(Int(file.fd)), .value(UInt64(bitPattern: position)), .int(Int(SEEK_SET))],
                               text: "lseek(\(file.fd), \(position), SEEK_SET)", expected: position)
        }
    }

    /// Queues a call that returns a new fd (the lowest free one), then moves it to the image's number.
    func create(_ file: FilePlan, _ number: Int, _ arguments: [SyscallArgument], payloads: [[UInt8]] = [],
                        text: String) throws {
        let target = fds.allocate()
        try injector.queue(number, arguments, payloads: payloads, text: text, expected: Int64(target))
        if target != file.fd {
            try place(target, at: file, text: "created")
            try injector.queue(SyscallNumber.close, [.int(Int(target))], text: "close(\(target))")
            fds.release(target)
        } else if file.closeOnExec {
            try injector.queue(SyscallNumber.fcntl, [.int(Int(target)), .int(Int(F_SETFD)), .int(Int(FD_CLOEXEC))],
                               text: "fcntl(\(target), F_SETFD, FD_CLOEXEC)")
        }
    }

    /// Creates the pipe `identity` and places both its ends. pipe2() returns
    /// the two lowest free fds; both move above every image fd first, so
    /// placing one end cannot close the other.
    private func createPipe(_ identity: String, capacity: UInt64, base: Int32) throws {
        let ends = plan.files.filter { if case .pipe(identity, _, _) = $0.source { true } else { false } }
        let low = (fds.allocate(), fds.allocate())
        try injector.queue(SyscallNumber.pipe2, [.payload(0), .int(0)], payloads: [[UInt8](repeating: 0, count: 8)],
                           text: "pipe2([\(low.0), \(low.1)], 0) /* \(identity) */")
        let high = (fds.allocate(from: base), fds.allocate(from: base))
        for (from, to) in [(low.0, high.0), (low.1, high.1)] {
            try injector.queue(SyscallNumber.fcntl, [.int(Int(from)), .int(Self.fDupFdCloexec), .int(Int(base))],
                               text: "fcntl(\(from), F_DUPFD_CLOEXEC, \(base))", expected: Int64(to))
        }
        for fd in [low.0, low.1] {
            try injector.queue(SyscallNumber.close, [.int(Int(fd))], text: "close(\(fd))")
            fds.release(fd)
        }
        if capacity != 65536 {
            try injector.queue(SyscallNumber.fcntl, [.int(Int(high.0)), .int(Self.fSetPipeSize), .value(capacity)],
                               text: "fcntl(\(high.0), F_SETPIPE_SZ, \(capacity))", expected: Int64(capacity))
        }
        if let queue = plan.queued[identity] {
            try refill(high.1, with: queue)
        }
        for end in ends {
            guard case .pipe(_, let readEnd, _) = end.source else { continue }
            try place(readEnd ? high.0 : high.1, at: end, text: identity)
            if end.flags & O_NONBLOCK != 0 {
                try injector.queue(SyscallNumber.fcntl, [.int(Int(end.fd)), .int(Int(F_SETFL)), .int(Int(O_NONBLOCK))],
                                   text: "fcntl(\(end.fd), F_SETFL, O_NONBLOCK)")
            }
        }
        for fd in [high.0, high.1] {
            try injector.queue(SyscallNumber.close, [.int(Int(fd))], text: "close(\(fd))")
            fds.release(fd)
        }
    }

    private func createTimerfd(_ file: FilePlan, _ timer: TimerfdPlan) throws {
        try create(file, SyscallNumber.timerfdCreate, [.int(Int(timer.clock)), .int(Int(timer.flags))],
                   text: "timerfd_create(\(timer.clock), \(Format.hex(UInt64(timer.flags))))")
        let settime = EventNames.settimeFlags(UInt32(timer.settimeFlags)).joined(separator: "|").ifEmpty("0")
        try injector.queue(SyscallNumber.timerfdSettime, [.int(Int(file.fd)), .int(Int(timer.settimeFlags)), .payload(0), .int(0)],
                           payloads: [Self.itimerspec(timer)],
                           text: "timerfd_settime(\(file.fd), \(settime), {interval=\(timer.intervalNs) ns, value=\(timer.valueNs) ns from now}, NULL)")
        if timer.ticks != 0 {
            try injector.queue(SyscallNumber.ioctl, [.int(Int(file.fd)), .int(Int(Self.tfdIocSetTicks)), .payload(0)],
                               payloads: [ProcessStateRestore.bytes(timer.ticks)],
                               text: "ioctl(\(file.fd), TFD_IOC_SET_TICKS, [\(timer.ticks)])", expected: 0)
        }
    }

    /// struct itimerspec {it_interval, it_value} for timerfd_settime. With
    /// TFD_TIMER_ABSTIME, it_value of an armed timer is the clock's time now plus `valueNs`.
    // NOTE: the image records only the time left, so an absolute
    // CLOCK_REALTIME timer fires later by the time between checkpoint and restore.
    static func itimerspec(_ timer: TimerfdPlan) -> [UInt8] {
        var value = timer.valueNs
        if timer.settimeFlags & 1 != 0 && value != 0 {
            var now = timespec()
            clock_gettime(clockid_t(timer.clock), &now)
            value += Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        }
        let interval = timer.intervalNs
        let spec = [interval / 1_000_000_000, interval % 1_000_000_000, value / 1_000_000_000, value % 1_000_000_000]
        return spec.flatMap { ProcessStateRestore.bytes($0) }
    }

    /// Duplicates `source` to the image's fd number with its close-on-exec bit.
    func place(_ source: Int32, at file: FilePlan, text: String) throws {
        let flags = file.closeOnExec ? Self.oCloexec : 0
        try injector.queue(SyscallNumber.dup3, [.int(Int(source)), .int(Int(file.fd)), .int(Int(flags))],
                           text: "dup3(\(source), \(file.fd), \(file.closeOnExec ? "O_CLOEXEC" : "0")) /* \(text) */",
                           expected: Int64(file.fd))
        fds.take(file.fd)
    }
}
