@testable import BpfcpCore
import XCTest

/// Checks each file type and open flag of the files_kinds fixture, from BPF
/// and against /proc field for field.
final class FileKindsTests: XCTestCase {
    private var fixture: Fixture!
    private var files: [Int32: OpenFile] = [:]

    override func setUpWithError() throws {
        try requireBPF()
        fixture = try Fixture(c: "files_kinds")
        files = Dictionary(uniqueKeysWithValues: try FilesKind.collectBPF(pid: fixture.pid).map { ($0.fd, $0) })
    }

    override func tearDown() {
        fixture?.stop()
        if let dir = fixture?.values["dir"], dir.hasPrefix("/tmp/bpfcp-kinds-") {
            try? FileManager.default.removeItem(atPath: dir)
        }
        fixture = nil
    }

    private func file(_ key: String) throws -> OpenFile {
        let fd = Int32(try XCTUnwrap(fixture.int(key), "fixture did not print \(key)"))
        return try XCTUnwrap(files[fd], "fd \(fd) (\(key)) missing from the BPF list")
    }

    private var dir: String { fixture.values["dir"] ?? "" }

    func testOpenFlagsByName() throws {
        let nonblock = try file("nonblock")
        XCTAssertEqual(nonblock.flags, ["O_RDONLY", "O_NONBLOCK", "O_LARGEFILE"])
        XCTAssertEqual(nonblock.path, dir + "/plain")

        let sync = try file("sync")
        XCTAssertEqual(sync.flags, ["O_WRONLY", "O_APPEND", "O_DSYNC", "O_LARGEFILE", "__O_SYNC", "O_CLOEXEC"])

        let noatime = try file("noatime")
        XCTAssertEqual(noatime.flags, ["O_RDWR", "O_LARGEFILE", "O_NOATIME"])
    }

    func testCloseOnExecOnExactlyOneFd() throws {
        let cloexec = files.values.filter(\.closeOnExec).map(\.fd)
        XCTAssertEqual(cloexec, [Int32(try XCTUnwrap(fixture.int("sync")))])
    }

    func testFileTypes() throws {
        XCTAssertEqual(try file("nonblock").type, .regular)

        let gone = try file("gone")
        XCTAssertEqual(gone.type, .regular)
        XCTAssertTrue(gone.deleted)
        XCTAssertEqual(gone.path, dir + "/gone")
        XCTAssertEqual(gone.position, 12)
        XCTAssertEqual(gone.size, 12)

        let pipeRead = try file("pipe_r")
        let pipeWrite = try file("pipe_w")
        XCTAssertEqual(pipeRead.type, .pipe)
        XCTAssertEqual(pipeWrite.type, .pipe)
        XCTAssertEqual(pipeRead.inode, pipeWrite.inode, "both ends of one pipe share its inode")
        XCTAssertEqual(pipeRead.path, "pipe:[\(pipeRead.inode)]")
        XCTAssertEqual(pipeRead.flags, ["O_RDONLY"])
        XCTAssertEqual(pipeWrite.flags, ["O_WRONLY"])

        let fifo = try file("fifo")
        XCTAssertEqual(fifo.type, .fifo)
        XCTAssertEqual(fifo.path, dir + "/fifo")

        let directory = try file("dirfd")
        XCTAssertEqual(directory.type, .directory)
        XCTAssertEqual(directory.path, dir)
        XCTAssertTrue(directory.flags.contains("O_DIRECTORY"))

        let null = try file("null")
        XCTAssertEqual(null.type, .charDevice)
        XCTAssertEqual(null.path, "/dev/null")

        let link = try file("link")
        XCTAssertEqual(link.type, .symlink)
        XCTAssertEqual(link.path, dir + "/dangling")
        XCTAssertEqual(link.flags, ["O_NOFOLLOW", "O_PATH"], "open() keeps only O_PATH_FLAGS for O_PATH")
        XCTAssertFalse(link.flags.contains("O_RDONLY"), "an O_PATH fd has no access mode")
    }

    func testEveryFieldEqualsProc() throws {
        let bpf = try FilesKind.collectBPF(pid: fixture.pid)
        let proc = try FilesProc.collect(pid: fixture.pid)

        XCTAssertEqual(bpf.map(\.fd), proc.map(\.fd))
        for (b, p) in zip(bpf, proc) {
            XCTAssertEqual(b.type, p.type, "type of fd \(b.fd)")
            XCTAssertEqual(b.path, p.path, "path of fd \(b.fd)")
            XCTAssertEqual(b.deleted, p.deleted, "deleted flag of fd \(b.fd)")
            XCTAssertEqual(b.device, p.device, "device of fd \(b.fd)")
            XCTAssertEqual(b.inode, p.inode, "inode of fd \(b.fd)")
            XCTAssertEqual(b.mountId, p.mountId, "mount id of fd \(b.fd)")
            XCTAssertEqual(b.position, p.position, "position of fd \(b.fd)")
            XCTAssertEqual(b.flags, p.flags, "flags of fd \(b.fd)")
            XCTAssertEqual(b.closeOnExec, p.closeOnExec, "close-on-exec of fd \(b.fd)")
            XCTAssertEqual(b.mode, p.mode, "mode of fd \(b.fd)")
            XCTAssertEqual(b.size, p.size, "size of fd \(b.fd)")
            XCTAssertEqual(b.anonKind, p.anonKind, "anon kind of fd \(b.fd)")
            XCTAssertEqual(b, p, "fd \(b.fd) differs between BPF and /proc")
        }
    }
}
