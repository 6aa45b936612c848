@testable import BpfcpCore
import XCTest

final class EpollCollectorTests: XCTestCase {
    func testWatchesMatchFixture() throws {
        try requireBPF()
        let fixture = try Fixture(c: "epoll_watches")
        let epfd = Int32(try XCTUnwrap(fixture.int("epoll")))
        let watches = try EpollKind.collectBPF(pid: fixture.pid)
        let ofEpoll = watches.filter { $0.epollFd == epfd }
        XCTAssertEqual(ofEpoll.count, 2)

        let onEventfd = try XCTUnwrap(ofEpoll.first { $0.targetFd == Int32(fixture.int("eventfd") ?? -1) })
        XCTAssertEqual(onEventfd.events, ["EPOLLIN", "EPOLLERR", "EPOLLHUP", "EPOLLET"])
        XCTAssertEqual(onEventfd.data, 0x1122_3344_5566_7788)
        XCTAssertEqual(onEventfd.targetType, "anon-inode")

        let onPipe = try XCTUnwrap(ofEpoll.first { $0.targetFd == Int32(fixture.int("pipe_w") ?? -1) })
        XCTAssertEqual(onPipe.events, ["EPOLLOUT", "EPOLLERR", "EPOLLHUP"])
        XCTAssertEqual(onPipe.data, 7)
        XCTAssertEqual(onPipe.targetType, "pipe")
        let pipeFile = try XCTUnwrap(FilesKind.collectBPF(pid: fixture.pid).first { $0.fd == onPipe.targetFd })
        XCTAssertEqual(onPipe.targetInode, pipeFile.inode)

        let empty = watches.filter { $0.epollFd == Int32(fixture.int("empty_epoll") ?? -1) }
        XCTAssertEqual(empty, [EpollWatch(epollFd: empty.first?.epollFd ?? -1, events: [])])
        XCTAssertEqual(EpollKind.entry(onEventfd).fields.last, Field("data", "0x1122334455667788"))
    }

    func testWatchesEqualProcOracle() throws {
        try requireBPF()
        let fixture = try Fixture(c: "epoll_watches")
        let bpf = try EpollKind.collectBPF(pid: fixture.pid)
        let proc = try EpollProc.collect(pid: fixture.pid)
        XCTAssertEqual(bpf, proc)
    }

    /// A tree of 3,000 watches exercises the in-order walk past the first levels.
    func testManyWatchesAllListed() throws {
        try requireBPF()
        let fixture = try Fixture(c: "epoll_watches", arguments: ["3000"])
        let watches = try EpollKind.collectBPF(pid: fixture.pid).filter { $0.epollFd == Int32(fixture.int("epoll") ?? -1) }
        XCTAssertEqual(watches.count, 3002)
        XCTAssertEqual(Set(watches.compactMap(\.targetFd)).count, 3002)
        XCTAssertEqual(watches, try EpollProc.collect(pid: fixture.pid).filter { $0.epollFd == watches.first?.epollFd })
    }

    /// The shared fd-table pass writes the first 600 watches of each epoll
    /// fd, and the collector resumes the rest with its own program.
    func testManyWatchesResumeAfterSharedPass() throws {
        try requireBPF()
        let fixture = try Fixture(c: "epoll_watches", arguments: ["3000"])
        let epollFd = Int32(fixture.int("epoll") ?? -1)
        let viaPass = try EpollKind.collectBPF(pid: fixture.pid, shared: try FdTablePass.run(pid: fixture.pid))

        XCTAssertEqual(viaPass.filter { $0.epollFd == epollFd }.count, 3002)
        XCTAssertEqual(viaPass, try EpollKind.collectBPF(pid: fixture.pid))
    }
}
