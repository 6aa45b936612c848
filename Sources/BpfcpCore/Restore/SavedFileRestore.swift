import Foundation

/// Files created during one `FileRestore` run from saved content: each
/// memfd's fd in the child (kept above the image's fds until every fd on it
/// is open) and each deleted file restore created at its old path.
final class SavedFileState {
    var memfds: [String: Int32] = [:]
    /// memfds whose own open file description an image fd already took.
    var placed: Set<String> = []
    var created: [String: String] = [:]

    /// Removes the files created but not yet unlinked, after a failed restore.
    func removeCreated() {
        for path in created.values { unlink(path) }
        created = [:]
    }
}

/// Recreates memfds and deleted files. restore itself writes the saved
/// content through /proc/PID/fd/N, and the child reopens the file with each
/// fd's flags, so fds that had their own open file description keep their own position.
extension FileRestore {
    static let fAddSeals = 1033
    static let oLargefile: Int32 = 0o100000

    func restoreSaved(_ file: FilePlan, _ saved: SavedFilePlan, state: SavedFileState, base: Int32) throws {
        switch saved.kind {
        case .memfd(let name, let flags, let seals):
            let memfd = try state.memfds[saved.identity] ?? createMemfd(saved, name: name, flags: flags, seals: seals, base: base)
            state.memfds[saved.identity] = memfd
            if !state.placed.contains(saved.identity) && file.flags & O_ACCMODE == O_RDWR {
                state.placed.insert(saved.identity)
                try placeMemfd(memfd, at: file, position: saved.position)
            } else {
                try reopen(file, path: "/proc/self/fd/\(memfd)", position: saved.position)
            }
        case .deleted(let path):
            if state.created[saved.identity] == nil {
                try createFile(saved, path: path)
                state.created[saved.identity] = path
            }
            try reopen(file, path: path, position: saved.position)
        }
    }

    /// Gives the first read-write fd the open file description memfd_create()
    /// returned. Only that description is not counted as a writer of the
    /// inode, and a writer makes an exec of the memfd fail with ETXTBSY.
    private func placeMemfd(_ memfd: Int32, at file: FilePlan, position: Int64) throws {
        try place(memfd, at: file, text: "memfd")
        let status = file.flags & ~(O_ACCMODE | Self.oLargefile)
        if status != 0 {
            try injector.queue(SyscallNumber.fcntl, [.int(Int(file.fd)), .int(Int(F_SETFL)), .int(Int(status))],
                               text: "fcntl(\(file.fd), F_SETFL, \(OpenFlags.names(UInt32(bitPattern: status)).joined(separator: "|")))")
        }
        if position != 0 {
            try injector.queue(SyscallNumber.lseek, [.int(Int(file.fd)), .value(UInt64(bitPattern: position)), .int(Int(SEEK_SET))],
                               text: "lseek(\(file.fd), \(position), SEEK_SET)", expected: position)
        }
    }

    /// Closes the memfds and unlinks the deleted files, now that every fd on them is open.
    func finishSaved(_ state: SavedFileState) throws {
        for fd in state.memfds.values.sorted() {
            try injector.queue(SyscallNumber.close, [.int(Int(fd))], text: "close(\(fd))")
            fds.release(fd)
        }
        for path in state.created.values.sorted() {
            try injector.queue(SyscallNumber.unlink, [.payload(0)], payloads: [Array(path.utf8) + [0]],
                               text: "unlink(\"\(Escape.text(path))\") /* deleted before the checkpoint */")
        }
        try injector.flush()
        state.memfds = [:]
        state.created = [:]
    }

    /// Creates the memfd in the child, moves it above the image's fds,
    /// writes its content, and sets its mode and seals, the seals last
    /// because F_SEAL_WRITE would stop the writes.
    private func createMemfd(_ saved: SavedFilePlan, name: [UInt8], flags: UInt32, seals: UInt32, base: Int32) throws -> Int32 {
        let low = fds.allocate()
        try injector.queue(SyscallNumber.memfdCreate, [.payload(0), .value(UInt64(flags))], payloads: [name + [0]],
                           text: "memfd_create(\"\(Escape.bytes(name))\", \(Format.hex(UInt64(flags))))", expected: Int64(low))
        let memfd = fds.allocate(from: base)
        try injector.queue(SyscallNumber.fcntl, [.int(Int(low)), .int(Self.fDupFdCloexec), .int(Int(base))],
                           text: "fcntl(\(low), F_DUPFD_CLOEXEC, \(base))", expected: Int64(memfd))
        try injector.queue(SyscallNumber.close, [.int(Int(low))], text: "close(\(low))")
        fds.release(low)
        try injector.flush()

        try Self.writeContent(saved, to: "/proc/\(injector.tracee.pid)/fd/\(memfd)")
        try injector.queue(SyscallNumber.fchmod, [.int(Int(memfd)), .value(UInt64(saved.mode))],
                           text: "fchmod(\(memfd), \(Format.octal(saved.mode)))")
        if seals != 0 {
            try injector.queue(SyscallNumber.fcntl, [.int(Int(memfd)), .int(Self.fAddSeals), .value(UInt64(seals))],
                               text: "fcntl(\(memfd), F_ADD_SEALS, \(MemfdFile.sealNames(seals).joined(separator: "|")))")
        }
        return memfd
    }

    /// Creates a deleted file again at its old path, from restore itself,
    /// with the saved content and mode. The child unlinks it in `finishSaved`.
    // NOTE: the image does not record the owner of a memfd or deleted file, so
    // a recreated one belongs to restore's user and group (root), not the original's.
    private func createFile(_ saved: SavedFilePlan, path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw BpfcpError.system("creating \(Escape.text(path)) to restore the deleted file", errno)
        }
        close(fd)
        do {
            try Self.writeContent(saved, to: path)
            guard chmod(path, mode_t(saved.mode)) == 0 else {
                throw BpfcpError.system("chmod of \(Escape.text(path)) to \(Format.octal(saved.mode))", errno)
            }
        } catch {
            unlink(path)
            throw error
        }
        injector.log?("created \"\(Escape.text(path))\" with \(saved.size) bytes, mode \(Format.octal(saved.mode)) /* deleted file */")
    }

    /// Sets the size of the file at `path` and copies every saved extent into it.
    static func writeContent(_ saved: SavedFilePlan, to path: String) throws {
        let target = open(path, O_WRONLY | O_CLOEXEC)
        guard target >= 0 else { throw BpfcpError.system("opening \(Escape.text(path)) to write the saved content", errno) }
        defer { close(target) }
        let source = open(saved.pagesFile, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw BpfcpError.system("opening \(Escape.text(saved.pagesFile))", errno) }
        defer { close(source) }

        guard ftruncate(target, off_t(saved.size)) == 0 else {
            throw BpfcpError.system("ftruncate of \(Escape.text(path)) to \(saved.size) bytes", errno)
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for run in saved.runs {
            var done: UInt64 = 0
            while done < run.length {
                let chunk = Int(min(UInt64(buffer.count), run.length - done))
                let got = buffer.withUnsafeMutableBytes { pread(source, $0.baseAddress, chunk, off_t(run.offset + done)) }
                guard got > 0 else {
                    throw BpfcpError.system("reading the saved content of \(Escape.text(path)) from \(Escape.text(saved.pagesFile))", got < 0 ? errno : EIO)
                }
                let put = buffer.withUnsafeBytes { pwrite(target, $0.baseAddress, got, off_t(run.fileOffset + done)) }
                guard put == got else { throw BpfcpError.system("writing the saved content to \(Escape.text(path))", put < 0 ? errno : EIO) }
                done += UInt64(got)
            }
        }
    }
}

extension SyscallNumber {
    static let unlink = 87, fchmod = 91
}
