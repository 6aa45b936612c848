import CBpfcpShim
import Foundation

/// Bytes waiting in a pipe, FIFO or unix socket at the checkpoint, read
/// without consuming them, so that restore can queue them again.
public struct QueuedData: Codable, Sendable, Equatable {
    /// The queue's owner as the pipes and sockets kinds name it:
    /// "pipe:[INODE]", "fifo:[MAJOR:MINOR:INODE]", or "socket:[INODE]" for
    /// the receive queue of that socket.
    public var identity: String
    /// The fd of the captured process the bytes were read through.
    public var fd: Int32
    /// The queued bytes in order: one element for a pipe, FIFO or stream
    /// socket, one per datagram for datagram and seqpacket sockets. Base64 in JSON.
    public var messages: [Data]
    /// SO_PEEK_OFF of a socket when it was enabled (not -1); nil otherwise.
    public var peekOffset: Int32?

    public var byteCount: Int { messages.reduce(0) { $0 + $1.count } }
}

/// Reads the queues of a held process through duplicates of its fds
/// (pidfd_getfd), leaving every byte where it was.
final class QueueCapture {
    /// Identities already saved, so a pipe or socket shared by several
    /// processes of a `--tree` capture is stored once.
    private var seen: Set<String> = []

    /// Saves the queued bytes of every pipe, FIFO and unix socket of `pid`.
    func capture(pid: Int32) throws -> [QueuedData] {
        try capture(pid: pid, links: ProcFS.fdLinks(pid))
    }

    /// Saves the queued bytes of every pipe, FIFO and unix socket among
    /// `links`, the fds of the held process `pid` (`ProcFS.fdLinks`).
    func capture(pid: Int32, links: [(fd: Int32, link: [UInt8])]) throws -> [QueuedData] {
        var saved: [QueuedData] = []
        for (fd, bytes) in links {
            let link = String(decoding: bytes, as: UTF8.self)
            let queue: QueuedData?
            if link.hasPrefix("pipe:[") {
                queue = try pipeQueue(pid: pid, fd: fd, identity: link)
            } else if link.hasPrefix("socket:[") {
                queue = try socketQueue(pid: pid, fd: fd, identity: link)
            } else if link.hasPrefix("/"), let identity = fifoIdentity(pid: pid, fd: fd) {
                queue = try pipeQueue(pid: pid, fd: fd, identity: identity)
            } else {
                queue = nil
            }
            if let queue { saved.append(queue) }
        }
        return saved
    }

    /// "fifo:[MAJOR:MINOR:INODE]" when fd is a named pipe, as `PipeEnd` names
    /// it. Only an fd whose link is a path can be one: other files, such as
    /// "anon_inode:[eventfd]", link to a description.
    private func fifoIdentity(pid: Int32, fd: Int32) -> String? {
        var info = stat()
        guard stat("/proc/\(pid)/fd/\(fd)", &info) == 0, info.st_mode & S_IFMT == S_IFIFO else { return nil }
        return PipeEnd.identity(type: "fifo", device: "\(PipesProc.major(info.st_dev)):\(PipesProc.minor(info.st_dev))",
                                inode: UInt64(info.st_ino))
    }

    /// Reads a pipe's queue through a read end: the process's own fd when
    /// it reads, or else a new read end opened through /proc/PID/fd/N,
    /// which for a pipe opens the same pipe as a FIFO open would.
    private func pipeQueue(pid: Int32, fd: Int32, identity: String) throws -> QueuedData? {
        guard !seen.contains(identity) else { return nil }
        guard let copy = RemoteFile(pid: pid, fd: fd) else {
            throw BpfcpError("checkpoint_failed", "duplicating fd \(fd) of process \(pid) (\(identity)) to read its queue failed: \(String(cString: strerror(errno)))")
        }
        guard let queued = copy.bytesReadable() else {
            throw BpfcpError.system("FIONREAD on fd \(fd) of process \(pid) (\(identity))", errno)
        }
        seen.insert(identity)
        guard queued > 0 else { return nil }

        var reader = copy.fd
        var opened: Int32 = -1
        if let flags = copy.fcntl(F_GETFL), flags & O_ACCMODE == O_WRONLY {
            opened = open("/proc/\(pid)/fd/\(fd)", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard opened >= 0 else {
                throw BpfcpError.system("opening a read end of \(identity) through /proc/\(pid)/fd/\(fd)", errno)
            }
            reader = opened
        }
        defer { if opened >= 0 { close(opened) } }

        var bytes = [UInt8](repeating: 0, count: Int(queued))
        let count = bytes.withUnsafeMutableBytes { bpfcp_pipe_peek(reader, $0.baseAddress, $0.count) }
        guard count == Int(queued) else {
            let why = count < 0 ? String(cString: strerror(Int32(-count))) : "it gave \(count) of \(queued) bytes"
            throw BpfcpError("checkpoint_failed", "reading the \(queued) queued bytes of \(identity) on fd \(fd) of process \(pid) failed: \(why)")
        }
        return QueuedData(identity: identity, fd: fd, messages: [Data(bytes)], peekOffset: nil)
    }

    /// Reads the receive queue of a connected or unconnected unix socket;
    /// other families and listeners have no queue restore could refill.
    private func socketQueue(pid: Int32, fd: Int32, identity: String) throws -> QueuedData? {
        guard !seen.contains(identity), let copy = RemoteFile(pid: pid, fd: fd) else { return nil }
        seen.insert(identity)
        guard intOption(copy.fd, SO_DOMAIN) == AF_UNIX, intOption(copy.fd, SO_ACCEPTCONN) == 0 else { return nil }
        let datagram = intOption(copy.fd, SO_TYPE) != Int32(SOCK_STREAM.rawValue)

        var size = max(Int(copy.bytesReadable() ?? 0) + 1, 64 << 10)
        while true {
            var buffer = [UInt8](repeating: 0, count: size)
            var lengths = [UInt32](repeating: 0, count: max(size / 64, 1024))
            var peekOffset: Int32 = -1
            let count = buffer.withUnsafeMutableBytes { bytes in
                bpfcp_socket_peek(copy.fd, datagram ? 1 : 0, bytes.baseAddress, bytes.count, &lengths, lengths.count, &peekOffset)
            }
            if count == -Int(EMSGSIZE) && size < 256 << 20 {
                size *= 4
                continue
            }
            guard count >= 0 else {
                let why = count == -Int(ENOTSUP) ? "it holds a zero-length datagram, which cannot be read without consuming it"
                    : String(cString: strerror(Int32(-count)))
                throw BpfcpError("checkpoint_failed", "reading the queue of \(identity) on fd \(fd) of process \(pid) failed: \(why)")
            }
            guard count > 0 else { return nil }
            var messages: [Data] = []
            var at = 0
            for length in lengths.prefix(count) {
                messages.append(Data(buffer[at..<at + Int(length)]))
                at += Int(length)
            }
            return QueuedData(identity: identity, fd: fd, messages: messages, peekOffset: peekOffset >= 0 ? peekOffset : nil)
        }
    }

    private func intOption(_ fd: Int32, _ name: Int32) -> Int32 {
        var value: Int32 = -1
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 ? value : -1
    }
}

extension Checkpoint {
    /// The saved queue of `identity` in any process of the checkpoint: a
    /// pipe shared by a family is stored with the first process that has an fd of it.
    func queued(_ identity: String) -> QueuedData? {
        for image in processes {
            if let queue = image.queues.first(where: { $0.identity == identity }) { return queue }
        }
        return nil
    }
}
