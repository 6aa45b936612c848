@testable import BpfcpCore
import Foundation
import XCTest

/// Restore of the shared socket cases that it must reject by name: an
/// unaccepted unix connection with unread bytes, and an established TCP
/// connection to another process. Each is checkpointed without --kill, and
/// the rejection must leave the target as it was.
final class SocketCaseRestoreTests: XCTestCase {
    func testUnacceptedConnectionRejected() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let target = try CaseProcess(["python3", Fixture.casePath("bc10_unix_inflight.py")], output: dir + "/bc10.out")
        defer { target.stop() }
        _ = try Checkpointer.dump(pid: target.pid, to: dir + "/image", options: CaptureOptions(), kill: false)

        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(newPid: true))) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "restore_unsupported")
            XCTAssertTrue("\(error)".contains("the unix listener /tmp/bc10.sock, holds 1 connection not yet accepted (46 unread bytes)"), "\(error)")
        }
        let listener = try XCTUnwrap(try SocketsKind.collectBPF(pid: target.pid).first { $0.local == "/tmp/bc10.sock" })
        XCTAssertEqual(listener.pending.first?.queuedBytes, 46, "the checkpoint or the rejection consumed the pending bytes")
    }

    func testEstablishedTcpRejected() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let server = try CaseProcess(["python3", "-m", "http.server", "18013", "--bind", "127.0.0.1", "--directory", dir],
                                     output: dir + "/server.out", ready: "Serving")
        defer { server.stop() }
        let script = dir + "/bc13.py"
        let source = try String(contentsOfFile: Fixture.casePath("bc13_tcp_loopback.py"), encoding: .utf8)
        try source.replacingOccurrences(of: "18012", with: "18013").write(toFile: script, atomically: true, encoding: .utf8)
        let client = try CaseProcess(["python3", script], output: dir + "/client.out")
        defer { client.stop() }
        let connection = try XCTUnwrap(try SocketsKind.collectBPF(pid: client.pid).first { $0.protocol == "tcp" })
        _ = try Checkpointer.dump(pid: client.pid, to: dir + "/image", options: CaptureOptions(), kill: false)

        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(newPid: true))) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "restore_unsupported")
            XCTAssertTrue("\(error)".contains("the ESTABLISHED TCP connection \(connection.local) → 127.0.0.1:18013"), "\(error)")
        }
        let after = try XCTUnwrap(try SocketsKind.collectBPF(pid: client.pid).first { $0.protocol == "tcp" })
        XCTAssertEqual(after.state, "ESTABLISHED")
    }
}

/// A shared case started with stdin from /dev/null and stdout and stderr
/// in a file, so that its fds 0-2 are files restore can reopen. Its first
/// output line must start with `ready`.
final class CaseProcess {
    let process = Process()

    var pid: Int32 { process.processIdentifier }

    init(_ arguments: [String], output: String, ready: String = "pid") throws {
        FileManager.default.createFile(atPath: output, contents: Data())
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u"] + arguments.dropFirst()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try handle.close()
        for _ in 0..<2000 {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            if text.contains(ready) { return }
            usleep(5000)
        }
        stop()
        throw FixtureError("\(arguments.joined(separator: " ")) printed no \(ready) line within 10 s")
    }

    deinit {
        stop()
    }

    func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGKILL)
        process.waitUntilExit()
    }
}
