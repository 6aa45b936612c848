@testable import BpfcpCore
import XCTest

final class PipesCollectorTests: XCTestCase {
    /// BC14: the parent has the write end of an empty 1 MiB pipe and both
    /// ends of a 64 KiB pipe with 42 bytes queued, and the child has the read ends.
    func testSharedPipeBetweenParentAndChild() throws {
        try requireBPF()
        let fixture = try SharedCase.startC("bc14_pipe.c")
        let parent = try XCTUnwrap(SharedCase.number(after: "parent", in: fixture.firstLine))
        let child = try XCTUnwrap(SharedCase.number(after: "child", in: fixture.firstLine))
        // fds 0-2 include the harness's own stdout pipe, which both processes inherit.
        let parentEnds = try PipesKind.collectBPF(pid: parent).filter { $0.fd > 2 }
        var childEnds = try PipesKind.collectBPF(pid: child).filter { $0.fd > 2 }
        // The child closes its write ends after the parent prints, so wait for that.
        for _ in 0..<100 where childEnds.count != 2 {
            usleep(20_000)
            childEnds = try PipesKind.collectBPF(pid: child).filter { $0.fd > 2 }
        }

        let bigWrite = try XCTUnwrap(parentEnds.first { $0.capacity == 1 << 20 })
        XCTAssertEqual(bigWrite.end, "write")
        XCTAssertEqual(bigWrite.queued, 0)
        let dataEnds = parentEnds.filter { $0.capacity == 64 << 10 }
        XCTAssertEqual(dataEnds.map(\.end).sorted(), ["read", "write"])
        XCTAssertEqual(dataEnds.map(\.queued), [42, 42])
        XCTAssertEqual(Set(dataEnds.map(\.identity)).count, 1)
        XCTAssertEqual(parentEnds.count, 3)

        XCTAssertEqual(childEnds.count, 2)
        XCTAssertTrue(childEnds.allSatisfy { $0.end == "read" })
        let childBig = try XCTUnwrap(childEnds.first { $0.identity == bigWrite.identity }, "child lacks the 1 MiB pipe")
        XCTAssertEqual(childBig.capacity, 1 << 20)
        let childData = try XCTUnwrap(childEnds.first { $0.identity == dataEnds[0].identity }, "child lacks the 64 KiB pipe")
        XCTAssertEqual(childData.queued, 42)
        // fork shares open file descriptions, and the counts are of those, not of fds.
        XCTAssertEqual(childData.readers, 1)
        XCTAssertEqual(childData.writers, 1)
        XCTAssertEqual(childBig.readers, 1)
        XCTAssertEqual(childBig.writers, 1)
    }

    func testFifoAndMultiSlotPipe() throws {
        try requireBPF()
        let fixture = try Fixture(c: "pipes_fifo")
        let ends = try PipesKind.collectBPF(pid: fixture.pid)
        let byFd = Dictionary(uniqueKeysWithValues: ends.map { ($0.fd, $0) })

        let fifo = try XCTUnwrap(byFd[Int32(try XCTUnwrap(fixture.int("fifo")))])
        XCTAssertEqual(fifo.type, "fifo")
        XCTAssertEqual(fifo.end, "read-write")
        XCTAssertEqual(fifo.queued, 5)
        XCTAssertEqual(fifo.path, fixture.values["fifo_path"])
        XCTAssertEqual(Int64(fifo.capacity), fixture.int("fifo_size"))
        XCTAssertTrue(fifo.identity.hasPrefix("fifo:["))

        let read = try XCTUnwrap(byFd[Int32(try XCTUnwrap(fixture.int("pipe_r")))])
        let write = try XCTUnwrap(byFd[Int32(try XCTUnwrap(fixture.int("pipe_w")))])
        XCTAssertEqual(read.queued, 4196)
        XCTAssertEqual(read.identity, write.identity)
        XCTAssertEqual(read.identity, "pipe:[\(read.inode)]")
        XCTAssertEqual(Int64(read.capacity), fixture.int("pipe_size"))
        XCTAssertEqual(read.end, "read")
        XCTAssertEqual(write.end, "write")
    }

    func testPipesEqualProcOracle() throws {
        try requireBPF()
        let fixture = try Fixture(c: "pipes_fifo")
        let bpf = try PipesKind.collectBPF(pid: fixture.pid).map(withoutEndCounts)
        let proc = try PipesProc.collect(pid: fixture.pid)
        XCTAssertEqual(bpf.count, proc.count)
        for (a, b) in zip(bpf, proc) {
            XCTAssertEqual(a, b, "fd \(a.fd) differs between BPF and /proc")
        }
    }

    /// /proc cannot count readers and writers, so the comparison leaves them out.
    private func withoutEndCounts(_ end: PipeEnd) -> PipeEnd {
        var copy = end
        copy.readers = nil
        copy.writers = nil
        return copy
    }
}
