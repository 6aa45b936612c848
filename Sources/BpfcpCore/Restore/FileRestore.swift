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

    static let fDupFdCloexec = 1030
    static let oCloexec: Int32 = 0o2000000
    /// Flags that would change the file if passed again on reopening.
    static let creationFlags: Int32 = O_CREAT | O_EXCL | O_TRUNC

    func run() throws {
        let stash = try stashRestorerStdio()

        for file in plan.files.sorted(by: { $0.fd < $1.fd }) {
            switch file.source {
            case .path(let path, let position):
                try reopen(file, path: path, position: position)
            case .terminal(let restorerFd):
                guard let source = stash[restorerFd] else {
                    throw BpfcpError("restore_failed", "fd \(file.fd) is a terminal, but restore has no fd \(restorerFd) to attach it to: run restore with --stdio FILE")
                }
                try place(source, at: file, text: "terminal")
            }
        }

        for fd in stash.values.sorted() {
            try injector.queue(SyscallNumber.close, [.int(Int(fd))], text: "close(\(fd))")
            fds.release(fd)
        }
        try injector.flush()
    }

    /// Moves the child's inherited 0, 1 and 2 (restore's own) above every fd
    /// of the image, or opens the `--stdio` file there, so the image's
    /// numbers are free. Returns the stashed fd for each of 0, 1 and 2.
    private func stashRestorerStdio() throws -> [Int32: Int32] {
        let base = (plan.files.map(\.fd).max() ?? 2) + 1
        var stash: [Int32: Int32] = [:]
        if let stdio {
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
            if stdio == nil {
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

    private func reopen(_ file: FilePlan, path: String, position: Int64) throws {
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

    /// Duplicates `source` to the image's fd number with its close-on-exec bit.
    private func place(_ source: Int32, at file: FilePlan, text: String) throws {
        let flags = file.closeOnExec ? Self.oCloexec : 0
        try injector.queue(SyscallNumber.dup3, [.int(Int(source)), .int(Int(file.fd)), .int(Int(flags))],
                           text: "dup3(\(source), \(file.fd), \(file.closeOnExec ? "O_CLOEXEC" : "0")) /* \(text) */",
                           expected: Int64(file.fd))
        fds.take(file.fd)
    }
}
