import CBpfcpShim
import Foundation

/// A unix listener bound to a name, with the connections it accepted
/// whose client is in the image too. Restore binds the listener in its own
/// process, then connects a client for each connection and accepts it, so
/// the accepted socket carries the listener's name again. Every process
/// then copies its sockets.
struct UnixListenerGroup {
    var listener: ListenerPlan
    /// "socket:[INODE]" of the listener.
    var key: String
    var nonblocking: Bool
    /// Each connection as a pair: the accepted socket first, its client second.
    var connections: [FamilySocketPair]
}

extension SharedPlanning {
    /// Finds the named unix listeners with accepted connections whose
    /// client is in the image, and points every fd of them at restore's copies.
    static func planUnixConnections(_ images: [ProcessImage], checkpoint: Checkpoint, into plan: inout SharedPlan) throws {
        var holders: [UInt64: [FamilyPlanning.Holder]] = [:]
        var listeners: [(pid: Int32, socket: Socket, nonblocking: Bool)] = []
        for image in images {
            let files = try image.items("files", as: OpenFile.self)
            for socket in try image.items("sockets", as: Socket.self) where socket.family == "unix" {
                let nonblocking = files.first { $0.fd == socket.fd }?.flags.contains("O_NONBLOCK") ?? false
                if socket.listenBacklog != nil {
                    if socket.local != "-" { listeners.append((image.pid, socket, nonblocking)) }
                } else {
                    holders[socket.inode, default: []].append(FamilyPlanning.Holder(pid: image.pid, socket: socket, nonblocking: nonblocking))
                }
            }
        }

        var planned: Set<UInt64> = []
        for listener in listeners where !planned.contains(listener.socket.inode) {
            let accepted = holders.values.filter { list in
                list[0].socket.local == listener.socket.local && list[0].socket.type == listener.socket.type
                    && (list[0].socket.peerInode ?? 0) != 0 && holders[list[0].socket.peerInode!]?[0].socket.local == "-"
            }.sorted { $0[0].socket.inode < $1[0].socket.inode }
            guard !accepted.isEmpty else { continue }

            var group = UnixListenerGroup(listener: try SocketPlan.listener(listener.socket, pid: listener.pid),
                                          key: "socket:[\(listener.socket.inode)]", nonblocking: listener.nonblocking, connections: [])
            planned.insert(listener.socket.inode)
            for list in accepted {
                let clients = holders[list[0].socket.peerInode!]!
                group.connections.append(try FamilyPlanning.pair(list, clients, queued: checkpoint.queued, named: true))
                planned.formUnion([list[0].socket.inode, clients[0].socket.inode])
            }
            plan.listeners.append(group)
        }
        for image in images {
            for socket in try image.items("sockets", as: Socket.self) where planned.contains(socket.inode) {
                plan.members[image.pid, default: SharedMember()].fds[socket.fd] = .restorerFile(key: "socket:[\(socket.inode)]", fd: -1)
            }
        }
        plan.sockets = planned
    }
}

extension RestorerFiles {
    /// Binds each listener in restore, then connects a client to it and
    /// accepts it once per connection, and fills the connection's queues.
    func createUnixListeners(_ groups: [UnixListenerGroup], log: ((String) -> Void)?) throws {
        for group in groups {
            let listener = group.listener
            let fd = socket(listener.family, listener.type | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw BpfcpError.system("creating the listener \(Escape.text(listener.name))", errno) }
            fds[group.key] = fd
            for option in listener.options {
                var one: Int32 = 1
                guard setsockopt(fd, option.level, option.name, &one, 4) == 0 else {
                    throw BpfcpError.system("setting \(option.text) on the listener \(Escape.text(listener.name))", errno)
                }
            }
            if let path = listener.path, try FileRestore.isStaleSocketFile(path) { unlink(path) }
            try Self.call("binding the listener to \(Escape.text(listener.name))") {
                listener.address.withUnsafeBytes { bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count)) }
            }
            try Self.call("listen on \(Escape.text(listener.name))") { listen(fd, listener.backlog) }

            for connection in group.connections {
                let client = socket(listener.family, listener.type | Int32(SOCK_CLOEXEC.rawValue), 0)
                guard client >= 0 else { throw BpfcpError.system("creating a client of \(Escape.text(listener.name))", errno) }
                fds[connection.sockets.1] = client
                try Self.call("connecting to \(Escape.text(listener.name))") {
                    listener.address.withUnsafeBytes { connect(client, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count)) }
                }
                let accepted = accept(fd, nil, nil)
                guard accepted >= 0 else { throw BpfcpError.system("accepting on \(Escape.text(listener.name))", errno) }
                fds[connection.sockets.0] = accepted
                _ = bpfcp_fcntl_int(accepted, F_SETFD, FD_CLOEXEC)
                try fill(connection, ends: [accepted, client])
            }
            if group.nonblocking, bpfcp_fcntl_int(fd, F_SETFL, O_NONBLOCK) != 0 {
                throw BpfcpError.system("setting O_NONBLOCK on the listener \(Escape.text(listener.name))", errno)
            }
            log?("bound the listener \(Escape.text(listener.name)) with \(group.connections.count) accepted connection(s) for the restored processes")
        }
    }

    private static func call(_ what: String, _ body: () -> Int32) throws {
        guard body() == 0 else { throw BpfcpError.system(what, errno) }
    }
}
