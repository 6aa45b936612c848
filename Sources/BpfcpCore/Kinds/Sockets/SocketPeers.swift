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

    /// Serializes the fill, run and clear of the requested-peer maps, which
    /// all callers of the shared sockets object use.
    private static let queryLock = NSLock()

    /// Lists the socket fds, of any process, that are the other end of a
    /// connection of `sockets`. One iter/task_file pass over every process
    /// emits only the sockets put in the requested-peer maps: unix peers by
    /// inode, TCP and UDP peers by their reversed address pair.
    /// With `pid`, only the fds of that process are visited.
    static func ownersBPF(of sockets: [bpfcp_socket], pid: Int32? = nil) throws -> [SocketOwnerRecord] {
        var unix = Set<UInt64>()
        var inet: [bpfcp_inet_peer_key] = []
        var seenInet = Set<[UInt8]>()
        for rec in sockets {
            if rec.family == SocketNames.afUnix && rec.peer_ino != 0 {
                unix.insert(rec.peer_ino)
            } else if (rec.family == SocketNames.afInet || rec.family == SocketNames.afInet6) && rec.peer_port != 0 {
                let key = peerKey(rec)
                if seenInet.insert(withUnsafeBytes(of: key) { Array($0) }).inserted { inet.append(key) }
            }
        }

        let object = try BPFRuntime.shared.object("sockets")
        let chunk = Int(BPFCP_REQUESTED_PEERS_MAX)
        let unixKeys = Array(unix)
        var owners: [SocketOwnerRecord] = []
        queryLock.lock()
        defer { queryLock.unlock() }
        for start in stride(from: 0, to: max(unixKeys.count, inet.count), by: chunk) {
            let unixPart = Array(unixKeys[min(start, unixKeys.count)..<min(start + chunk, unixKeys.count)])
            let inetPart = Array(inet[min(start, inet.count)..<min(start + chunk, inet.count)])
            owners += try runOwnerPass(object, unix: unixPart, inet: inetPart, pid: pid)
        }
        return owners
    }

    /// Fills the requested-peer maps, runs socket_owners once and empties the maps again.
    private static func runOwnerPass(_ object: BPFObject, unix: [UInt64],
                                     inet: [bpfcp_inet_peer_key], pid: Int32?) throws -> [SocketOwnerRecord] {
        let present: UInt8 = 1
        try object.fillMap("requested_unix_peers", keys: unix, value: present)
        defer { try? object.deleteKeys("requested_unix_peers", keys: unix) }
        try object.fillMap("requested_inet_peers", keys: inet, value: present)
        defer { try? object.deleteKeys("requested_inet_peers", keys: inet) }

        let reader = RecordReader(try object.iterate("socket_owners", pid: pid))
        let records = try reader.records().filter { Int($0.kind) == Int(BPFCP_REC_SOCKET_OWNER.rawValue) }
        return try records.map { ownerRecord(try reader.load($0, as: bpfcp_socket_owner.self)) }
    }

    /// The address pair of the socket at the other end of `rec`'s connection, with that socket's own address first.
    private static func peerKey(_ rec: bpfcp_socket) -> bpfcp_inet_peer_key {
        var key = bpfcp_inet_peer_key()
        key.netns = rec.netns
        key.local_addr = rec.peer_addr
        key.peer_addr = rec.local_addr
        key.local_port = rec.peer_port
        key.peer_port = rec.local_port
        key.family = rec.family
        key.protocol = rec.protocol
        return key
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
