import Foundation

/// One end of a unix socket pair whose other end is in the same process.
/// The pair is created once with socketpair(2); each end gets its own
/// receive queue back from the other end, then the shutdowns of both ends.
struct SocketPairEnd: Equatable {
    /// "socket:[INODE]" of this end and of its peer, as in /proc/PID/fd.
    var identity: String
    var peer: String
    /// SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET.
    var type: Int32
    /// shutdown(2) directions this end closed itself: SHUT_WR when it sent
    /// its last byte, SHUT_RD when it stopped reading and its peer did not
    /// shut down writing. Nil when neither.
    var shutdown: Int32?
    /// SO_SNDBUF and SO_RCVBUF as getsockopt() returned them; the kernel
    /// doubles what setsockopt() gets, so restore passes half.
    var sendBuffer: Int32
    var receiveBuffer: Int32
    /// SO_PEEK_OFF when it was enabled.
    var peekOffset: Int32?

    /// The key both ends share, so the pair is created once.
    var pair: String { min(identity, peer) + "+" + max(identity, peer) }
}

/// A listening TCP or unix socket: bound to its address again with its
/// options, then listen(2) with its backlog.
struct ListenerPlan: Equatable {
    /// AF_INET, AF_INET6 or AF_UNIX.
    var family: Int32
    var type: Int32
    /// The sockaddr to bind, in its C layout.
    var address: [UInt8]
    /// The address as the sockets kind shows it, for messages and the trace.
    var name: String
    var backlog: Int32
    /// (level, option) pairs to set to 1 before bind: SO_REUSEADDR, IPV6_V6ONLY...
    var options: [SocketOptionPlan]
    /// Path of a unix socket file to bind; a stale file left by the saved
    /// process is removed first.
    var path: String?
}

struct SocketOptionPlan: Equatable {
    var level: Int32
    var name: Int32
    var text: String
}

/// Turns the sockets of an image into file plans, rejecting by name what restore cannot rebuild.
enum SocketPlan {
    static let afUnix: Int32 = 1, afInet: Int32 = 2, afInet6: Int32 = 10
    static let solSocket: Int32 = 1, ipprotoTcp: Int32 = 6, ipprotoIpv6: Int32 = 41

    /// Options restore sets to 1 before bind, with their getsockopt level and number.
    static let settableOptions: [String: (level: Int32, name: Int32)] = [
        "SO_REUSEADDR": (solSocket, 2), "SO_REUSEPORT": (solSocket, 15), "SO_KEEPALIVE": (solSocket, 9),
        "SO_BROADCAST": (solSocket, 6), "SO_OOBINLINE": (solSocket, 10), "SO_TIMESTAMP": (solSocket, 29),
        "SO_PASSCRED": (solSocket, 16), "IPV6_V6ONLY": (ipprotoIpv6, 26), "TCP_NODELAY": (ipprotoTcp, 1),
    ]

    static func plan(_ file: OpenFile, _ socket: Socket, all: [Socket], queued: QueuedData?, pid: Int32) throws -> FilePlan {
        let source: FilePlan.Source
        if socket.listenBacklog != nil {
            source = .listener(try listener(socket, pid: pid))
        } else if socket.family == "unix" {
            source = .socketPair(try pairEnd(socket, all: all, queued: queued, pid: pid))
        } else if socket.protocol == "tcp" && socket.state == "CLOSE" {
            throw ImagePlan.reject(pid, "fd \(socket.fd) is a TCP socket that is neither listening nor connected (state CLOSE, local \(socket.local)); restore of such sockets is not supported yet: close it in the process before the checkpoint")
        } else if socket.protocol == "tcp" {
            throw ImagePlan.reject(pid, "fd \(socket.fd) is the \(socket.state) TCP connection \(socket.local) → \(socket.peer); restore of TCP connections needs TCP repair, which is not supported")
        } else {
            throw ImagePlan.reject(pid, "fd \(socket.fd) is a \(socket.family) \(socket.type) socket (\(socket.protocol), local \(socket.local), peer \(socket.peer)); restore of this socket is not supported yet")
        }
        let nonblock = file.flags.contains("O_NONBLOCK") ? O_NONBLOCK : 0
        return FilePlan(fd: file.fd, flags: nonblock, closeOnExec: file.closeOnExec, source: source)
    }

    private static func pairEnd(_ socket: Socket, all: [Socket], queued: QueuedData?, pid: Int32) throws -> SocketPairEnd {
        let what = "fd \(socket.fd), a unix \(socket.type) socket"
        guard let type = typeNumber(socket.type) else { throw ImagePlan.reject(pid, "\(what), has a type restore cannot create") }
        guard let peerInode = socket.peerInode, peerInode != 0 else {
            throw ImagePlan.reject(pid, "\(what) bound to \(socket.local), is not connected; restore of unconnected unix sockets is not supported yet")
        }
        guard let peer = all.first(where: { $0.inode == peerInode }) else {
            throw ImagePlan.reject(pid, "\(what), is connected to \(socket.peer), which is in another process; restore of unix connections across processes needs a family restore")
        }
        guard socket.local == "-", peer.local == "-" else {
            throw ImagePlan.reject(pid, "\(what), is connected to fd \(peer.fd) of the process, but one end has a name (\(socket.local), \(peer.local)); restore of named unix connections is not supported yet")
        }
        guard (socket.inflightFds ?? 0) == 0 else {
            throw ImagePlan.reject(pid, "\(what), has \(socket.inflightFds ?? 0) file descriptors in flight (SCM_RIGHTS); restore of passed fds is not supported")
        }
        let queuedBytes = UInt64(queued?.byteCount ?? 0)
        guard socket.queueTruncated || UInt64(socket.recvQueue) == queuedBytes else {
            throw ImagePlan.reject(pid, "\(what), has \(socket.recvQueue) queued bytes, but the image contains \(queuedBytes) of them; take the checkpoint again with this bpfcp")
        }
        return SocketPairEnd(identity: "socket:[\(socket.inode)]", peer: "socket:[\(peer.inode)]", type: type,
                             shutdown: shutdown(socket, peer: peer), sendBuffer: socket.sendBuffer,
                             receiveBuffer: socket.receiveBuffer, peekOffset: queued?.peekOffset)
    }

    /// Returns the shutdown(2) direction that gives this end and its peer
    /// their saved states. SHUT_WR on an end sets RCV_SHUTDOWN on the peer,
    /// and SHUT_RD sets SEND_SHUTDOWN there, so one call covers both ends.
    static func shutdown(_ socket: Socket, peer: Socket) -> Int32? {
        if socket.shutdown.contains("SHUT_WR") && socket.shutdown.contains("SHUT_RD") && !peer.shutdown.contains("SHUT_WR") {
            return Int32(SHUT_RDWR)
        }
        if socket.shutdown.contains("SHUT_WR") { return Int32(SHUT_WR) }
        if socket.shutdown.contains("SHUT_RD") && !peer.shutdown.contains("SHUT_WR") { return Int32(SHUT_RD) }
        return nil
    }

    static func listener(_ socket: Socket, pid: Int32) throws -> ListenerPlan {
        let what = "fd \(socket.fd), the \(socket.family) listener \(socket.local)"
        if let accept = socket.acceptQueue, accept > 0 {
            let bytes = socket.pending.compactMap(\.queuedBytes).reduce(0, +)
            throw ImagePlan.reject(pid, "\(what), holds \(accept) connection\(accept == 1 ? "" : "s") not yet accepted (\(bytes) unread bytes); restore of pending connections is not supported, and they would be lost")
        }
        guard let type = typeNumber(socket.type), let backlog = socket.listenBacklog else {
            throw ImagePlan.reject(pid, "\(what), has the socket type \(socket.type), which restore cannot create")
        }
        let options = try socket.options.map { name -> SocketOptionPlan in
            guard let option = settableOptions[name] else {
                throw ImagePlan.reject(pid, "\(what), has the option \(name), which restore cannot set")
            }
            return SocketOptionPlan(level: option.level, name: option.name, text: name)
        }
        var plan = ListenerPlan(family: 0, type: type, address: [], name: socket.local, backlog: Int32(backlog), options: options, path: nil)
        switch socket.family {
        case "inet", "inet6":
            guard let (family, address) = inetAddress(socket.local, family: socket.family) else {
                throw ImagePlan.reject(pid, "\(what), has an address restore cannot parse")
            }
            plan.family = family
            plan.address = address
        case "unix":
            plan.family = afUnix
            let name = socket.local.hasPrefix("@") ? [0] + Escape.unescape(String(socket.local.dropFirst())) : Escape.unescape(socket.local)
            guard name.count > 0, name.count < 108, socket.local != "-" else {
                throw ImagePlan.reject(pid, "\(what), has no name restore can bind")
            }
            guard name[0] == 0 || name[0] == UInt8(ascii: "/") else {
                throw ImagePlan.reject(pid, "\(what), is bound to a relative path; restore binds absolute paths and abstract names only")
            }
            if name[0] != 0 { plan.path = String(decoding: name, as: UTF8.self) }
            plan.address = withUnsafeBytes(of: UInt16(afUnix).littleEndian) { Array($0) } + name + (name[0] == 0 ? [] : [0])
        default:
            throw ImagePlan.reject(pid, "\(what), is in a family restore cannot listen on")
        }
        return plan
    }

    /// Builds the sockaddr_in or sockaddr_in6 of "127.0.0.1:8080", "*:22" or "[::1]:80".
    static func inetAddress(_ text: String, family: String) -> (Int32, [UInt8])? {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        var host = String(text[..<colon])
        let portBytes = withUnsafeBytes(of: port.bigEndian) { Array($0) }
        if family == "inet" {
            var address = in_addr()
            if host != "*" && inet_pton(AF_INET, host, &address) != 1 { return nil }
            let raw = withUnsafeBytes(of: address) { Array($0) }
            return (afInet, withUnsafeBytes(of: UInt16(afInet).littleEndian) { Array($0) } + portBytes + raw + [UInt8](repeating: 0, count: 8))
        }
        host = String(host.dropFirst().dropLast())
        var address = in6_addr()
        if host != "*" && inet_pton(AF_INET6, host, &address) != 1 { return nil }
        let raw = withUnsafeBytes(of: address) { Array($0) }
        return (afInet6, withUnsafeBytes(of: UInt16(afInet6).littleEndian) { Array($0) } + portBytes + [0, 0, 0, 0] + raw + [0, 0, 0, 0])
    }

    static func typeNumber(_ name: String) -> Int32? {
        ["stream": 1, "dgram": 2, "seqpacket": 5][name]
    }
}
