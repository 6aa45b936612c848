@testable import BpfcpCore
import Foundation
import XCTest

/// Restores that fail because of something outside the image, as `bpfcp restore` reports them.
final class CLIRestoreErrorTests: XCTestCase {
    /// A listener whose TCP port another socket took after the checkpoint.
    func testListenerAddressInUseNamesFix() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fixture = try Fixture(c: "restore_queues", arguments: [dir, "listen"])
        let pid = fixture.pid
        try QueueFixture.waitStdioNull(pid)
        let image = dir + "/image"
        let dump = try CLI.run(["dump", "\(pid)", "-D", image, "--kill"])
        XCTAssertEqual(dump.status, 0, dump.err)
        try RestoredProcess.waitGone(pid)

        let sockets = try XCTUnwrap(try CheckpointImage.open(image).process(pid)).items("sockets", as: Socket.self)
        let listener = try XCTUnwrap(sockets.first { $0.family == "inet" && $0.listenBacklog == 7 }, "\(sockets.map(\.local))")
        let port = try XCTUnwrap(listener.local.split(separator: ":").last.flatMap { UInt16($0) }, listener.local)
        let taker = try listenOnLoopback(port: port)
        defer { close(taker) }

        let restore = try CLI.run(["restore", "-D", image])
        XCTAssertEqual(restore.status, 1, restore.out + restore.err)
        XCTAssertEqual(restore.out, "")
        XCTAssertEqual(restore.errLines, [
            "bpfcp: bind(\(listener.fd), 127.0.0.1:\(port), 16) failed in restored process \(pid): Address already in use; "
            + "another socket is bound to 127.0.0.1:\(port): stop the process that holds it (`ss -lnp` lists them) and restore again",
        ])
        XCTAssertTrue(CheckpointSupport.waitUntil(5) { kill(pid, 0) != 0 }, "the half-restored process \(pid) was left behind")
    }

    func testRemovedFileNamesFdAndFix() throws {
        let (dir, pid, image, file) = try dumpKilledWithFiles()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.removeItem(atPath: file.path)

        let restore = try CLI.run(["restore", "-D", image])

        XCTAssertEqual(restore.status, 1, restore.out + restore.err)
        XCTAssertEqual(restore.out, "")
        XCTAssertEqual(restore.errLines, [
            "bpfcp: cannot restore process \(pid): fd \(file.fd) is the file \(file.path), which is missing now (No such file or directory): "
            + "it was removed or renamed after the checkpoint; put it back, or take the checkpoint again; nothing was created",
        ])
        XCTAssertNotEqual(kill(pid, 0), 0)
    }

    func testReplacedFileNamesNewType() throws {
        let (dir, pid, image, file) = try dumpKilledWithFiles()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.removeItem(atPath: file.path)
        try FileManager.default.createDirectory(atPath: file.path, withIntermediateDirectories: false)

        let restore = try CLI.run(["restore", "-D", image])

        XCTAssertEqual(restore.status, 1, restore.out + restore.err)
        XCTAssertEqual(restore.errLines, [
            "bpfcp: cannot restore process \(pid): fd \(file.fd) is the file \(file.path), which was a regular file at the checkpoint "
            + "and is a directory now; put it back, or take the checkpoint again; nothing was created",
        ])
        XCTAssertNotEqual(kill(pid, 0), 0)
    }

    /// Runs `dump --kill` on restore_basic with two files open, and returns
    /// its directory, pid, image and the open file DIR/f1.
    private func dumpKilledWithFiles() throws -> (dir: String, pid: Int32, image: String, file: OpenFile) {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_basic", arguments: [dir, "1", "2"])
        let pid = fixture.pid
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        let image = dir + "/image"
        let dump = try CLI.run(["dump", "\(pid)", "-D", image, "--kill"])
        XCTAssertEqual(dump.status, 0, dump.err)
        try RestoredProcess.waitGone(pid)

        let files = try XCTUnwrap(try CheckpointImage.open(image).process(pid)).items("files", as: OpenFile.self)
        let file = try XCTUnwrap(files.first { $0.path == dir + "/f1" }, "\(files.map(\.path))")
        return (dir, pid, image, file)
    }

    /// Returns a TCP socket listening on 127.0.0.1:`port`.
    private func listenOnLoopback(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket failed: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw FixtureError("listening on 127.0.0.1:\(port) failed: \(message)")
        }
        return fd
    }
}
