import Foundation

/// One fd of a FIFO (named pipe), opened again by its path.
struct FifoPlan: Equatable {
    var path: String
    /// "fifo:[MAJOR:MINOR:INODE]", shared by every fd of the FIFO.
    var identity: String
    var capacity: UInt64
    /// Whether this process's image contains the FIFO's queued bytes. In a
    /// family they are stored with one process, which queues them again,
    /// unless all its fds on the FIFO are shared with other processes: then
    /// restore writes them (`SharedPlanning.FifoDescriptions`).
    var refills: Bool
}

extension FileRestore {
    /// Opens a FIFO end at the fd of `file`. Before the first end of each
    /// FIFO, a helper fd is opened O_RDWR, which never blocks and keeps the
    /// pipe in existence, so the ends open without waiting for a partner.
    /// The helper sets the capacity and queues the saved bytes, and
    /// `closeFifoHelpers` closes it once every fd exists.
    func openFifo(_ file: FilePlan, _ fifo: FifoPlan, base: Int32) throws {
        if fifoHelpers.fds[fifo.identity] == nil {
            let low = fds.allocate()
            let flags = O_RDWR | O_NONBLOCK | Self.oCloexec
            try injector.queue(SyscallNumber.openat, [.int(Int(AT_FDCWD)), .payload(0), .int(Int(flags)), .int(0)],
                               payloads: [Array(fifo.path.utf8) + [0]],
                               text: "openat(AT_FDCWD, \"\(Escape.text(fifo.path))\", O_RDWR|O_NONBLOCK|O_CLOEXEC) /* helper of \(fifo.identity) */",
                               expected: Int64(low))
            let helper = fds.allocate(from: base)
            try injector.queue(SyscallNumber.fcntl, [.int(Int(low)), .int(Self.fDupFdCloexec), .int(Int(base))],
                               text: "fcntl(\(low), F_DUPFD_CLOEXEC, \(base))", expected: Int64(helper))
            try injector.queue(SyscallNumber.close, [.int(Int(low))], text: "close(\(low))")
            fds.release(low)
            fifoHelpers.fds[fifo.identity] = helper

            if fifo.capacity != 65536 {
                try injector.queue(SyscallNumber.fcntl, [.int(Int(helper)), .int(Self.fSetPipeSize), .value(fifo.capacity)],
                                   text: "fcntl(\(helper), F_SETPIPE_SZ, \(fifo.capacity))", expected: Int64(fifo.capacity))
            }
            if fifo.refills, let queue = plan.queued[fifo.identity] {
                try refill(helper, with: queue)
            }
        }
        try reopen(file, path: fifo.path, position: 0)
    }

    /// Closes the helper fds that `openFifo` opened.
    func closeFifoHelpers() throws {
        for (_, fd) in fifoHelpers.fds.sorted(by: { $0.key < $1.key }) {
            try injector.queue(SyscallNumber.close, [.int(Int(fd))], text: "close(\(fd)) /* FIFO helper */")
            fds.release(fd)
        }
        fifoHelpers.fds = [:]
    }
}

/// The helper fds of the FIFOs restore has opened so far, by identity.
final class FifoHelpers {
    var fds: [String: Int32] = [:]
}

/// Plans the fds of FIFOs, which restore opens again by path.
enum FifoPlanner {
    static func plan(_ file: OpenFile, _ end: PipeEnd, queued: QueuedData?, refills: Bool, pid: Int32) throws -> FilePlan {
        let path = String(decoding: Escape.unescape(end.path), as: UTF8.self)
        guard end.queued == UInt64(queued?.byteCount ?? 0) else {
            throw ImagePlan.reject(pid, "fd \(file.fd) is the FIFO \(end.path) with \(end.queued) queued bytes, but the image contains \(queued?.byteCount ?? 0) of them; take the checkpoint again with this bpfcp")
        }
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFIFO else {
            throw ImagePlan.reject(pid, "fd \(file.fd) is the FIFO \(end.path), which is missing now or no longer a FIFO")
        }
        let flags = OpenFlags.value(file.flags.filter { $0 != "O_CLOEXEC" })
        let fifo = FifoPlan(path: path, identity: end.identity, capacity: end.capacity, refills: refills)
        return FilePlan(fd: file.fd, flags: flags, closeOnExec: file.closeOnExec, source: .fifo(fifo))
    }
}
