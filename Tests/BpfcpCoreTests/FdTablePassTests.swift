@testable import BpfcpCore
import CBpfcpShim
import XCTest

/// The shared pass over the fd table (bpf/fdtable.bpf.c) against each fd
/// kind's own iter/task_file program, on a fixture with every fd kind.
final class FdTablePassTests: XCTestCase {
    private var fixture: Fixture!

    /// Each fd kind's own program and the record kinds it writes.
    private let programs: [(object: String, program: String, kinds: [UInt32])] = [
        ("file", "dump_files", [BPFCP_REC_FILE.rawValue]),
        ("pipe", "dump_pipes", [BPFCP_REC_PIPE.rawValue]),
        ("eventfd", "dump_event_files", [BPFCP_REC_EVENT_FILE.rawValue]),
        ("sockets", "dump_sockets", [BPFCP_REC_SOCKET.rawValue]),
        ("epoll", "dump_epoll", [BPFCP_REC_EPOLL.rawValue, BPFCP_REC_EPOLL_WATCH.rawValue]),
        ("notify", "dump_notify", [BPFCP_REC_NOTIFY_MARK.rawValue, BPFCP_REC_NOTIFY_GROUP.rawValue]),
        ("memfd", "dump_memfds", [BPFCP_REC_MEMFD.rawValue]),
        ("io_uring", "dump_io_uring", [BPFCP_REC_IO_URING.rawValue]),
    ]

    override func setUpWithError() throws {
        try requireBPF()
        fixture = try Fixture(c: "fd_kinds_all")
    }

    override func tearDown() {
        fixture?.stop()
        if let dir = fixture?.values["dir"], dir.hasPrefix("/tmp/bpfcp-fdkinds-") {
            try? FileManager.default.removeItem(atPath: dir)
        }
        fixture = nil
    }

    func testEveryFdKindReadsTheSharedPass() {
        let names = Set(KindRegistry.all.filter(\.readsFdTable).map(\.name))
        XCTAssertEqual(names, ["files", "pipes", "events", "sockets", "epoll", "notify", "memfd", "io_uring"])
    }

    /// The pass writes each record byte for byte as the kind's own program
    /// does, in the same order. A timerfd's time left is measured at the
    /// moment of each run, so that field is left out of the comparison.
    func testRecordsAreByteIdentical() throws {
        try setFilterCursors()
        let pass = try FdTablePass.run(pid: fixture.pid)

        for (object, program, kinds) in programs {
            let reader = RecordReader(try BPFRuntime.shared.object(object).iterate(program, pid: fixture.pid))
            let alone = try reader.records().filter { kinds.contains(UInt32($0.kind)) }.map { comparable(reader, $0) }
            let shared = pass.records(kinds).map { comparable(pass.reader, $0) }

            XCTAssertFalse(alone.isEmpty, "\(program) wrote nothing for the fixture")
            XCTAssertEqual(shared, alone, "records of \(program)")
        }
    }

    /// Sections through the shared pass, as `bpfcp dump` builds them, equal
    /// those of each kind alone, as `dump --only KIND` builds them.
    func testSectionsEqualEachKindAlone() throws {
        let process = try XCTUnwrap(ProcessListBPF.collect(pid: fixture.pid).first)
        let shared = Target(pid: fixture.pid, process: process, fdTable: try FdTablePass.run(pid: fixture.pid))
        let alone = Target(pid: fixture.pid, process: process)

        for kind in KindRegistry.all where kind.readsFdTable {
            let viaPass = try kind.collect(shared, .bpf)
            let own = try kind.collect(alone, .bpf)
            XCTAssertNil(viaPass.unavailable, kind.name)
            XCTAssertFalse(viaPass.items.isEmpty, "\(kind.name): the fixture has one")
            XCTAssertEqual(viaPass.items, own.items, "items of \(kind.name)")
            XCTAssertEqual(viaPass.entries, own.entries, "entries of \(kind.name)")
        }
    }

    func testDumpSharesPassOnlyForSeveralKinds() throws {
        let fdKinds = KindRegistry.all.filter(\.readsFdTable)
        XCTAssertNotNil(Dumper.sharedFdPass(pid: fixture.pid, source: .bpf, kinds: KindRegistry.all))
        XCTAssertNil(Dumper.sharedFdPass(pid: fixture.pid, source: .bpf, kinds: [fdKinds[0]]), "--only with one fd kind")
        XCTAssertNil(Dumper.sharedFdPass(pid: fixture.pid, source: .proc, kinds: KindRegistry.all))

        let dump = try Dumper.dump(pid: fixture.pid)
        for kind in fdKinds {
            let alone = try Dumper.dump(pid: fixture.pid, kinds: [kind])
            XCTAssertEqual(dump.section(kind.name)?.items, alone.section(kind.name)?.items, kind.name)
        }
    }

    /// Sets the epoll and notify cursors to -1, so that their programs report every fd.
    private func setFilterCursors() throws {
        try BPFRuntime.shared.object("epoll").updateMap("epoll_cursor", key: UInt32(0), value: bpfcp_epoll_cursor(fd: -1, skip: 0))
        try BPFRuntime.shared.object("notify").updateMap("notify_cursor", key: UInt32(0),
                                                         value: bpfcp_notify_cursor(fd: -1, skip: 0))
    }

    /// Copies the bytes of one record, with a timerfd's time left zeroed.
    private func comparable(_ reader: RecordReader, _ record: RawRecord) -> [UInt8] {
        var bytes = Array(reader.bytes[record.offset..<record.offset + record.size])
        if UInt32(record.kind) == BPFCP_REC_EVENT_FILE.rawValue,
           let offset = MemoryLayout<bpfcp_event_file>.offset(of: \.remaining_ns) {
            bytes.replaceSubrange(offset..<offset + 8, with: repeatElement(0, count: 8))
        }
        return bytes
    }
}
