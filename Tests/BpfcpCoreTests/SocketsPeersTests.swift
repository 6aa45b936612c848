@testable import BpfcpCore
import CBpfcpShim
import XCTest

/// The owners of a socket's peer when the peer is held by another process,
/// from the kernel-filtered owner pass, checked against the /proc scan.
final class SocketsPeersTests: XCTestCase {
    private func fd(_ fixture: Fixture, _ key: String) throws -> Int32 {
        Int32(try XCTUnwrap(fixture.int(key), "fixture printed no \(key)"))
    }

    func testPeersInChildProcessNamed() throws {
        try requireBPF()
        let fixture = try Fixture(c: "sockets_peers")
        let child = try fd(fixture, "child")
        let sockets = try SocketsKind.collectBPF(pid: fixture.pid)
        let unix = try XCTUnwrap(sockets.first { $0.fd == (try fd(fixture, "unix")) })
        let tcp = try XCTUnwrap(sockets.first { $0.fd == (try fd(fixture, "tcp")) })

        XCTAssertEqual(unix.peerOwners, [SocketOwner(pid: child, fd: try fd(fixture, "child_unix"), comm: "sockets_peers")])
        XCTAssertEqual(tcp.state, "ESTABLISHED")
        XCTAssertEqual(tcp.peerOwners, [SocketOwner(pid: child, fd: try fd(fixture, "child_tcp"), comm: "sockets_peers")])

        let proc = try SocketsProc.collect(pid: fixture.pid)
        XCTAssertEqual(proc.first { $0.fd == unix.fd }?.peerOwners, unix.peerOwners, "unix peer owners from /proc")
        XCTAssertEqual(proc.first { $0.fd == tcp.fd }?.peerOwners, tcp.peerOwners, "TCP peer owners from /proc")

        let childSockets = try SocketsKind.collectBPF(pid: child)
        let childTcp = try XCTUnwrap(childSockets.first { $0.fd == (try fd(fixture, "child_tcp")) })
        XCTAssertEqual(childTcp.peerOwners, [SocketOwner(pid: fixture.pid, fd: tcp.fd, comm: "sockets_peers")])
    }

    /// 8,300 socketpairs look up 16,600 unix peers, more than one pass of
    /// the owner lookup takes, so the lookup runs in several passes.
    func testMorePeersThanOnePass() throws {
        try requireBPF()
        let pairs = 8_300
        XCTAssertGreaterThan(2 * pairs, Int(BPFCP_REQUESTED_PEERS_MAX))
        let fixture = try Fixture(c: "sockets_peers", arguments: ["\(pairs)"])
        let sockets = try SocketsKind.collectBPF(pid: fixture.pid)
        let unix = sockets.filter { $0.family == "unix" }

        let byInode = Dictionary(uniqueKeysWithValues: sockets.map { ($0.inode, $0) })
        let pairEnds = unix.filter { socket in socket.peerInode.map { byInode[$0] != nil } ?? false }
        XCTAssertEqual(pairEnds.count, 2 * pairs, "sockets whose peer is in the same process")

        var wrong: [Int32] = []
        for socket in pairEnds {
            let peer = try XCTUnwrap(byInode[try XCTUnwrap(socket.peerInode)])
            if socket.peerOwners != [SocketOwner(pid: fixture.pid, fd: peer.fd, comm: "sockets_peers")] {
                wrong.append(socket.fd)
            }
        }
        XCTAssertEqual(wrong.count, 0, "fds whose peer owner is missing or wrong, first ones: \(wrong.prefix(10))")
    }
}
