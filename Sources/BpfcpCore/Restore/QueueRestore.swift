import Foundation

/// System calls of the pipe, socket and epoll steps of restore.
extension SyscallNumber {
    static let socket = 41, connect = 42, sendto = 44, shutdown = 48, bind = 49, listen = 50
    static let socketpair = 53, setsockopt = 54, epollCtl = 233, epollCreate1 = 291
}

extension FileRestore {
    /// Largest write injected at once; the trampoline's payload area is larger.
    static let refillChunk = 128 * 1024

    /// Writes the saved bytes of `queue` into `fd`, the write end of a new
    /// pipe or the peer of the socket that receives them, so they are queued
    /// in the same order as at the checkpoint. A datagram is sent whole with
    /// one call. Sockets are written with MSG_DONTWAIT, so a queue that does
    /// not fit fails the restore instead of blocking it.
    func refill(_ fd: Int32, with queue: QueuedData, socket: Bool = false) throws {
        let flags = socket ? Int(MSG_DONTWAIT) : 0
        for message in queue.messages {
            let bytes = [UInt8](message)
            let chunk = socket && queue.messages.count > 1 ? max(bytes.count, 1) : Self.refillChunk
            var at = 0
            repeat {
                let part = Array(bytes[at..<min(at + chunk, bytes.count)])
                try injector.queue(socket ? SyscallNumber.sendto : SyscallNumber.write,
                                   socket ? [.int(Int(fd)), .payload(0), .int(part.count), .int(flags), .int(0), .int(0)]
                                          : [.int(Int(fd)), .payload(0), .int(part.count)],
                                   payloads: [part],
                                   text: socket ? "sendto(\(fd), <\(part.count) bytes of \(queue.identity)>, \(part.count), \(flags == 0 ? "0" : "MSG_DONTWAIT"), NULL, 0)"
                                                : "write(\(fd), <\(part.count) bytes of \(queue.identity)>, \(part.count))",
                                   expected: Int64(part.count))
                at += part.count
            } while at < bytes.count
        }
    }
}

extension RestorerFiles {
    /// Writes the saved bytes of `queue` into the write end of the shared
    /// pipe `identity`, which restore holds. Its capacity is set already,
    /// so the bytes fit, and a short write (O_NONBLOCK) fails the restore.
    func refill(_ identity: String, with queue: QueuedData) throws {
        guard let fd = fds[Self.pipeKey(identity, readEnd: false)] else {
            throw BpfcpError("restore_failed", "restore has no write end of \(identity) to queue its \(queue.byteCount) bytes")
        }
        try writeQueue(queue, to: fd)
    }

    /// Writes the saved bytes of `queue` to `fd`, a pipe or FIFO that restore holds.
    func writeQueue(_ queue: QueuedData, to fd: Int32) throws {
        let identity = queue.identity
        for message in queue.messages {
            var done = 0
            while done < message.count {
                let n = message.withUnsafeBytes { write(fd, $0.baseAddress! + done, message.count - done) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    throw BpfcpError.system("queueing \(message.count - done) saved bytes in \(identity)", n < 0 ? errno : EIO)
                }
                done += n
            }
        }
    }
}
