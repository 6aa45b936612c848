import CBpfcpShim
import Foundation

/// A unix socket pair whose two sockets are held by different members of
/// a family, as socketpair() followed by fork() leaves them. Restore
/// creates it in its own process and each member copies its socket.
struct FamilySocketPair {
    /// "socket:[INODE]" of the two sockets, in socketpair() order.
    var sockets: (String, String)
    /// SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET.
    var type: Int32
    /// shutdown(2) direction per socket, as `SocketPlan` derives it.
    var shutdowns: [String: Int32]
    /// Sockets whose open file description had O_NONBLOCK.
    var nonblocking: Set<String>
    /// Saved receive queue per socket.
    var queues: [String: QueuedData]
}

extension FamilyPlanning {
    /// Finds the unix socket pairs whose sockets are in more than one
    /// member, and points every fd of them at the copy restore creates.
    /// A pair inside one member is left to that member's own restore.
    /// `handled` lists the inodes of sockets that the `SharedPlan` already creates.
    static func planSocketPairs(_ images: [ProcessImage], into family: inout FamilyPlan,
                                external: inout [Int32: [Int32: FilePlan.Source]], queued: (String) -> QueuedData?,
                                handled: Set<UInt64> = []) throws {
        var holders: [UInt64: [Holder]] = [:]
        for image in images where !image.process.isZombie {
            let files = try image.items("files", as: OpenFile.self)
            for socket in try image.items("sockets", as: Socket.self)
            where socket.family == "unix" && socket.listenBacklog == nil && !handled.contains(socket.inode) {
                let nonblocking = files.first { $0.fd == socket.fd }?.flags.contains("O_NONBLOCK") ?? false
                holders[socket.inode, default: []].append(Holder(pid: image.pid, socket: socket, nonblocking: nonblocking))
            }
        }
        var planned: Set<UInt64> = []
        for (inode, list) in holders.sorted(by: { $0.key < $1.key }) where !planned.contains(inode) {
            guard let peerInode = list[0].socket.peerInode, peerInode != 0, let peers = holders[peerInode] else { continue }
            let pids = Set((list + peers).map(\.pid))
            guard pids.count > 1 else { continue }
            family.socketPairs.append(try pair(list, peers, queued: queued))
            planned.formUnion([inode, peerInode])
            for holder in list + peers {
                external[holder.pid, default: [:]][holder.socket.fd] = .restorerFile(key: "socket:[\(holder.socket.inode)]", fd: -1)
            }
        }
    }

    /// A process holding a socket at one of its fds.
    struct Holder {
        var pid: Int32
        var socket: Socket
        var nonblocking: Bool
    }

    /// Plans the pair `first` and `second`. A `named` pair, an accepted
    /// connection and its client, may have a name on the accepted end.
    static func pair(_ first: [Holder], _ second: [Holder], queued: (String) -> QueuedData?, named: Bool = false) throws -> FamilySocketPair {
        let a = first[0].socket, b = second[0].socket
        let pid = first[0].pid
        let what = "fd \(a.fd), a unix \(a.type) socket connected to a socket of process \(second[0].pid)"
        guard let type = SocketPlan.typeNumber(a.type) else { throw ImagePlan.reject(pid, "\(what), has a type restore cannot create") }
        guard named || (a.local == "-" && b.local == "-") else {
            throw ImagePlan.reject(pid, "\(what), has a name (\(a.local), \(b.local)); restore of named unix connections is not supported yet")
        }
        var queues: [String: QueuedData] = [:]
        for socket in [a, b] {
            let identity = "socket:[\(socket.inode)]"
            guard (socket.inflightFds ?? 0) == 0 else {
                throw ImagePlan.reject(pid, "\(what), has file descriptors in flight (SCM_RIGHTS); restore of passed fds is not supported")
            }
            let queue = queued(identity)
            guard socket.queueTruncated || UInt64(socket.recvQueue) == UInt64(queue?.byteCount ?? 0) else {
                throw ImagePlan.reject(pid, "\(identity) has \(socket.recvQueue) queued bytes, but the image contains \(queue?.byteCount ?? 0) of them; take the checkpoint again with this bpfcp")
            }
            queues[identity] = queue
        }
        var shutdowns: [String: Int32] = [:]
        for (socket, peer) in [(a, b), (b, a)] {
            if let how = SocketPlan.shutdown(socket, peer: peer) { shutdowns["socket:[\(socket.inode)]"] = how }
        }
        let nonblocking = Set((first + second).filter(\.nonblocking).map { "socket:[\($0.socket.inode)]" })
        return FamilySocketPair(sockets: ("socket:[\(a.inode)]", "socket:[\(b.inode)]"), type: type, shutdowns: shutdowns,
                                nonblocking: nonblocking, queues: queues)
    }
}

extension RestorerFiles {
    /// Creates the socket pair in restore's own process, queues each
    /// socket's saved bytes by sending them from its peer, and applies the
    /// shutdowns. The members then copy the sockets with pidfd_getfd.
    func createSocketPair(_ pair: FamilySocketPair) throws {
        var ends: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, pair.type | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            throw BpfcpError.system("creating the socket pair \(pair.sockets.0) and \(pair.sockets.1) for the restored processes", errno)
        }
        fds[pair.sockets.0] = ends[0]
        fds[pair.sockets.1] = ends[1]
        try fill(pair, ends: ends)
    }

    /// Queues each socket's saved bytes by sending them from its peer, and
    /// applies the shutdowns and O_NONBLOCK.
    func fill(_ pair: FamilySocketPair, ends: [Int32]) throws {
        let sockets = [(pair.sockets.0, ends[0], ends[1]), (pair.sockets.1, ends[1], ends[0])]

        for (identity, _, peer) in sockets {
            for message in pair.queues[identity]?.messages ?? [] {
                let sent = message.withUnsafeBytes { send(peer, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                guard sent == message.count else {
                    throw BpfcpError.system("queueing \(message.count) saved bytes in \(identity)", sent < 0 ? errno : EIO)
                }
            }
        }
        for (identity, fd, _) in sockets {
            if let how = pair.shutdowns[identity], Glibc.shutdown(fd, how) != 0 {
                throw BpfcpError.system("shutdown of \(identity)", errno)
            }
            if pair.nonblocking.contains(identity), bpfcp_fcntl_int(fd, F_SETFL, O_NONBLOCK) != 0 {
                throw BpfcpError.system("setting O_NONBLOCK on \(identity)", errno)
            }
        }
    }
}
