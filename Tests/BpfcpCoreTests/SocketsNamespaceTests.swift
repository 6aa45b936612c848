@testable import BpfcpCore
import XCTest

final class SocketsNamespaceTests: XCTestCase {
    private func namespaceInode(_ pid: Int32) throws -> UInt64 {
        var st = stat()
        guard stat("/proc/\(pid)/ns/net", &st) == 0 else { throw FixtureError("stat of /proc/\(pid)/ns/net failed: the process exited") }
        return UInt64(st.st_ino)
    }

    /// The child connected from a new network namespace, and the kernel creates
    /// the server end of a unix connection in the connecting socket's namespace.
    /// So the parent holds a socket of the child's namespace whose peer is there
    /// too, and that peer is labelled as outside the parent's namespace.
    func testUnixPeerInOtherNamespaceLabelled() throws {
        try requireBPF()
        let fixture = try Fixture(c: "sockets_netns")
        let child = Int32(try XCTUnwrap(fixture.int("child")))
        let connFd = Int32(try XCTUnwrap(fixture.int("conn")))
        let parentNetns = try namespaceInode(fixture.pid)
        let childNetns = try namespaceInode(child)
        XCTAssertNotEqual(parentNetns, childNetns, "the child did not move to a new network namespace")

        let conn = try XCTUnwrap(try SocketsKind.collectBPF(pid: fixture.pid).first { $0.fd == connFd })
        XCTAssertEqual(conn.processNetns, parentNetns)
        XCTAssertEqual(conn.netns, childNetns)
        XCTAssertEqual(conn.peerNetns, "net:[\(childNetns)]")
        XCTAssertEqual(Int64(conn.recvQueue), fixture.int("child_bytes"))
        XCTAssertEqual(conn.peerOwners.map(\.pid), [child])
        XCTAssertTrue(SocketsKind.entry(conn).cells[5].contains("other network namespace net:[\(childNetns)]"))
        XCTAssertTrue(SocketsKind.entry(conn).fields.contains(Field("peer network namespace", "other: net:[\(childNetns)]")))

        XCTAssertTrue(SocketsKind.entry(conn).fields.contains(
            Field("network namespace", "net:[\(childNetns)] (the process is in net:[\(parentNetns)])")))

        // The child also inherited the listener, so pick the connected socket.
        let childSocket = try XCTUnwrap(try SocketsKind.collectBPF(pid: child).first { $0.peerInode != nil })
        XCTAssertEqual(childSocket.netns, childNetns)
        XCTAssertEqual(childSocket.processNetns, childNetns)
        XCTAssertNil(childSocket.peerNetns, "the peer socket is in the child's namespace, although its owner is not")
        XCTAssertEqual(childSocket.peerInode, conn.inode)
        XCTAssertEqual(childSocket.peerOwners.map(\.pid), [fixture.pid])
    }

    /// The /proc collector must query sock_diag inside the child's namespace,
    /// where the child's socket lives, or it finds no state for it.
    func testProcCollectorQueriesTargetNamespace() throws {
        try requireBPF()
        let fixture = try Fixture(c: "sockets_netns")
        let child = Int32(try XCTUnwrap(fixture.int("child")))
        let bpf = try XCTUnwrap(try SocketsKind.collectBPF(pid: child).first { $0.peerInode != nil })
        let proc = try XCTUnwrap(try SocketsProc.collect(pid: child).first { $0.fd == bpf.fd })

        XCTAssertEqual(proc.state, "CONNECTED")
        XCTAssertEqual(proc.peerInode, bpf.peerInode)
        XCTAssertEqual(proc.sendQueue, bpf.sendQueue)
        XCTAssertEqual(proc.peerOwners.map(\.pid), [fixture.pid])
    }

    /// Sockets in the same namespace as their peer carry no label.
    func testSameNamespacePeerUnlabelled() throws {
        try requireBPF()
        let fixture = try Fixture(c: "sockets_basic")
        let sockets = try SocketsKind.collectBPF(pid: fixture.pid)
        let reader = try XCTUnwrap(sockets.first { Int64($0.fd) == fixture.int("pair1") })

        XCTAssertNil(reader.peerNetns)
        XCTAssertEqual(reader.netns, try namespaceInode(fixture.pid))
    }
}
