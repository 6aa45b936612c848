@testable import BpfcpCore
import XCTest

final class FilesCollectorTests: XCTestCase {
    func testFilesMatchFixture() throws {
        try requireBPF()
        let fixture = try Fixture(c: "files_basic")
        let dir = try XCTUnwrap(fixture.values["dir"])
        let files = try FilesKind.collectBPF(pid: fixture.pid)
        let byFd = Dictionary(uniqueKeysWithValues: files.map { ($0.fd, $0) })

        let alpha = try XCTUnwrap(byFd[Int32(try XCTUnwrap(fixture.int("fd_alpha")))])
        XCTAssertEqual(alpha.path, dir + "/alpha")
        XCTAssertEqual(alpha.position, 100)
        XCTAssertEqual(alpha.type, .regular)
        XCTAssertEqual(alpha.flags.first, "O_RDWR")
        XCTAssertFalse(alpha.closeOnExec)

        let beta = try XCTUnwrap(byFd[Int32(try XCTUnwrap(fixture.int("fd_beta")))])
        XCTAssertEqual(beta.position, 4096)
        XCTAssertTrue(beta.flags.contains("O_APPEND"))
        XCTAssertTrue(beta.closeOnExec)
        XCTAssertEqual(beta.flags.first, "O_WRONLY")

        let deleted = try XCTUnwrap(byFd[Int32(try XCTUnwrap(fixture.int("fd_deleted")))])
        XCTAssertTrue(deleted.deleted)
        XCTAssertEqual(deleted.path, dir + "/deleted")
        XCTAssertEqual(deleted.position, 7)

        let pipeRead = try XCTUnwrap(byFd[Int32(try XCTUnwrap(fixture.int("pipe_r")))])
        XCTAssertEqual(pipeRead.type, .pipe)
    }

    func testFilesEqualProcOracle() throws {
        try requireBPF()
        let fixture = try Fixture(c: "files_basic")
        let bpf = try FilesKind.collectBPF(pid: fixture.pid)
        let proc = try FilesProc.collect(pid: fixture.pid)
        XCTAssertEqual(bpf.count, proc.count)
        for (a, b) in zip(bpf, proc) {
            XCTAssertEqual(a, b, "fd \(a.fd) differs between BPF and /proc")
        }
    }
}
