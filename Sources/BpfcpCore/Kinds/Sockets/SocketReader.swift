import CBpfcpShim
import Foundation

/// Builds one `Socket` from a pidfd_getfd() copy of the fd (options and
/// addresses through getsockopt and getsockname) and the sock_diag tables.
struct SocketReader {
    let pid: Int32
    let fd: Int32
    let inode: UInt64
    let netns: UInt64
    let diag: SockDiagTables
    let netlink: NetlinkTable

    func read() -> Socket {
        var socket = Socket(
            fd: fd, inode: inode, netns: netns, processNetns: netns, family: "-", type: "-", protocol: "-", state: "-", local: "-",
            peer: "-", recvQueue: 0, recvMessages: nil, inflightFds: nil, sendQueue: 0, queueTruncated: false, shutdown: [], options: [],
            receiveBuffer: 0, sendBuffer: 0, priority: 0, mark: 0, receiveLowWatermark: 0, listenBacklog: nil,
            acceptQueue: nil, pending: [], tcp: nil, peerInode: nil, peerNetns: nil, peerOwners: []
        )
        let copy = bpfcp_pidfd_getfd(pid, fd)
        guard copy >= 0 else { return socket }
        defer { close(copy) }

        let family = UInt16(intOption(copy, SOL_SOCKET, SO_DOMAIN))
        let type = UInt16(intOption(copy, SOL_SOCKET, SO_TYPE))
        let protocolNumber = UInt16(intOption(copy, SOL_SOCKET, SO_PROTOCOL))
        socket.family = SocketNames.family(family)
        socket.type = SocketNames.type(type)
        socket.protocol = SocketNames.protocolName(family: family, type: type, protocolNumber)
        readCommonOptions(copy, family: family, into: &socket)

        switch family {
        case SocketNames.afUnix: readUnix(copy, into: &socket)
        case SocketNames.afInet, SocketNames.afInet6: readInet(copy, family: family, into: &socket)
        case SocketNames.afNetlink: readNetlink(copy, into: &socket)
        default: break
        }
        return socket
    }

    private func readCommonOptions(_ copy: Int32, family: UInt16, into socket: inout Socket) {
        var on: [String] = []
        let flags: [(Int32, Int32, String)] = [
            (SOL_SOCKET, SO_REUSEADDR, "SO_REUSEADDR"), (SOL_SOCKET, SO_REUSEPORT, "SO_REUSEPORT"),
            (SOL_SOCKET, SO_KEEPALIVE, "SO_KEEPALIVE"), (SOL_SOCKET, SO_BROADCAST, "SO_BROADCAST"),
            (SOL_SOCKET, SO_OOBINLINE, "SO_OOBINLINE"), (SOL_SOCKET, SO_TIMESTAMP, "SO_TIMESTAMP"),
            (SOL_SOCKET, SO_PASSCRED, "SO_PASSCRED"), (SOL_SOCKET, 60, "SO_ZEROCOPY"),
            (Int32(IPPROTO_IPV6), IPV6_V6ONLY, "IPV6_V6ONLY"),
            (Int32(IPPROTO_TCP), TCP_NODELAY, "TCP_NODELAY"), (Int32(IPPROTO_TCP), 3, "TCP_CORK"),
        ]
        for (level, name, label) in flags {
            if level == Int32(IPPROTO_IPV6) && family != SocketNames.afInet6 { continue }
            if level == Int32(IPPROTO_TCP) && socket.protocol != "tcp" { continue }
            if intOption(copy, level, name) != 0 { on.append(label) }
        }
        var linger = linger()
        var length = socklen_t(MemoryLayout<linger>.size)
        if getsockopt(copy, SOL_SOCKET, SO_LINGER, &linger, &length) == 0 && linger.l_onoff != 0 {
            on.append("SO_LINGER")
        }
        socket.options = SocketNames.allOptions.filter { on.contains($0) }
        socket.receiveBuffer = intOption(copy, SOL_SOCKET, SO_RCVBUF)
        socket.sendBuffer = intOption(copy, SOL_SOCKET, SO_SNDBUF)
        socket.priority = UInt32(bitPattern: intOption(copy, SOL_SOCKET, SO_PRIORITY))
        socket.mark = UInt32(bitPattern: intOption(copy, SOL_SOCKET, SO_MARK))
        socket.receiveLowWatermark = intOption(copy, SOL_SOCKET, SO_RCVLOWAT)
    }

    private func readUnix(_ copy: Int32, into socket: inout Socket) {
        socket.local = SocketNames.unixName(unixName(copy, peer: false))
        guard let entry = diag.unix[inode] else { return }
        socket.state = SocketNames.state(family: SocketNames.afUnix, protocolName: "-", entry.state)
        socket.shutdown = SocketNames.shutdown(entry.shutdown)
        socket.recvQueue = entry.rqueue
        socket.sendQueue = entry.wqueue

        if entry.state == 10 {
            socket.listenBacklog = entry.wqueue
            socket.acceptQueue = entry.rqueue
            let icons = withUnsafeBytes(of: entry.icons) { Array($0.bindMemory(to: UInt64.self)) }
            socket.pending = icons.prefix(Int(min(entry.icons_count, UInt32(BPFCP_DIAG_MAX_ICONS)))).map {
                PendingConnection(peerInode: $0, queuedBytes: nil, queuedMessages: nil)
            }
            return
        }
        let peerName = unixName(copy, peer: true)
        if entry.peer_ino != 0 || !peerName.isEmpty {
            socket.peerInode = entry.peer_ino
            socket.peer = peerName.isEmpty ? "socket:[\(entry.peer_ino)]" : SocketNames.unixName(peerName)
        }
    }

    private func readInet(_ copy: Int32, family: UInt16, into socket: inout Socket) {
        socket.local = inetName(copy, family: family, peer: false) ?? socket.local
        socket.peer = inetName(copy, family: family, peer: true) ?? SocketNames.inetAddress(
            family: family, bytes: [UInt8](repeating: 0, count: 16), port: 0)
        if let entry = diag.inet[inode] {
            socket.state = SocketNames.state(family: family, protocolName: socket.protocol, entry.state)
            socket.shutdown = SocketNames.shutdown(entry.shutdown)
            socket.recvQueue = entry.rqueue
            socket.sendQueue = entry.wqueue
            if socket.protocol == "tcp" && entry.state == 10 {
                socket.listenBacklog = entry.wqueue
                socket.acceptQueue = entry.rqueue
            }
            if entry.has_tcp_info != 0 && socket.type == "stream" && entry.state != 10 {
                socket.tcp = TCPState(
                    sndNxt: nil, sndUna: nil, rcvNxt: nil, sndWnd: entry.snd_wnd, rcvWnd: entry.rcv_wnd,
                    mss: entry.snd_mss, options: SocketNames.tcpOptions(entry.tcp_options),
                    sndWscale: entry.snd_wscale, rcvWscale: entry.rcv_wscale, srttUs: entry.rtt_us
                )
            }
        }
    }

    private func readNetlink(_ copy: Int32, into socket: inout Socket) {
        var peerPortid: UInt32 = 0
        var peerGroups: UInt32 = 0
        _ = bpfcp_netlink_peer(copy, &peerPortid, &peerGroups)
        let row = netlink.rows[inode]
        let groups = row?.groups ?? 0

        socket.local = "portid \(row?.portid ?? 0)" + (groups != 0 ? " groups " + Format.hex(UInt64(groups)) : "")
        socket.peer = peerGroups != 0 ? "group \(peerGroups)" : "portid \(peerPortid)"
        socket.state = SocketNames.state(family: SocketNames.afNetlink, protocolName: socket.protocol,
                                         peerPortid != 0 || peerGroups != 0 ? 1 : 0)
        socket.recvQueue = row?.rmem ?? 0
        socket.sendQueue = row?.wmem ?? 0
    }

    private func intOption(_ copy: Int32, _ level: Int32, _ name: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(copy, level, name, &value, &length) == 0 ? value : 0
    }

    /// The bytes of sun_path that getsockname/getpeername return, empty when unnamed or not connected.
    private func unixName(_ copy: Int32, peer: Bool) -> [UInt8] {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let rc = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                peer ? getpeername(copy, $0, &length) : getsockname(copy, $0, &length)
            }
        }
        let pathLength = Int(length) - MemoryLayout<sa_family_t>.size
        guard rc == 0, pathLength > 0 else { return [] }
        return withUnsafeBytes(of: address.sun_path) { Array($0.prefix(pathLength)) }
    }

    private func inetName(_ copy: Int32, family: UInt16, peer: Bool) -> String? {
        var storage = sockaddr_in6()
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                peer ? getpeername(copy, $0, &length) : getsockname(copy, $0, &length)
            }
        }
        guard rc == 0 else { return nil }
        if family == SocketNames.afInet {
            let v4 = withUnsafeBytes(of: storage) { $0.loadUnaligned(as: sockaddr_in.self) }
            let bytes = withUnsafeBytes(of: v4.sin_addr) { Array($0) } + [UInt8](repeating: 0, count: 12)
            return SocketNames.inetAddress(family: family, bytes: bytes, port: UInt16(bigEndian: v4.sin_port))
        }
        let bytes = withUnsafeBytes(of: storage.sin6_addr) { Array($0) }
        return SocketNames.inetAddress(family: family, bytes: bytes, port: UInt16(bigEndian: storage.sin6_port))
    }
}
