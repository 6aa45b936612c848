import CBpfcpShim
import Foundation

/// Reads sockets without BPF: /proc/PID/fd for the socket inodes, sock_diag
/// for states, queues and unix peers, /proc/PID/net/netlink for netlink, and
/// getsockopt() on a pidfd_getfd() copy of each fd for options and addresses.
///
/// sock_diag runs in the target's network namespace. NOTE: each socket's
/// namespace is taken to be the process's, so peers in other namespaces are
/// not labelled, and a socket that belongs to another namespace than its
/// process (the server end of a unix connection made from another namespace)
/// has no sock_diag values. Sequence
/// numbers and the bytes of pending connections are never available here,
/// a unix datagram socket's receive queue counts the first datagram only,
/// and packet and other families show state "-".
public enum SocketsProc {
    public static func collect(pid: Int32) throws -> [Socket] {
        let fds = try socketFds(pid: pid)
        let netns = namespaceInode("/proc/\(pid)/ns/net")
        let diag = try diagTables(pid: pid, netns: netns)
        let netlink = NetlinkTable.load(pid: pid)

        var sockets = fds.map { fd, inode in
            SocketReader(pid: pid, fd: fd, inode: inode, netns: netns, diag: diag, netlink: netlink).read()
        }
        if sockets.contains(where: SocketPeers.mayHavePeer) {
            attachOwners(&sockets, diag: diag)
        }
        return sockets
    }

    /// Dumps the sockets of the target's network namespace. When it is ours,
    /// no namespace switch is needed, so a user without CAP_SYS_ADMIN can
    /// still list the sockets of their own processes.
    static func diagTables(pid: Int32, netns: UInt64) throws -> SockDiagTables {
        let path = "/proc/\(pid)/ns/net"
        let ours = netns != 0 && netns == namespaceInode("/proc/self/ns/net")
        return try SockDiagTables.load(netnsPath: ours ? nil : path)
    }

    /// Lists the fds of `pid` whose link reads "socket:[inode]", in fd order.
    static func socketFds(pid: Int32) throws -> [(Int32, UInt64)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else {
            throw BpfcpError.noSuchProcess(pid)
        }
        return names.compactMap { Int32($0) }.sorted().compactMap { fd in
            guard let link = ProcFS.readLink("/proc/\(pid)/fd/\(fd)") else { return nil }
            return socketInode(link).map { (fd, $0) }
        }
    }

    static func socketInode(_ link: [UInt8]) -> UInt64? {
        let text = String(decoding: link, as: UTF8.self)
        guard text.hasPrefix("socket:["), text.hasSuffix("]") else { return nil }
        return UInt64(text.dropFirst(8).dropLast())
    }

    static func namespaceInode(_ path: String) -> UInt64 {
        var st = stat()
        return stat(path, &st) == 0 ? UInt64(st.st_ino) : 0
    }

    /// Finds peer owners by scanning every process's fds, the /proc equivalent of the BPF owner pass.
    private static func attachOwners(_ sockets: inout [Socket], diag: SockDiagTables) {
        var owners: [SocketOwnerRecord] = []
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        for pid in pids {
            let comm = ((try? ProcFS.readBytes("/proc/\(pid)/comm")) ?? []).filter { $0 != 0x0A }
            let netns = namespaceInode("/proc/\(pid)/ns/net")
            for (fd, inode) in (try? socketFds(pid: pid)) ?? [] {
                owners.append(ownerRecord(SocketOwner(pid: pid, fd: fd, comm: Escape.bytes(comm)), inode: inode,
                                          netns: netns, diag: diag))
            }
        }
        SocketPeers.attachOwners(&sockets, owners: owners)
    }

    private static func ownerRecord(_ owner: SocketOwner, inode: UInt64, netns: UInt64, diag: SockDiagTables) -> SocketOwnerRecord {
        var record = SocketOwnerRecord(owner: owner, inode: inode, netns: netns, family: "", protocol: "",
                                       peerInode: 0, local: "", peer: "")
        if let unix = diag.unix[inode] {
            record.family = "unix"
            record.peerInode = unix.peer_ino
        } else if let inet = diag.inet[inode] {
            record.family = SocketNames.family(UInt16(inet.family))
            record.protocol = SocketNames.protocolName(family: UInt16(inet.family), type: 0, UInt16(inet.protocol))
            record.local = SockDiagTables.address(inet, local: true)
            record.peer = SockDiagTables.address(inet, local: false)
        }
        return record
    }
}

/// sock_diag dumps of unix, TCP and UDP sockets, keyed by inode.
struct SockDiagTables {
    var unix: [UInt64: bpfcp_diag_socket] = [:]
    var inet: [UInt64: bpfcp_diag_socket] = [:]

    /// Dumps the sockets of the network namespace at `netnsPath`, or of this process's when nil.
    static func load(netnsPath: String? = nil) throws -> SockDiagTables {
        var tables = SockDiagTables()
        for socket in try dump(netnsPath, family: AF_UNIX, protocol: 0) where socket.ino != 0 {
            tables.unix[socket.ino] = socket
        }
        for family in [AF_INET, AF_INET6] {
            for proto in [Int32(IPPROTO_TCP), Int32(IPPROTO_UDP)] {
                for socket in try dump(netnsPath, family: family, protocol: proto) where socket.ino != 0 {
                    tables.inet[socket.ino] = socket
                }
            }
        }
        return tables
    }

    /// Runs one sock_diag dump, retrying with a larger buffer when sockets were left out.
    static func dump(_ netnsPath: String?, family: Int32, protocol: Int32) throws -> [bpfcp_diag_socket] {
        var capacity = 4096
        while true {
            var out = [bpfcp_diag_socket](repeating: bpfcp_diag_socket(), count: capacity)
            let n = bpfcp_sock_diag(netnsPath, family, `protocol`, &out, capacity)
            if let netnsPath, n == -Int(EPERM) || n == -Int(EACCES) {
                throw KindUnavailable("entering \(netnsPath) needs root; run as root to list these sockets")
            }
            guard n >= 0 else {
                let namespace = netnsPath ?? "this network namespace"
                throw BpfcpError.system("sock_diag dump of family \(family) protocol \(`protocol`) in \(namespace)", Int32(-n))
            }
            if n <= capacity { return Array(out.prefix(n)) }
            capacity = n + 256
        }
    }

    static func address(_ s: bpfcp_diag_socket, local: Bool) -> String {
        let bytes = withUnsafeBytes(of: local ? s.local_addr : s.peer_addr) { Array($0) }
        return SocketNames.inetAddress(family: UInt16(s.family), bytes: bytes, port: local ? s.local_port : s.peer_port)
    }
}

/// Rows of /proc/PID/net/netlink, which reflects the target's network namespace.
struct NetlinkTable {
    struct Row {
        var protocolNumber: UInt16
        var portid: UInt32
        var groups: UInt32
        var rmem: UInt32
        var wmem: UInt32
    }

    var rows: [UInt64: Row] = [:]

    static func load(pid: Int32) -> NetlinkTable {
        var table = NetlinkTable()
        let text = (try? ProcFS.readText("/proc/\(pid)/net/netlink")) ?? ""
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ")
            guard f.count >= 10, let inode = UInt64(f[9]) else { continue }
            table.rows[inode] = Row(protocolNumber: UInt16(f[1]) ?? 0, portid: UInt32(f[2]) ?? 0,
                                    groups: UInt32(f[3], radix: 16) ?? 0, rmem: UInt32(f[4]) ?? 0,
                                    wmem: UInt32(f[5]) ?? 0)
        }
        return table
    }
}
