import CBpfcpShim
import Foundation

/// A socket fd of some process, as the machine-wide pass lists it.
public struct SocketOwnerRecord: Sendable, Equatable {
    public var owner: SocketOwner
    public var inode: UInt64
    public var netns: UInt64
    /// "unix", "inet"... and "tcp", "udp"... named as in `Socket`.
    public var family: String
    public var `protocol`: String
    /// Unix sockets: inode of the peer, 0 when none.
    public var peerInode: UInt64
    /// Inet sockets: addresses formatted as in `Socket.local` and `Socket.peer`.
    public var local: String
    public var peer: String
}

/// The processes holding the other end of one socket.
public struct SocketPeerLink: Sendable, Equatable {
    public var fd: Int32
    public var inode: UInt64
    /// Peer pids without repeats, in ascending order; the dumped process itself
    /// appears for a socketpair it holds both ends of.
    public var peerPids: [Int32]
    public var peerOwners: [SocketOwner]
}

/// Who talks to whom: joins each socket to the processes holding its peer.
/// Unix peers are matched by the peer's inode, which sockfs keeps unique
/// across network namespaces, so a peer in another namespace is found too
/// (and the socket's `peerNetns` records it). TCP and UDP peers are matched by
/// the reversed address pair within the same network namespace only, which
/// finds the other end of a loopback connection; an address pair seen from
/// another namespace could belong to an unrelated socket.
public enum SocketPeers {
    /// Peer links of every socket in the dump's "sockets" section that has a peer.
    public static func links(in dump: Dump) throws -> [SocketPeerLink] {
        guard let section = dump.section(SocketsKind.name) else { return [] }
        let sockets = try section.items.map { try $0.decode(as: Socket.self) }
        return links(of: sockets)
    }

    /// Collects the sockets of `pid` now and returns their peer links.
    public static func links(pid: Int32, source: CollectorSource = .bpf) throws -> [SocketPeerLink] {
        let sockets = source == .bpf ? try SocketsKind.collectBPF(pid: pid) : try SocketsProc.collect(pid: pid)
        return links(of: sockets)
    }

    public static func links(of sockets: [Socket]) -> [SocketPeerLink] {
        sockets.filter { !$0.peerOwners.isEmpty }.map { socket in
            let pids = Set(socket.peerOwners.map(\.pid)).sorted()
            return SocketPeerLink(fd: socket.fd, inode: socket.inode, peerPids: pids, peerOwners: socket.peerOwners)
        }
    }

    /// Returns whether a socket can have a peer held by some process: connected unix
    /// sockets and connected TCP or UDP sockets.
    static func mayHavePeer(_ socket: Socket) -> Bool {
        if let inode = socket.peerInode { return inode != 0 }
        return (socket.family == "inet" || socket.family == "inet6") && !socket.peer.hasSuffix(":*")
    }

    /// Socket fds of every process on the machine, from one iter/task_file pass.
    public static func ownersBPF() throws -> [SocketOwnerRecord] {
        let reader = RecordReader(try BPFRuntime.shared.object("sockets").iterate("socket_owners"))
        let records = try reader.records().filter { Int($0.kind) == Int(BPFCP_REC_SOCKET_OWNER.rawValue) }
        return try records.map { ownerRecord(try reader.load($0, as: bpfcp_socket_owner.self)) }
    }

    private static func ownerRecord(_ rec: bpfcp_socket_owner) -> SocketOwnerRecord {
        let protocolName = SocketNames.protocolName(family: rec.family, type: 0, rec.protocol)
        var local = ""
        var peer = ""
        if rec.family == SocketNames.afInet || rec.family == SocketNames.afInet6 {
            local = SocketNames.inetAddress(family: rec.family, bytes: withUnsafeBytes(of: rec.local_addr) { Array($0) },
                                            port: rec.local_port)
            peer = SocketNames.inetAddress(family: rec.family, bytes: withUnsafeBytes(of: rec.peer_addr) { Array($0) },
                                           port: rec.peer_port)
        }
        let owner = SocketOwner(pid: Int32(bitPattern: rec.pid), fd: rec.fd, comm: Escape.bytes(cStringBytes(rec.comm)))
        return SocketOwnerRecord(owner: owner, inode: rec.ino, netns: rec.netns, family: SocketNames.family(rec.family),
                                 protocol: protocolName, peerInode: rec.peer_ino, local: local, peer: peer)
    }

    /// Fills `peerOwners` of each socket from the machine-wide owner list.
    static func attachOwners(_ sockets: inout [Socket], owners: [SocketOwnerRecord]) {
        let byInode = Dictionary(grouping: owners, by: \.inode)
        let byAddresses = Dictionary(grouping: owners.filter { !$0.local.isEmpty }) { addressKey($0.netns, $0.protocol, $0.local, $0.peer) }

        for i in sockets.indices where mayHavePeer(sockets[i]) {
            let socket = sockets[i]
            var found: [SocketOwnerRecord]
            if let inode = socket.peerInode {
                found = byInode[inode] ?? []
            } else {
                found = byAddresses[addressKey(socket.netns, socket.protocol, socket.peer, socket.local)] ?? []
            }
            found.removeAll { $0.inode == socket.inode }
            sockets[i].peerOwners = found.map(\.owner).sorted { ($0.pid, $0.fd) < ($1.pid, $1.fd) }
        }
    }

    private static func addressKey(_ netns: UInt64, _ proto: String, _ local: String, _ peer: String) -> String {
        "\(netns) \(proto) \(local) \(peer)"
    }
}
