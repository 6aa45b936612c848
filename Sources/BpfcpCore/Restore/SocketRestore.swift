import Foundation

/// The socket steps of `FileRestore`: unix socket pairs with their queues
/// and shutdowns, and listening sockets bound to their saved addresses.
extension FileRestore {
    static let soSndbuf: Int32 = 7, soRcvbuf: Int32 = 8, soPeekOff: Int32 = 42, solSocket: Int32 = 1

    /// Creates the socket pair of `end` with socketpair(2), places every fd
    /// of both sockets, queues each socket's saved bytes by sending them
    /// from its peer, then applies the shutdowns. Like a pipe, the two new
    /// fds move above every image fd first, so placing one cannot close the other.
    func createSocketPair(_ end: SocketPairEnd, base: Int32) throws {
        let ends = plan.files.filter { if case .socketPair(let other) = $0.source { other.pair == end.pair } else { false } }
        let low = (fds.allocate(), fds.allocate())
        try injector.queue(SyscallNumber.socketpair, [.int(Int(SocketPlan.afUnix)), .int(Int(end.type)), .int(0), .payload(0)],
                           payloads: [[UInt8](repeating: 0, count: 8)],
                           text: "socketpair(AF_UNIX, \(Self.typeName(end.type)), 0, [\(low.0), \(low.1)]) /* \(end.identity) and \(end.peer) */",
                           expected: 0)
        let high = (fds.allocate(from: base), fds.allocate(from: base))
        for (from, to) in [(low.0, high.0), (low.1, high.1)] {
            try injector.queue(SyscallNumber.fcntl, [.int(Int(from)), .int(Self.fDupFdCloexec), .int(Int(base))],
                               text: "fcntl(\(from), F_DUPFD_CLOEXEC, \(base))", expected: Int64(to))
        }
        for fd in [low.0, low.1] {
            try injector.queue(SyscallNumber.close, [.int(Int(fd))], text: "close(\(fd))")
            fds.release(fd)
        }

        let sockets = [(end, high.0), (try peerEnd(of: end, in: ends), high.1)]
        for (socket, fd) in sockets {
            try setBuffers(fd, socket)
        }
        for (index, (socket, _)) in sockets.enumerated() {
            if let queue = plan.queued[socket.identity] {
                try refill(sockets[1 - index].1, with: queue, socket: true)
            }
        }
        for (socket, fd) in sockets {
            if let how = socket.shutdown {
                try injector.queue(SyscallNumber.shutdown, [.int(Int(fd)), .int(Int(how))],
                                   text: "shutdown(\(fd), \(Self.shutdownName(how))) /* \(socket.identity) */", expected: 0)
            }
            if let offset = socket.peekOffset {
                try setOption(fd, Self.solSocket, Self.soPeekOff, offset, text: "SO_PEEK_OFF")
            }
        }

        for file in ends {
            guard case .socketPair(let socket) = file.source else { continue }
            try place(socket.identity == end.identity ? high.0 : high.1, at: file, text: socket.identity)
            if file.flags & O_NONBLOCK != 0 {
                try injector.queue(SyscallNumber.fcntl, [.int(Int(file.fd)), .int(Int(F_SETFL)), .int(Int(O_NONBLOCK))],
                                   text: "fcntl(\(file.fd), F_SETFL, O_NONBLOCK)")
            }
        }
        for fd in [high.0, high.1] {
            try injector.queue(SyscallNumber.close, [.int(Int(fd))], text: "close(\(fd))")
            fds.release(fd)
        }
    }

    /// Creates a listening socket at the fd of `file`: socket(2), its
    /// options, bind(2) to the saved address and listen(2) with the saved
    /// backlog. A unix socket file left behind by the saved process is
    /// removed first. A path that is another file, or where a live socket listens, fails the restore.
    func createListener(_ file: FilePlan, _ listener: ListenerPlan) throws {
        if let path = listener.path, try Self.isStaleSocketFile(path) {
            try injector.queue(SyscallNumber.unlink, [.payload(0)], payloads: [Array(path.utf8) + [0]],
                               text: "unlink(\"\(Escape.text(path))\") /* socket file left by the saved process */", expected: 0)
        }
        try create(file, SyscallNumber.socket, [.int(Int(listener.family)), .int(Int(listener.type)), .int(0)],
                   text: "socket(\(Self.familyName(listener.family)), \(Self.typeName(listener.type)), 0)")
        for option in listener.options {
            try setOption(file.fd, option.level, option.name, 1, text: option.text)
        }
        // The name is the socket's local address as the image stores it, escaped already.
        let name = listener.name
        let inUse = "another socket is bound to \(name): stop the process that holds it (`ss -lnp` lists them) and restore again"
        try injector.queue(SyscallNumber.bind, [.int(Int(file.fd)), .payload(0), .int(listener.address.count)],
                           payloads: [listener.address],
                           text: "bind(\(file.fd), \(name), \(listener.address.count))", expected: 0, advice: [EADDRINUSE: inUse])
        try injector.queue(SyscallNumber.listen, [.int(Int(file.fd)), .int(Int(listener.backlog))],
                           text: "listen(\(file.fd), \(listener.backlog))", expected: 0)
        if file.flags & O_NONBLOCK != 0 {
            try injector.queue(SyscallNumber.fcntl, [.int(Int(file.fd)), .int(Int(F_SETFL)), .int(Int(O_NONBLOCK))],
                               text: "fcntl(\(file.fd), F_SETFL, O_NONBLOCK)")
        }
    }

    private func peerEnd(of end: SocketPairEnd, in files: [FilePlan]) throws -> SocketPairEnd {
        for file in files {
            if case .socketPair(let other) = file.source, other.identity == end.peer { return other }
        }
        throw BpfcpError("restore_failed", "the plan has no fd for \(end.peer), the peer of \(end.identity)")
    }

    /// Sets SO_SNDBUF and SO_RCVBUF when they differ from the defaults of a
    /// new socket. The kernel doubles the value given, so half is passed.
    private func setBuffers(_ fd: Int32, _ socket: SocketPairEnd) throws {
        let defaults = (Self.sysctl("net/core/wmem_default"), Self.sysctl("net/core/rmem_default"))
        if socket.sendBuffer != defaults.0 {
            try setOption(fd, Self.solSocket, Self.soSndbuf, socket.sendBuffer / 2, text: "SO_SNDBUF")
        }
        if socket.receiveBuffer != defaults.1 {
            try setOption(fd, Self.solSocket, Self.soRcvbuf, socket.receiveBuffer / 2, text: "SO_RCVBUF")
        }
    }

    private func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32, text: String) throws {
        try injector.queue(SyscallNumber.setsockopt, [.int(Int(fd)), .int(Int(level)), .int(Int(name)), .payload(0), .int(4)],
                           payloads: [withUnsafeBytes(of: value.littleEndian) { Array($0) }],
                           text: "setsockopt(\(fd), \(level == Self.solSocket ? "SOL_SOCKET" : "\(level)"), \(text), [\(value)], 4)",
                           expected: 0)
    }

    /// Checks whether `path` is a socket file that no socket listens on, as the
    /// saved process leaves behind when it is killed. /proc/net/unix lists
    /// the listening sockets (flag __SO_ACCEPTCON, 0x10000) with their paths.
    static func isStaleSocketFile(_ path: String) throws -> Bool {
        var info = stat()
        guard lstat(path, &info) == 0 else { return false }
        guard info.st_mode & S_IFMT == S_IFSOCK else {
            throw BpfcpError("restore_failed", "cannot bind a listener to \(Escape.text(path)): the path exists and is not a socket; move it away")
        }
        let table = (try? ProcFS.readText("/proc/net/unix")) ?? ""
        for line in table.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            guard columns.count >= 8, String(columns[7...].joined(separator: " ")) == path,
                  let flags = UInt32(columns[3], radix: 16), flags & 0x10000 != 0 else { continue }
            throw BpfcpError("restore_failed", "cannot bind a listener to \(Escape.text(path)): another socket listens there (inode \(columns[6])); stop it first")
        }
        return true
    }

    private static func sysctl(_ name: String) -> Int32 {
        Int32(((try? ProcFS.readText("/proc/sys/" + name)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    static func typeName(_ type: Int32) -> String {
        [1: "SOCK_STREAM", 2: "SOCK_DGRAM", 5: "SOCK_SEQPACKET"][type] ?? "\(type)"
    }

    static func familyName(_ family: Int32) -> String {
        [1: "AF_UNIX", 2: "AF_INET", 10: "AF_INET6"][family] ?? "\(family)"
    }

    static func shutdownName(_ how: Int32) -> String {
        ["SHUT_RD", "SHUT_WR", "SHUT_RDWR"][Int(how)]
    }
}
