/// One socket file descriptor of a process.
public struct Socket: Codable, Sendable, Equatable {
    public var fd: Int32
    /// Socket inode, as in the fd's link "socket:[inode]".
    public var inode: UInt64
    /// Inode of the socket's network namespace, as in "net:[inode]". The server end of a
    /// unix connection lives in the namespace of the connecting socket, so it can differ
    /// from `processNetns`.
    public var netns: UInt64
    /// Inode of the network namespace of the process holding the fd.
    public var processNetns: UInt64
    /// "unix", "inet", "inet6", "netlink", "packet", or another AF_ name in lower case.
    public var family: String
    /// "stream", "dgram", "seqpacket", "raw"...
    public var type: String
    /// "tcp", "udp", a netlink protocol such as "route", an ethertype for packet sockets, or "-".
    public var `protocol`: String
    /// TCP state names for TCP, "CONNECTED", "UNCONNECTED", "LISTEN"... for the others.
    public var state: String
    /// Local address: "127.0.0.1:8080", "[::1]:80", a unix path, "@name" for an abstract unix name,
    /// "portid N" for netlink, "-" when unbound. Path bytes are escaped.
    public var local: String
    /// Peer address in the same forms, "*:*" for an unconnected inet socket.
    public var peer: String
    /// Bytes waiting to be read, or for a listener the connections waiting to be accepted (as ss(8) shows).
    /// For a unix datagram socket all queued datagrams count, where ss(8) shows only the first one.
    public var recvQueue: UInt32
    /// Unix sockets: messages (skbs) waiting to be read, nil when the source cannot count them (sock_diag).
    public var recvMessages: UInt32?
    /// Unix sockets: file descriptors passed with SCM_RIGHTS and not yet received, those of a
    /// listener's pending connections included; nil when the source cannot count them (sock_diag).
    public var inflightFds: UInt32?
    /// As ss(8) shows it: for TCP the bytes not yet acknowledged, for other sockets the memory that sent
    /// but unread data takes (sk_wmem_alloc, overhead included), for a listener its backlog.
    public var sendQueue: UInt32
    /// Set when a queue was too long to walk in full, so the byte counts are lower bounds.
    public var queueTruncated: Bool
    /// "SHUT_RD", "SHUT_WR" for the directions shut down.
    public var shutdown: [String]
    /// Socket options that are on, by name (SO_REUSEADDR, SO_KEEPALIVE, TCP_NODELAY...).
    public var options: [String]
    /// SO_RCVBUF and SO_SNDBUF as getsockopt() returns them (the kernel doubles what was set).
    public var receiveBuffer: Int32
    public var sendBuffer: Int32
    public var priority: UInt32
    public var mark: UInt32
    public var receiveLowWatermark: Int32
    /// Listening sockets: the backlog given to listen(), connections waiting to be accepted, and those connections.
    public var listenBacklog: UInt32?
    public var acceptQueue: UInt32?
    public var pending: [PendingConnection]
    /// TCP connection state; nil for listeners, which have no connection.
    public var tcp: TCPState?
    /// Unix sockets: inode of the connected peer, 0 when the peer was closed.
    public var peerInode: UInt64?
    /// Set when the peer socket belongs to a network namespace other than the process's: "net:[inode]".
    public var peerNetns: String?
    /// Processes on this machine that hold the peer socket, the same process included.
    public var peerOwners: [SocketOwner]
}

/// A connection waiting in a listener's accept queue.
public struct PendingConnection: Codable, Sendable, Equatable {
    /// Inode of the connecting unix socket, 0 once it was closed or for TCP.
    public var peerInode: UInt64
    /// Unread bytes the connection already received, nil when the source cannot see them (sock_diag).
    public var queuedBytes: UInt32?
    public var queuedMessages: UInt32?
}

/// TCP connection state. Sequence numbers are nil when the source cannot read them (sock_diag).
public struct TCPState: Codable, Sendable, Equatable {
    public var sndNxt: UInt32?
    public var sndUna: UInt32?
    public var rcvNxt: UInt32?
    /// Send window the peer advertised and the receive window last advertised, in bytes.
    public var sndWnd: UInt32
    public var rcvWnd: UInt32
    /// Current sending MSS (mss_cache, tcpi_snd_mss).
    public var mss: UInt32
    /// Options negotiated on the handshake: "timestamps", "sack", "window-scale".
    public var options: [String]
    public var sndWscale: UInt8
    public var rcvWscale: UInt8
    /// Smoothed round-trip time in microseconds, nil when the source does not give it.
    public var srttUs: UInt32?
}

/// A process holding a socket fd.
public struct SocketOwner: Codable, Sendable, Equatable, Hashable {
    public var pid: Int32
    public var fd: Int32
    /// Process name, escaped.
    public var comm: String
}
