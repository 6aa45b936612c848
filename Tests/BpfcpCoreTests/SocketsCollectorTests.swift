@testable import BpfcpCore
import XCTest

final class SocketsCollectorTests: XCTestCase {
    private func socket(_ sockets: [Socket], _ fixture: Fixture, _ key: String) throws -> Socket {
        let fd = Int32(try XCTUnwrap(fixture.int(key), "fixture printed no \(key)"))
        return try XCTUnwrap(sockets.first { $0.fd == fd }, "no socket at fd \(fd) (\(key))")
    }

    func testUnixSocketpairAndAbstractName() throws {
        try requireBPF()
        let fixture = try Fixture(c: "sockets_basic")
        let sockets = try SocketsKind.collectBPF(pid: fixture.pid)
        let writer = try socket(sockets, fixture, "pair0")
        let reader = try socket(sockets, fixture, "pair1")

        XCTAssertEqual(reader.family, "unix")
        XCTAssertEqual(reader.type, "stream")
        XCTAssertEqual(reader.state, "CONNECTED")
        XCTAssertEqual(Int64(reader.recvQueue), fixture.int("pair_bytes"))
        XCTAssertEqual(writer.recvQueue, 0)
        XCTAssertEqual(reader.peerInode, writer.inode)
        XCTAssertEqual(writer.peerInode, reader.inode)
        XCTAssertEqual(reader.peerOwners, [SocketOwner(pid: fixture.pid, fd: writer.fd, comm: "sockets_basic")])
        XCTAssertNil(reader.peerNetns)

        let abstract = try socket(sockets, fixture, "abstract_fd")
        XCTAssertEqual(abstract.type, "dgram")
        XCTAssertEqual(abstract.local, "@" + (try XCTUnwrap(fixture.values["abstract"])))
        XCTAssertEqual(abstract.state, "UNCONNECTED")
        XCTAssertEqual(abstract.peer, "-")
    }

    func testUnixQueuesPartlyReadAndDatagrams() throws {
        try requireBPF()
        let fixture = try Fixture(c: "sockets_basic")
        let sockets = try SocketsKind.collectBPF(pid: fixture.pid)
        let diag = try SocketsProc.collect(pid: fixture.pid)

        let partial = try socket(sockets, fixture, "partial")
        XCTAssertEqual(Int64(partial.recvQueue), fixture.int("partial_left"), "bytes a reader consumed do not count")
        XCTAssertEqual(partial.recvMessages, 1)
        XCTAssertEqual(try socket(diag, fixture, "partial").recvQueue, partial.recvQueue, "sock_diag UNIX_DIAG_RQLEN")

        let rights = try socket(sockets, fixture, "rights")
        XCTAssertEqual(Int64(try XCTUnwrap(rights.inflightFds)), fixture.int("rights_fds"))
        XCTAssertEqual(rights.recvMessages, 1)
        XCTAssertEqual(partial.inflightFds, 0)

        let datagrams = try socket(sockets, fixture, "dgram")
        XCTAssertEqual(datagrams.type, "dgram")
        XCTAssertEqual(Int64(datagrams.recvQueue), fixture.int("dgram_total"))
        XCTAssertEqual(datagrams.recvMessages, 2)
        XCTAssertEqual(Int64(try socket(diag, fixture, "dgram").recvQueue), fixture.int("dgram_first"),
                       "sock_diag reports the first datagram only")
    }

    func testUdpNetlinkAndPacketSockets() throws {
        try requireBPF()
        let fixture = try Fixture(c: "sockets_basic")
        let sockets = try SocketsKind.collectBPF(pid: fixture.pid)

        let udp = try socket(sockets, fixture, "udp")
        XCTAssertEqual(udp.family, "inet")
        XCTAssertEqual(udp.protocol, "udp")
        XCTAssertEqual(udp.local, "127.0.0.1:\(try XCTUnwrap(fixture.int("udp_port")))")
        XCTAssertEqual(udp.peer, "*:*")
        XCTAssertEqual(udp.state, "UNCONNECTED")
        XCTAssertEqual(udp.options, ["SO_REUSEADDR", "SO_BROADCAST"])
        XCTAssertEqual(udp.receiveBuffer, 131072, "the kernel doubles SO_RCVBUF 65536")

        let netlink = try socket(sockets, fixture, "netlink")
        XCTAssertEqual(netlink.family, "netlink")
        XCTAssertEqual(netlink.type, "raw")
        XCTAssertEqual(netlink.protocol, "route")
        XCTAssertEqual(netlink.local, "portid \(fixture.pid) groups 0x1")
        XCTAssertEqual(netlink.peer, "portid 0")

        let packet = try socket(sockets, fixture, "packet")
        XCTAssertEqual(packet.family, "packet")
        XCTAssertEqual(packet.type, "dgram")
        XCTAssertEqual(packet.protocol, "ethertype 0x0000")
    }

    func testTcpListenerWithPendingConnections() throws {
        try requireBPF()
        let fixture = try Fixture(c: "sockets_basic")
        let sockets = try SocketsKind.collectBPF(pid: fixture.pid)
        let listener = try socket(sockets, fixture, "listener")

        XCTAssertEqual(listener.state, "LISTEN")
        XCTAssertEqual(listener.local, "127.0.0.1:\(try XCTUnwrap(fixture.int("listen_port")))")
        XCTAssertEqual(listener.listenBacklog.map(Int64.init), fixture.int("backlog"))
        XCTAssertEqual(listener.acceptQueue, 2)
        XCTAssertEqual(listener.recvQueue, 2)
        XCTAssertEqual(listener.options, ["SO_REUSEADDR", "SO_KEEPALIVE"])
        XCTAssertNil(listener.tcp)
        XCTAssertEqual(listener.pending.map(\.queuedBytes), [UInt32(try XCTUnwrap(fixture.int("pending_bytes"))), 0])

        let client = try socket(sockets, fixture, "pending1")
        XCTAssertEqual(client.state, "ESTABLISHED")
        XCTAssertEqual(client.peer, listener.local)
        let tcp = try XCTUnwrap(client.tcp)
        XCTAssertEqual(tcp.sndNxt, tcp.sndUna, "all 11 bytes were acknowledged")
        XCTAssertEqual(client.sendQueue, 0)
    }

    func testIpv6LoopbackConnection() throws {
        try requireBPF()
        let fixture = try Fixture(c: "sockets_basic")
        let sockets = try SocketsKind.collectBPF(pid: fixture.pid)
        let client = try socket(sockets, fixture, "v6_client")
        let server = try socket(sockets, fixture, "v6_server")
        let port = try XCTUnwrap(fixture.int("v6_port"))

        XCTAssertEqual(server.family, "inet6")
        XCTAssertEqual(server.local, "[::1]:\(port)")
        XCTAssertEqual(client.peer, "[::1]:\(port)")
        XCTAssertEqual(client.local, server.peer)
        XCTAssertEqual(Int64(server.recvQueue), fixture.int("v6_bytes"))
        XCTAssertTrue(client.options.contains("TCP_NODELAY"))
        XCTAssertTrue(server.options.contains("IPV6_V6ONLY"), "the accepted socket inherits IPV6_V6ONLY")

        let clientTcp = try XCTUnwrap(client.tcp)
        let serverTcp = try XCTUnwrap(server.tcp)
        XCTAssertEqual(clientTcp.sndNxt, serverTcp.rcvNxt)
        XCTAssertEqual(clientTcp.rcvNxt, serverTcp.sndNxt)
        XCTAssertEqual(clientTcp.sndNxt, clientTcp.sndUna)
        XCTAssertEqual(client.peerOwners.map(\.fd), [server.fd])
        XCTAssertEqual(try SocketPeers.links(pid: fixture.pid).first { $0.fd == client.fd }?.peerPids, [fixture.pid])
    }

    /// sock_diag, getsockopt() on a pidfd_getfd() copy and /proc/PID/net/netlink
    /// must give the same values as BPF, sequence numbers and pending bytes aside.
    func testBpfMatchesSockDiagOracle() throws {
        try requireBPF()
        let fixture = try Fixture(c: "sockets_basic")
        let bpf = try SocketsKind.collectBPF(pid: fixture.pid)
        let proc = try SocketsProc.collect(pid: fixture.pid)
        XCTAssertEqual(bpf.map(\.fd), proc.map(\.fd))

        for (a, b) in zip(bpf, proc) {
            XCTAssertEqual(comparable(a), comparable(b), "fd \(a.fd) differs between BPF and sock_diag")
        }
    }

    func testBpfMatchesProcNetTables() throws {
        try requireBPF()
        let fixture = try Fixture(c: "sockets_basic")
        let sockets = try SocketsKind.collectBPF(pid: fixture.pid)
        let tcp = try ProcNetTable.load("/proc/\(fixture.pid)/net/tcp")
            .merging(try ProcNetTable.load("/proc/\(fixture.pid)/net/tcp6")) { first, _ in first }
        let udp = try ProcNetTable.load("/proc/\(fixture.pid)/net/udp")
        let unix = try ProcNetTable.loadUnix("/proc/\(fixture.pid)/net/unix")

        for s in sockets where s.protocol == "tcp" || s.protocol == "udp" {
            let row = try XCTUnwrap((s.protocol == "tcp" ? tcp : udp)[s.inode], "fd \(s.fd) not in /proc/net")
            XCTAssertEqual(row.localPort, UInt16(s.local.split(separator: ":").last!) ?? 0, "fd \(s.fd)")
            XCTAssertEqual(row.state, s.state == "UNCONNECTED" ? 7 : stateNumber(s.state), "fd \(s.fd)")
            if s.state != "LISTEN" {
                XCTAssertEqual(row.rxQueue, s.recvQueue, "fd \(s.fd)")
                XCTAssertEqual(row.txQueue, s.sendQueue, "fd \(s.fd)")
            }
        }
        for s in sockets where s.family == "unix" {
            let row = try XCTUnwrap(unix[s.inode], "fd \(s.fd) not in /proc/net/unix")
            XCTAssertEqual(row.path, s.local == "-" ? "" : s.local, "fd \(s.fd)")
            XCTAssertEqual(row.connected, s.state == "CONNECTED", "fd \(s.fd)")
        }
    }

    func testEntryNamesEveryField() throws {
        try requireBPF()
        let fixture = try Fixture(c: "sockets_basic")
        let sockets = try SocketsKind.collectBPF(pid: fixture.pid)
        let entry = SocketsKind.entry(try socket(sockets, fixture, "pair1"))

        XCTAssertEqual(entry.cells.count, SocketsKind.columns.count)
        XCTAssertEqual(entry.cells[0], "\(try XCTUnwrap(fixture.int("pair1")))")
        XCTAssertEqual(entry.cells[6], "37")
        XCTAssertTrue(entry.cells[5].contains("[\(fixture.pid) sockets_basic fd \(try XCTUnwrap(fixture.int("pair0")))]"))
        XCTAssertTrue(entry.fields.contains(Field("state", "CONNECTED")))
        XCTAssertTrue(entry.fields.contains(Field("receive queue", "37")))
    }

    /// Peer links read back from a dump's JSON items must match a live collection.
    func testPeerLinksFromDump() throws {
        try requireBPF()
        let fixture = try Fixture(c: "sockets_basic")
        let dump = try Dumper.dump(pid: fixture.pid, kinds: [try XCTUnwrap(KindRegistry.named("sockets"))])
        let links = try SocketPeers.links(in: dump)
        let pair0 = Int32(try XCTUnwrap(fixture.int("pair0")))
        let pair1 = Int32(try XCTUnwrap(fixture.int("pair1")))

        XCTAssertEqual(links, try SocketPeers.links(pid: fixture.pid))
        XCTAssertEqual(links.first { $0.fd == pair0 }?.peerOwners, [SocketOwner(pid: fixture.pid, fd: pair1, comm: "sockets_basic")])
        XCTAssertEqual(links.first { $0.fd == pair0 }?.peerPids, [fixture.pid])
        XCTAssertNil(links.first { Int64($0.fd) == fixture.int("udp") }, "an unconnected socket has no peer")
    }

    private func stateNumber(_ name: String) -> Int {
        ["ESTABLISHED": 1, "SYN_SENT": 2, "CLOSE": 7, "LISTEN": 10][name] ?? -1
    }

    /// Clears the fields that only BPF can read: sequence numbers, pending bytes, message and
    /// fd counts, the total of a unix datagram queue, and the state of other families.
    private func comparable(_ s: Socket) -> Socket {
        var copy = s
        copy.queueTruncated = false
        copy.recvMessages = nil
        copy.inflightFds = nil
        if s.family == "unix" && s.type == "dgram" {
            copy.recvQueue = 0
        }
        if !["unix", "inet", "inet6", "netlink"].contains(s.family) {
            copy.state = "-"
        }
        if var tcp = copy.tcp {
            tcp.sndNxt = nil
            tcp.sndUna = nil
            tcp.rcvNxt = nil
            copy.tcp = tcp
        }
        copy.pending = copy.family == "unix" ? copy.pending.map {
            PendingConnection(peerInode: $0.peerInode, queuedBytes: nil, queuedMessages: nil)
        } : []
        return copy
    }
}
