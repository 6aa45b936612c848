@testable import BpfcpCore
import XCTest

/// The shared real-world cases for sockets: an unaccepted unix connection
/// with unread bytes, and a loopback TCP connection to another process.
final class SocketsCaseTests: XCTestCase {
    /// The listener has one connection that was never accepted, and its client
    /// wrote 46 bytes and closed.
    func testUnixListenerWithInflightConnection() throws {
        try requireBPF()
        let fixture = try Fixture(executable: "/usr/bin/env", arguments: ["python3", Fixture.casePath("bc10_unix_inflight.py")],
                                  readyPrefix: "pid")
        let fd = try XCTUnwrap(Int32(fixture.firstLine.split(separator: " ").last ?? ""), fixture.firstLine)
        let sockets = try SocketsKind.collectBPF(pid: fixture.pid)
        let listener = try XCTUnwrap(sockets.first { $0.fd == fd })

        XCTAssertEqual(listener.family, "unix")
        XCTAssertEqual(listener.state, "LISTEN")
        XCTAssertEqual(listener.local, "/tmp/bc10.sock")
        XCTAssertEqual(listener.acceptQueue, 1)
        XCTAssertEqual(listener.listenBacklog, 4)
        XCTAssertEqual(listener.pending.count, 1)
        XCTAssertEqual(listener.pending.first?.queuedBytes, 46)
        XCTAssertEqual(listener.pending.first?.peerInode, 0, "the client closed its end")
        XCTAssertTrue(SocketsKind.entry(listener).fields.contains { $0.name == "pending 1" && $0.value.hasPrefix("46 bytes") })

        let diag = try XCTUnwrap(try SocketsProc.collect(pid: fixture.pid).first { $0.fd == fd })
        XCTAssertEqual(diag.acceptQueue, listener.acceptQueue, "sock_diag UNIX_DIAG_RQLEN")
        XCTAssertEqual(diag.listenBacklog, listener.listenBacklog, "sock_diag UNIX_DIAG_RQLEN")
        XCTAssertEqual(diag.pending.map(\.peerInode), listener.pending.map(\.peerInode), "sock_diag UNIX_DIAG_ICONS")
    }

    /// A client connected to a python http.server on 127.0.0.1:18012 that
    /// waits for the rest of a half-sent request. The server is checked to
    /// be the only listener on the port before the client starts.
    func testTcpLoopbackToOtherProcess() throws {
        try requireBPF()
        let server = try startHTTPServer()
        let client = try Fixture(executable: "/usr/bin/env", arguments: ["python3", Fixture.casePath("bc13_tcp_loopback.py")],
                                 readyPrefix: "pid")
        let localPort = try XCTUnwrap(clientPort(client.firstLine), client.firstLine)
        let connection = try XCTUnwrap(try SocketsKind.collectBPF(pid: client.pid).first { $0.protocol == "tcp" })

        XCTAssertEqual(connection.family, "inet")
        XCTAssertEqual(connection.state, "ESTABLISHED")
        XCTAssertEqual(connection.local, "127.0.0.1:\(localPort)")
        XCTAssertEqual(connection.peer, "127.0.0.1:18012")
        XCTAssertEqual(connection.sendQueue, 0, "loopback acknowledged the 16 bytes at once")
        XCTAssertEqual(connection.recvQueue, 0)
        XCTAssertEqual(connection.peerOwners.map(\.pid), [server.pid])
        XCTAssertEqual(try SocketPeers.links(pid: client.pid).first?.peerPids, [server.pid])

        let accepted = try XCTUnwrap(try SocketsKind.collectBPF(pid: server.pid).first { $0.peer == connection.local })
        let clientTcp = try XCTUnwrap(connection.tcp)
        let serverTcp = try XCTUnwrap(accepted.tcp)
        XCTAssertEqual(accepted.local, "127.0.0.1:18012")
        XCTAssertEqual(clientTcp.sndUna, clientTcp.sndNxt)
        XCTAssertEqual(clientTcp.sndNxt, serverTcp.rcvNxt, "what the client sent is what the server received")
        XCTAssertEqual(clientTcp.rcvNxt, serverTcp.sndNxt)
        XCTAssertEqual(accepted.peerOwners.map(\.pid), [client.pid])

        let diag = try XCTUnwrap(try SocketsProc.collect(pid: client.pid).first { $0.fd == connection.fd })
        XCTAssertEqual(diag.state, connection.state, "sock_diag state")
        XCTAssertEqual(diag.sendQueue, connection.sendQueue, "sock_diag idiag_wqueue")
        XCTAssertEqual(diag.recvQueue, connection.recvQueue, "sock_diag idiag_rqueue")
        XCTAssertEqual(diag.tcp?.mss, clientTcp.mss, "tcp_info tcpi_snd_mss")
        XCTAssertEqual(diag.tcp?.sndWnd, clientTcp.sndWnd, "tcp_info tcpi_snd_wnd")
        XCTAssertEqual(diag.tcp?.rcvWnd, clientTcp.rcvWnd, "tcp_info tcpi_rcv_wnd")
        XCTAssertEqual(diag.tcp?.options, clientTcp.options, "tcp_info tcpi_options")
        XCTAssertTrue(clientTcp.options.contains("timestamps"))
    }

    /// Starts the BC13 peer and checks that it alone listens on port 18012,
    /// which the case's client connects to. Retries for a while in case
    /// another process, such as another test run, still listens there,
    /// because a client connected to it would show a stranger as its peer.
    private func startHTTPServer() throws -> Fixture {
        let directory = NSTemporaryDirectory() + "bpfcp-bc13-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        var lastError: Error?
        for _ in 0..<10 {
            do {
                let server = try Fixture(executable: "/usr/bin/env",
                                         arguments: ["python3", "-u", "-m", "http.server", "18012", "--bind", "127.0.0.1",
                                                     "--directory", directory],
                                         readyPrefix: "Serving", timeout: 10)
                let owners = try listenerOwners(port: 18012)
                if owners == [server.pid] { return server }
                server.stop()
                lastError = FixtureError("port 18012 has listeners in processes \(owners), expected only \(server.pid)")
            } catch {
                lastError = error
            }
            sleep(2)
        }
        throw lastError ?? FixtureError("http.server did not start on 127.0.0.1:18012")
    }

    /// Pids of the processes holding a TCP socket that listens on `port`
    /// in this network namespace, from /proc/net/tcp{,6} and every /proc/PID/fd.
    private func listenerOwners(port: UInt16) throws -> [Int32] {
        let listen = 0x0A
        let tables = try ProcNetTable.load("/proc/self/net/tcp").merging(try ProcNetTable.load("/proc/self/net/tcp6")) { a, _ in a }
        let inodes = Set(tables.filter { $0.value.localPort == port && $0.value.state == listen }.keys)
        var owners = Set<Int32>()
        let fm = FileManager.default
        for entry in try fm.contentsOfDirectory(atPath: "/proc") {
            guard let pid = Int32(entry), let fds = try? fm.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { continue }
            for fd in fds {
                guard let link = try? fm.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                      link.hasPrefix("socket:["), let inode = UInt64(link.dropFirst(8).dropLast()) else { continue }
                if inodes.contains(inode) { owners.insert(pid) }
            }
        }
        return owners.sorted()
    }

    /// Reads the local port from "pid N local ('127.0.0.1', PORT) peer (...)".
    private func clientPort(_ line: String) -> Int? {
        guard let start = line.range(of: "local ('127.0.0.1', "), let end = line[start.upperBound...].firstIndex(of: ")") else {
            return nil
        }
        return Int(line[start.upperBound..<end])
    }
}
