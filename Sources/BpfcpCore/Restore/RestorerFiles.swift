import CBpfcpShim
import Foundation

extension FileRestore {
    /// Copies restore's fd `restorerFd` into the restored process at the
    /// image's fd number: pidfd_open(restore's pid), pidfd_getfd, dup3. The
    /// copy shares the open file description, as fds inherited across
    /// fork() do. pidfd_getfd needs ptrace access to restore, which the
    /// restored process has while it still runs with restore's credentials.
    func copyRestorerFile(_ file: FilePlan, key: String, restorerFd: Int32) throws {
        guard restorerFd >= 0 else {
            throw BpfcpError("restore_failed", "fd \(file.fd) of process \(plan.pid) needs \(key), which restore did not create")
        }
        let pidfd = fds.allocate()
        try injector.queue(SyscallNumber.pidfdOpen, [.int(Int(getpid())), .int(0)],
                           text: "pidfd_open(\(getpid()), 0) /* restore itself */", expected: Int64(pidfd))
        let copy = fds.allocate()
        try injector.queue(SyscallNumber.pidfdGetfd, [.int(Int(pidfd)), .int(Int(restorerFd)), .int(0)],
                           text: "pidfd_getfd(\(pidfd), \(restorerFd), 0) /* \(key) */", expected: Int64(copy))

        // pidfd_getfd sets close-on-exec on the copy.
        if copy == file.fd {
            if !file.closeOnExec {
                try injector.queue(SyscallNumber.fcntl, [.int(Int(copy)), .int(Int(F_SETFD)), .int(0)], text: "fcntl(\(copy), F_SETFD, 0)")
            }
        } else {
            let flags = file.closeOnExec ? Self.oCloexec : 0
            try injector.queue(SyscallNumber.dup3, [.int(Int(copy)), .int(Int(file.fd)), .int(Int(flags))],
                               text: "dup3(\(copy), \(file.fd), \(file.closeOnExec ? "O_CLOEXEC" : "0")) /* \(key) */",
                               expected: Int64(file.fd))
            fds.take(file.fd)
            try injector.queue(SyscallNumber.close, [.int(Int(copy))], text: "close(\(copy))")
            fds.release(copy)
        }
        if pidfd != file.fd {
            try injector.queue(SyscallNumber.close, [.int(Int(pidfd))], text: "close(\(pidfd))")
            fds.release(pidfd)
        }
    }
}

/// Files that restore opens in its own process for the restored processes
/// to copy: the pipes that several of them share, and pidfds. Each pipe is
/// created once, so every process gets the same pipe. Closed on deinit.
final class RestorerFiles {
    var fds: [String: Int32] = [:]

    deinit {
        closeAll()
    }

    /// Closes restore's own copies once every process has its fds, so that
    /// verify counts only the restored processes' pipe ends.
    func closeAll() {
        for fd in fds.values { close(fd) }
        fds = [:]
    }

    static func pipeKey(_ identity: String, readEnd: Bool) -> String {
        "\(identity) \(readEnd ? "read" : "write") end"
    }

    static func pidfdKey(_ target: Int32) -> String {
        target < 0 ? "pidfd of a reaped process" : "pidfd of process \(target)"
    }

    /// Creates the pipe `identity` with `capacity` bytes of buffer and the ends' O_NONBLOCK, unless it exists.
    func createPipe(_ identity: String, capacity: UInt64, nonblockingRead: Bool, nonblockingWrite: Bool) throws {
        guard fds[Self.pipeKey(identity, readEnd: true)] == nil else { return }
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw BpfcpError.system("creating \(identity) for the restored processes", errno) }
        for fd in ends { _ = bpfcp_fcntl_int(fd, F_SETFD, FD_CLOEXEC) }
        fds[Self.pipeKey(identity, readEnd: true)] = ends[0]
        fds[Self.pipeKey(identity, readEnd: false)] = ends[1]
        if capacity != 65536, bpfcp_fcntl_int(ends[0], Int32(FileRestore.fSetPipeSize), Int32(capacity)) != Int32(capacity) {
            throw BpfcpError.system("setting the capacity of \(identity) to \(capacity) bytes", errno)
        }
        for (fd, nonblocking) in [(ends[0], nonblockingRead), (ends[1], nonblockingWrite)] where nonblocking {
            guard bpfcp_fcntl_int(fd, F_SETFL, O_NONBLOCK) == 0 else { throw BpfcpError.system("setting O_NONBLOCK on \(identity)", errno) }
        }
    }

    /// Opens a pidfd of the restored process `pid`, filed under the image's pid `target`.
    func openPidfd(target: Int32, pid: Int32) throws {
        let fd = Int32(truncatingIfNeeded: bpfcp_syscall6(SyscallNumber.pidfdOpen, Int(pid), 0, 0, 0, 0, 0))
        guard fd >= 0 else { throw BpfcpError.system("pidfd_open of restored process \(pid)", errno) }
        fds[Self.pidfdKey(target)] = fd
    }

    /// Opens a pidfd whose process has exited and been reaped, as a pidfd
    /// kept after waitpid() is: it starts /bin/true, opens its pidfd and reaps it.
    func openReapedPidfd() throws {
        guard fds[Self.pidfdKey(-1)] == nil else { return }
        var child: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { free(argv[0]) }
        let rc = posix_spawn(&child, "/bin/true", nil, nil, argv, nil)
        guard rc == 0 else { throw BpfcpError.system("starting /bin/true for a reaped pidfd", rc) }
        let fd = Int32(truncatingIfNeeded: bpfcp_syscall6(SyscallNumber.pidfdOpen, Int(child), 0, 0, 0, 0, 0))
        let err = errno
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        guard fd >= 0 else { throw BpfcpError.system("pidfd_open of /bin/true (pid \(child))", err) }
        fds[Self.pidfdKey(-1)] = fd
    }

    /// Returns `files` with restore's fd filled into each `.restorerFile`.
    func resolve(_ files: [FilePlan]) -> [FilePlan] {
        files.map { file in
            guard case .restorerFile(let key, _) = file.source else { return file }
            var copy = file
            copy.source = .restorerFile(key: key, fd: fds[key] ?? -1)
            return copy
        }
    }
}
