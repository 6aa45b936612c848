@testable import BpfcpCore
import XCTest

final class NotifyCollectorTests: XCTestCase {
    func testInotifyWatchesMatchFixture() throws {
        try requireBPF()
        let fixture = try Fixture(c: "notify_marks")
        let dir = try XCTUnwrap(fixture.firstLine.components(separatedBy: " dir=").last)
        let marks = try NotifyKind.collectBPF(pid: fixture.pid)
        let inotify = marks.filter { $0.api == "inotify" }
        XCTAssertEqual(inotify.count, 2)

        let onDir = try XCTUnwrap(inotify.first { $0.wd == Int32(fixture.int("wd_dir") ?? -1) })
        XCTAssertEqual(onDir.mask, ["IN_CREATE", "IN_DELETE"])
        XCTAssertEqual(onDir.path, dir)
        XCTAssertEqual(onDir.target, "inode")
        var st = stat()
        XCTAssertEqual(stat(dir, &st), 0)
        XCTAssertEqual(onDir.inode, UInt64(st.st_ino))

        let onFile = try XCTUnwrap(inotify.first { $0.wd == Int32(fixture.int("wd_file") ?? -1) })
        XCTAssertEqual(onFile.mask, ["IN_MODIFY", "IN_EXCL_UNLINK", "IN_ONESHOT"])
        XCTAssertEqual(onFile.path, dir + "/file.txt")
        XCTAssertEqual(onFile.fd, Int32(fixture.int("inotify") ?? -1))
    }

    func testFanotifyMarksMatchFixture() throws {
        try requireBPF()
        let fixture = try Fixture(c: "notify_marks")
        let dir = try XCTUnwrap(fixture.firstLine.components(separatedBy: " dir=").last)
        let marks = try NotifyKind.collectBPF(pid: fixture.pid).filter { $0.api == "fanotify" }
        XCTAssertEqual(marks.count, 2)

        let onFile = try XCTUnwrap(marks.first { $0.target == "inode" })
        XCTAssertEqual(onFile.mask, ["FAN_MODIFY", "FAN_CLOSE_WRITE"])
        XCTAssertEqual(onFile.path, dir + "/file.txt")
        XCTAssertEqual(onFile.ignoredMask, [])
        XCTAssertNil(onFile.wd)

        let onMount = try XCTUnwrap(marks.first { $0.target == "mount" })
        XCTAssertEqual(onMount.mask, ["FAN_OPEN"])
        XCTAssertNotNil(onMount.mountId)
    }

    func testMarksEqualProcOracle() throws {
        try requireBPF()
        let fixture = try Fixture(c: "notify_marks")
        let bpf = try NotifyKind.collectBPF(pid: fixture.pid)
        let proc = try NotifyProc.collect(pid: fixture.pid)
        XCTAssertEqual(bpf.count, proc.count)
        for (a, b) in zip(bpf, proc) {
            XCTAssertEqual(a, b, "fd \(a.fd) mark differs between BPF and /proc")
        }
    }
}
