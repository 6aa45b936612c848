import CBpfcpShim
import Foundation

/// Sockets (iter/task_file with bpf_sock_from_file): one row per socket fd,
/// with the processes that hold each peer.
public enum SocketsKind: ResourceKind {
    public static let name = "sockets"
    public static let title = "Sockets"
    public static let columns = [
        Column("FD", width: 5, alignRight: true), Column("FAMILY", width: 7), Column("TYPE", width: 9),
        Column("STATE", width: 12), Column("LOCAL", width: 28), Column("PEER", width: 36),
        Column("RECV-Q", width: 8, alignRight: true), Column("SEND-Q", width: 8, alignRight: true),
    ]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [Socket] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid, shared: target.fdTable)
        case .proc: try SocketsProc.collect(pid: target.pid)
        }
    }

    /// Reads the sockets of `pid` and finds the owners of their peers with a
    /// second pass over the socket fds of every process, filtered in the kernel.
    public static func collectBPF(pid: Int32, shared: FdTablePass? = nil) throws -> [Socket] {
        let (raw, sockets) = try readSockets(pid: pid, shared: shared)
        guard sockets.contains(where: SocketPeers.mayHavePeer) else { return sockets }
        var complete = sockets
        SocketPeers.attachOwners(&complete, owners: try SocketPeers.ownersBPF(of: raw))
        return complete
    }

    public static let readsFdTable = true

    /// The step of `collectHeld` finds the peer owners among all other processes.
    public static let completesFromOtherProcesses = true

    /// Reads the sockets of the held process and the peers among its own
    /// fds while a checkpoint holds it. The pass over every other process's
    /// fds (10-110 ms under load) comes after the release: those processes
    /// run on during the hold anyway, so reading them then is no less
    /// consistent, and the hold is shorter.
    public static func collectHeld(_ target: Target, source: CollectorSource) throws -> @Sendable () throws -> [Socket] {
        guard source == .bpf else {
            let items = try collect(target, source: source)
            return { items }
        }
        let pid = target.pid
        let (raw, sockets) = try readSockets(pid: pid, shared: target.fdTable)
        guard sockets.contains(where: SocketPeers.mayHavePeer) else { return { sockets } }
        let own = try SocketPeers.ownersBPF(of: raw, pid: pid)
        return {
            let others = try SocketPeers.ownersBPF(of: raw).filter { $0.owner.pid != pid }
            var complete = sockets
            SocketPeers.attachOwners(&complete, owners: own + others)
            return complete
        }
    }

    /// Reads the socket records of `pid` from `shared`, or from dump_sockets when nil.
    private static func readSockets(pid: Int32, shared: FdTablePass?) throws -> ([bpfcp_socket], [Socket]) {
        let (reader, records) = try FdRecords.read([BPFCP_REC_SOCKET.rawValue], pid: pid, shared: shared,
                                                   object: "sockets", program: "dump_sockets")
        let raw = try records.map { try reader.load($0, as: bpfcp_socket.self) }
        return (raw, raw.map(socket).sorted { $0.fd < $1.fd })
    }

    static func socket(_ rec: bpfcp_socket) -> Socket {
        let family = rec.family
        let protocolName = SocketNames.protocolName(family: family, type: rec.type, rec.protocol)
        let isListener = rec.state == 10 && (family == SocketNames.afUnix || protocolName == "tcp")
        let (local, peer) = addresses(rec, protocolName: protocolName)

        var socket = Socket(
            fd: rec.fd, inode: rec.ino, netns: rec.netns, processNetns: rec.task_netns, family: SocketNames.family(family),
            type: SocketNames.type(rec.type), protocol: protocolName,
            state: SocketNames.state(family: family, protocolName: protocolName, rec.state),
            local: local, peer: peer, recvQueue: rec.recv_q,
            recvMessages: family == SocketNames.afUnix && !isListener ? rec.recv_skbs : nil,
            inflightFds: family == SocketNames.afUnix ? rec.recv_fds : nil, sendQueue: rec.send_q,
            queueTruncated: rec.queue_flags != 0, shutdown: SocketNames.shutdown(rec.shutdown),
            options: SocketNames.options(rec.options), receiveBuffer: rec.rcvbuf, sendBuffer: rec.sndbuf,
            priority: rec.priority, mark: rec.mark, receiveLowWatermark: rec.rcvlowat,
            listenBacklog: isListener ? rec.max_ack_backlog : nil, acceptQueue: isListener ? rec.ack_backlog : nil,
            pending: isListener ? pending(rec) : [], tcp: nil, peerInode: nil, peerNetns: nil, peerOwners: []
        )
        if protocolName == "tcp" && rec.type == 1 && !isListener {
            socket.tcp = tcpState(rec)
        }
        if family == SocketNames.afUnix && rec.peer_present != 0 {
            socket.peerInode = rec.peer_ino
            socket.peerNetns = rec.peer_netns != rec.task_netns ? "net:[\(rec.peer_netns)]" : nil
        }
        return socket
    }

    private static func addresses(_ rec: bpfcp_socket, protocolName: String) -> (String, String) {
        switch rec.family {
        case SocketNames.afInet, SocketNames.afInet6:
            let local = SocketNames.inetAddress(family: rec.family, bytes: bytes(rec.local_addr), port: rec.local_port)
            let peer = SocketNames.inetAddress(family: rec.family, bytes: bytes(rec.peer_addr), port: rec.peer_port)
            return (local, peer)
        case SocketNames.afUnix:
            let local = SocketNames.unixName(Array(bytes(rec.local_path).prefix(Int(rec.local_path_len))))
            var peer = SocketNames.unixName(Array(bytes(rec.peer_path).prefix(Int(rec.peer_path_len))))
            if rec.peer_present != 0 && peer == "-" {
                peer = rec.peer_ino != 0 ? "socket:[\(rec.peer_ino)]" : "(closed)"
            }
            return (local, peer)
        case SocketNames.afNetlink:
            let local = "portid \(rec.nl_portid)" + (rec.nl_groups != 0 ? " groups " + Format.hex(UInt64(rec.nl_groups)) : "")
            let peer = rec.nl_dst_group != 0 ? "group \(rec.nl_dst_group)" : "portid \(rec.nl_dst_portid)"
            return (local, peer)
        default:
            return ("-", "-")
        }
    }

    private static func tcpState(_ rec: bpfcp_socket) -> TCPState {
        TCPState(
            sndNxt: rec.snd_nxt, sndUna: rec.snd_una, rcvNxt: rec.rcv_nxt, sndWnd: rec.snd_wnd, rcvWnd: rec.rcv_wnd,
            mss: rec.mss, options: SocketNames.tcpOptions(rec.tcp_options),
            sndWscale: rec.snd_wscale, rcvWscale: rec.rcv_wscale, srttUs: rec.srtt_us
        )
    }

    private static func pending(_ rec: bpfcp_socket) -> [PendingConnection] {
        let all = withUnsafeBytes(of: rec.pending) { Array($0.bindMemory(to: bpfcp_pending_conn.self)) }
        let isUnix = rec.family == SocketNames.afUnix
        return all.prefix(Int(min(rec.pending_count, UInt32(BPFCP_MAX_PENDING)))).map {
            PendingConnection(peerInode: $0.peer_ino, queuedBytes: $0.queued_bytes,
                              queuedMessages: isUnix ? $0.queued_skbs : nil)
        }
    }

    private static func bytes<T>(_ tuple: T) -> [UInt8] {
        withUnsafeBytes(of: tuple) { Array($0) }
    }

    public static func entry(_ s: Socket) -> Entry {
        let owners = s.peerOwners.map { "\($0.pid) \($0.comm) fd \($0.fd)" }.joined(separator: ", ")
        var peerCell = s.peer
        if let netns = s.peerNetns { peerCell += " (other network namespace \(netns))" }
        if !owners.isEmpty { peerCell += " [" + owners + "]" }
        let cells = [
            "\(s.fd)", s.family, s.type, s.state, s.local, peerCell, "\(s.recvQueue)", "\(s.sendQueue)",
        ]
        return Entry(key: "fd \(s.fd)", cells: cells, fields: fields(s, peerOwners: owners))
    }

    private static func fields(_ s: Socket, peerOwners: String) -> [Field] {
        var fields = [
            Field("fd", "\(s.fd)"), Field("inode", "\(s.inode)"), Field("network namespace", namespace(s)),
            Field("family", s.family), Field("type", s.type), Field("protocol", s.protocol), Field("state", s.state),
            Field("local", s.local), Field("peer", s.peer), Field("receive queue", "\(s.recvQueue)"),
            Field("receive queue messages", s.recvMessages.map { "\($0)" } ?? "-"),
            Field("fds in flight", s.inflightFds.map { "\($0)" } ?? "-"), Field("send queue", "\(s.sendQueue)"), Field("queue walk truncated", s.queueTruncated ? "yes" : "no"),
            Field("shutdown", s.shutdown.isEmpty ? "-" : s.shutdown.joined(separator: "|")),
            Field("options", s.options.isEmpty ? "-" : s.options.joined(separator: "|")),
            Field("SO_RCVBUF", "\(s.receiveBuffer)"), Field("SO_SNDBUF", "\(s.sendBuffer)"),
            Field("SO_PRIORITY", "\(s.priority)"), Field("SO_MARK", "\(s.mark)"),
            Field("SO_RCVLOWAT", "\(s.receiveLowWatermark)"),
        ]
        if let inode = s.peerInode { fields.append(Field("peer inode", inode == 0 ? "closed" : "\(inode)")) }
        if let netns = s.peerNetns { fields.append(Field("peer network namespace", "other: \(netns)")) }
        fields.append(Field("peer owners", peerOwners.isEmpty ? "-" : peerOwners))
        if let backlog = s.listenBacklog { fields.append(Field("listen backlog", "\(backlog)")) }
        if let queued = s.acceptQueue { fields.append(Field("accept queue", "\(queued)")) }
        for (i, conn) in s.pending.enumerated() {
            let peer = conn.peerInode == 0 ? "peer closed" : "peer inode \(conn.peerInode)"
            let queued = conn.queuedBytes.map { "\($0) bytes in \(conn.queuedMessages ?? 0) messages" } ?? "queued bytes unknown"
            fields.append(Field("pending \(i + 1)", "\(queued), \(peer)"))
        }
        if let tcp = s.tcp { fields += tcpFields(tcp) }
        return fields
    }

    private static func namespace(_ s: Socket) -> String {
        let own = "net:[\(s.netns)]"
        return s.netns == s.processNetns ? own : own + " (the process is in net:[\(s.processNetns)])"
    }

    private static func tcpFields(_ tcp: TCPState) -> [Field] {
        let unknown = "unknown"
        return [
            Field("snd_nxt", tcp.sndNxt.map { "\($0)" } ?? unknown), Field("snd_una", tcp.sndUna.map { "\($0)" } ?? unknown),
            Field("rcv_nxt", tcp.rcvNxt.map { "\($0)" } ?? unknown), Field("snd_wnd", "\(tcp.sndWnd)"),
            Field("rcv_wnd", "\(tcp.rcvWnd)"), Field("mss", "\(tcp.mss)"),
            Field("tcp options", tcp.options.isEmpty ? "-" : tcp.options.joined(separator: "|")),
            Field("snd_wscale", "\(tcp.sndWscale)"), Field("rcv_wscale", "\(tcp.rcvWscale)"),
            Field("srtt", tcp.srttUs.map { "\($0) us" } ?? unknown),
        ]
    }
}
