@testable import BpfcpCore
import XCTest

final class MemfdCollectorTests: XCTestCase {
    func testMemfdsMatchFixture() throws {
        try requireBPF()
        let fixture = try Fixture(c: "memfd_seals")
        let memfds = try MemfdKind.collectBPF(pid: fixture.pid)
        XCTAssertEqual(memfds.map(\.fd), [Int32(fixture.int("sealed") ?? -1), Int32(fixture.int("plain") ?? -1)],
                       "only the two memfds, not the /dev/shm file named like one")

        let sealed = memfds[0]
        XCTAssertEqual(sealed.name, "sealed data")
        XCTAssertEqual(sealed.size, 100)
        XCTAssertEqual(sealed.position, 10)
        XCTAssertEqual(sealed.seals, ["F_SEAL_SHRINK", "F_SEAL_GROW"])
        XCTAssertTrue(sealed.deleted)
        XCTAssertFalse(sealed.closeOnExec)

        let plain = memfds[1]
        XCTAssertEqual(plain.name, "plain")
        XCTAssertEqual(plain.seals, ["F_SEAL_SEAL"], "a memfd created without MFD_ALLOW_SEALING is sealed against sealing")
        XCTAssertTrue(plain.closeOnExec)
    }

    func testMemfdsEqualProcOracle() throws {
        try requireBPF()
        let fixture = try Fixture(c: "memfd_seals")
        XCTAssertEqual(try MemfdKind.collectBPF(pid: fixture.pid), try MemfdProc.collect(pid: fixture.pid))
    }

    /// BC03: fd 3 is the memfd "bc03-payload" holding a 27-byte script, written to position 27.
    func testPayloadMemfdBeforeExec() throws {
        try requireBPF()
        let fixture = try SharedCase.startC("bc03_memfd_exec.c", arguments: ["600"])
        let pid = try XCTUnwrap(SharedCase.number(after: "pid", in: fixture.firstLine))
        let fd = try XCTUnwrap(SharedCase.number(after: "fd", in: fixture.firstLine))
        XCTAssertEqual(fd, 3)

        let memfd = try XCTUnwrap(try MemfdKind.collectBPF(pid: pid).first { $0.fd == fd })
        XCTAssertEqual(memfd.name, "bc03-payload")
        XCTAssertTrue(memfd.deleted)
        XCTAssertEqual(memfd.position, 27)
        XCTAssertEqual(memfd.size, 27)
        XCTAssertEqual(memfd.mode, "0755")

        let file = try XCTUnwrap(try FilesKind.collectBPF(pid: pid).first { $0.fd == fd })
        XCTAssertEqual(file.anonKind, "memfd")
        XCTAssertTrue(file.deleted)
        XCTAssertEqual(file.position, 27)
        XCTAssertEqual(file.path, "/memfd:bc03-payload")
        XCTAssertEqual(FilesKind.entry(file).cells[1], "memfd")
    }
}
