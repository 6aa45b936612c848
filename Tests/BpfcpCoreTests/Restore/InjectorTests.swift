@testable import BpfcpCore
import XCTest

final class InjectorTests: XCTestCase {
    private let trampoline: UInt64 = 0x6000_0000_0000

    func testGetpidRunsInChild() throws {
        try requireRoot()
        let tracee = try Tracee(pid: nil, trampoline: trampoline, trampolineSize: Injector.trampolineSize(payload: 65536))
        defer { tracee.kill() }
        let injector = Injector(tracee: tracee, log: nil)
        let pid = try injector.call(SyscallNumber.getpid, [], text: "getpid()")
        XCTAssertEqual(pid, Int64(tracee.pid))
    }

    func testBatchStopsAtFirstFailure() throws {
        try requireRoot()
        let tracee = try Tracee(pid: nil, trampoline: trampoline, trampolineSize: Injector.trampolineSize(payload: 65536))
        defer { tracee.kill() }
        var lines: [String] = []
        let injector = Injector(tracee: tracee) { lines.append($0) }
        try injector.queue(SyscallNumber.getpid, [], text: "getpid()")
        try injector.queue(SyscallNumber.close, [.int(999)], text: "close(999)")
        try injector.queue(SyscallNumber.getpid, [], text: "getpid()")
        XCTAssertThrowsError(try injector.flush()) { error in
            XCTAssertTrue("\(error)".contains("close(999) failed"), "\(error)")
        }
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines.last, "close(999) = -1 Bad file descriptor")
    }

    func testOpenatReadsPathPayload() throws {
        try requireRoot()
        let tracee = try Tracee(pid: nil, trampoline: trampoline, trampolineSize: Injector.trampolineSize(payload: 65536))
        defer { tracee.kill() }
        let injector = Injector(tracee: tracee, log: nil)
        let path = Array("/dev/null".utf8) + [0]
        let fd = try injector.call(SyscallNumber.openat, [.int(-100), .payload(0), .int(0), .int(0)], payloads: [path],
                                   text: "openat(AT_FDCWD, \"/dev/null\", O_RDONLY)", expected: 3)
        XCTAssertEqual(fd, 3)
        XCTAssertEqual(ProcFS.readLink("/proc/\(tracee.pid)/fd/3").map { String(decoding: $0, as: UTF8.self) }, "/dev/null")
    }
}

/// Skips unless root: restore clones with set_tid and maps with ptrace.
func requireRoot() throws {
    if geteuid() != 0 { throw XCTSkip("restore tests need root (CAP_SYS_PTRACE, CAP_CHECKPOINT_RESTORE)") }
}
