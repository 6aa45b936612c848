@testable import BpfcpCore
import XCTest

/// The Files kind on the shared cases about fd flags and fd tables, and its
/// labels for anonymous-inode files.
final class FilesCasesTests: XCTestCase {
    /// BC05: fd 3 is O_PATH|O_NOFOLLOW on a dangling symlink, fd 4 O_PATH on /tmp.
    func testOpathOnDanglingSymlink() throws {
        try requireBPF()
        let fixture = try SharedCase.startC("bc05_opath_symlink.c")
        let pid = try XCTUnwrap(SharedCase.number(after: "pid", in: fixture.firstLine))
        let files = try FilesKind.collectBPF(pid: pid)

        let link = try XCTUnwrap(files.first { $0.fd == 3 })
        XCTAssertEqual(link.type, .symlink)
        XCTAssertEqual(link.path, "/tmp/bc05-link")
        XCTAssertTrue(link.flags.contains("O_PATH"))
        XCTAssertTrue(link.flags.contains("O_NOFOLLOW"))
        XCTAssertFalse(link.flags.contains("O_RDONLY"), "O_PATH files have no access mode")

        let dir = try XCTUnwrap(files.first { $0.fd == 4 })
        XCTAssertEqual(dir.type, .directory)
        XCTAssertEqual(dir.path, "/tmp")
        XCTAssertTrue(dir.flags.contains("O_PATH"))
        XCTAssertEqual(files, try FilesProc.collect(pid: pid))
    }

    /// BC06: five fds with different flags on one file and /dev/null; one is close-on-exec.
    func testFlagsOffsetAndCloseOnExec() throws {
        try requireBPF()
        let fixture = try SharedCase.startPython("bc06_flags.py")
        let line = fixture.firstLine
        let pid = try XCTUnwrap(SharedCase.number(after: "pid", in: line))
        func fd(_ key: String) throws -> Int32 {
            let pattern = try NSRegularExpression(pattern: "'\(key)': (\\d+)")
            let match = try XCTUnwrap(pattern.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)), "\(key) missing in \(line)")
            return try XCTUnwrap(Int32((line as NSString).substring(with: match.range(at: 1))))
        }
        let files = try FilesKind.collectBPF(pid: pid)
        func file(_ key: String) throws -> OpenFile { try XCTUnwrap(files.first { $0.fd == (try fd(key)) }) }

        XCTAssertEqual(try file("append").flags.first, "O_WRONLY")
        XCTAssertTrue(try file("append").flags.contains("O_APPEND"))
        XCTAssertEqual(try file("cloexec").flags.first, "O_RDONLY")
        XCTAssertTrue(try file("cloexec").closeOnExec)
        XCTAssertTrue(try file("nonblock").flags.contains("O_NONBLOCK"))
        XCTAssertEqual(try file("nonblock").path, "/dev/null")
        XCTAssertTrue(try file("sync").flags.contains("__O_SYNC"))
        XCTAssertTrue(try file("sync").flags.contains("O_DSYNC"))
        let rdwrAppend = try file("rdwr_append")
        XCTAssertEqual(rdwrAppend.flags.first, "O_RDWR")
        XCTAssertTrue(rdwrAppend.flags.contains("O_APPEND"))
        XCTAssertEqual(rdwrAppend.position, 3)

        let five = try ["append", "cloexec", "nonblock", "sync", "rdwr_append"].map(file)
        XCTAssertEqual(five.filter(\.closeOnExec).map(\.fd), [try fd("cloexec")])
        XCTAssertEqual(files, try FilesProc.collect(pid: pid))
    }

    /// BC07: about 5,000 fds in two clusters and one at the highest slot RLIMIT_NOFILE allows.
    func testManyFdsAllListed() throws {
        try requireBPF()
        let fixture = try SharedCase.startPython("bc07_many_fds.py")
        let pid = try XCTUnwrap(SharedCase.number(after: "pid", in: fixture.firstLine))
        let highest = try XCTUnwrap(SharedCase.number(after: "highest", in: fixture.firstLine))
        let files = try FilesKind.collectBPF(pid: pid)
        let listed = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap { Int32($0) }

        XCTAssertGreaterThan(files.count, 4_900)
        XCTAssertEqual(files.count, listed.count)
        XCTAssertEqual(files.map(\.fd), listed.sorted())
        XCTAssertEqual(files.last?.fd, highest)
    }

    /// Each anonymous-inode kind keeps its label in the Files kind, from BPF and from /proc.
    func testAnonymousInodeLabels() throws {
        try requireBPF()
        let events = try Fixture(c: "event_files")
        let epoll = try Fixture(c: "epoll_watches")
        let notify = try Fixture(c: "notify_marks")
        let expected: [(Fixture, String, String)] = [
            (events, "eventfd", "eventfd"), (events, "timerfd", "timerfd"), (events, "signalfd", "signalfd"),
            (events, "live_pidfd", "pidfd"), (events, "dead_pidfd", "pidfd"), (epoll, "epoll", "eventpoll"),
            (notify, "inotify", "inotify"), (notify, "fanotify", "fanotify"),
        ]
        for (fixture, key, label) in expected {
            let fd = Int32(try XCTUnwrap(fixture.int(key)))
            let bpf = try XCTUnwrap(try FilesKind.collectBPF(pid: fixture.pid).first { $0.fd == fd })
            XCTAssertEqual(bpf.type, .anonInode, key)
            XCTAssertEqual(bpf.anonKind, label, key)
            XCTAssertEqual(bpf, FilesProc.file(pid: fixture.pid, fd: fd), key)
        }
    }
}
