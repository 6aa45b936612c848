@testable import BpfcpCore
import XCTest

/// Checks the threads kind against the threads_named fixture and /proc, and
/// the registers of stopped threads against PTRACE_GETREGS.
final class ThreadCollectorTests: XCTestCase {
    private var fixture: Fixture!
    private var tids: [Int32] = []

    override func setUpWithError() throws {
        try requireBPF()
        fixture = try Fixture(c: "threads_named")
        tids = try XCTUnwrap(fixture.values["tids"]).split(separator: ",").compactMap { Int32($0) }
        XCTAssertTrue(waitForThreads(of: fixture.pid), "fixture threads did not settle in pause()")
    }

    override func tearDown() {
        if let fixture {
            kill(fixture.pid, SIGCONT)
            fixture.stop()
        }
        fixture = nil
    }

    private func taskDirectory() throws -> [Int32] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/\(fixture.pid)/task").compactMap { Int32($0) }.sorted()
    }

    func testThreadsMatchFixture() throws {
        let threads = try ThreadsKind.collectBPF(pid: fixture.pid)

        XCTAssertEqual(threads.count, Int(try XCTUnwrap(fixture.int("threads"))))
        XCTAssertEqual(threads.map(\.tid).sorted(), try taskDirectory())
        XCTAssertEqual(threads.map(\.tid).sorted(), tids.sorted())
        let names = Dictionary(uniqueKeysWithValues: threads.map { ($0.tid, $0.comm) })
        XCTAssertEqual(names[tids[0]], "threads_named")
        for (index, tid) in tids.dropFirst().enumerated() {
            XCTAssertEqual(names[tid], "worker-\(index)", "name of thread \(tid)")
        }
        for thread in threads {
            XCTAssertEqual(thread.state, .sleeping, "state of thread \(thread.tid)")
            XCTAssertNil(thread.stopSignal, "stop signal of thread \(thread.tid)")
            XCTAssertNotNil(thread.registers, "registers of thread \(thread.tid)")
        }
    }

    func testThreadsEqualProc() throws {
        let bpf = try ThreadsKind.collectBPF(pid: fixture.pid).sorted { $0.tid < $1.tid }
        let proc = try ThreadsKind.collectProc(pid: fixture.pid)

        XCTAssertEqual(bpf.map(\.tid), proc.map(\.tid))
        for (b, p) in zip(bpf, proc) {
            XCTAssertEqual(b.comm, p.comm, "comm of thread \(b.tid)")
            XCTAssertEqual(b.state, p.state, "state of thread \(b.tid)")
            XCTAssertEqual(b.blockedSignals, p.blockedSignals, "blocked signals of thread \(b.tid)")
        }
    }

    /// One worker in a ptrace stop (PTRACE_INTERRUPT) while the others sleep.
    func testOneThreadInTracingStop() throws {
        let tracer = Tracer()
        defer { tracer.detachAll() }
        let stoppedTid = tids[2]
        try tracer.seize(stoppedTid)
        try tracer.interrupt(stoppedTid)

        let threads = try ThreadsKind.collectBPF(pid: fixture.pid)
        let proc = Dictionary(uniqueKeysWithValues: try ThreadsKind.collectProc(pid: fixture.pid).map { ($0.tid, $0) })
        for thread in threads {
            let expected: TaskState = thread.tid == stoppedTid ? .tracingStop : .sleeping
            XCTAssertEqual(thread.state, expected, "state of thread \(thread.tid)")
            XCTAssertEqual(proc[thread.tid]?.state, expected, "/proc state of thread \(thread.tid)")
        }
        let stopped = try XCTUnwrap(threads.first { $0.tid == stoppedTid })
        XCTAssertEqual(stopped.stopSignal, "SIGTRAP")
        XCTAssertFalse(stopped.registersStale)
        XCTAssertEqual(stopped.registers, try tracer.registers(stoppedTid))
    }

    /// Registers of a process stopped by SIGSTOP, read before any ptrace
    /// attach, then compared with PTRACE_GETREGS after seizing each thread.
    func testRegistersOfSigstopEqualPtrace() throws {
        XCTAssertEqual(kill(fixture.pid, SIGSTOP), 0)
        XCTAssertTrue(waitForThreads(of: fixture.pid, in: ["T"]), "fixture did not stop")
        let threads = try ThreadsKind.collectBPF(pid: fixture.pid)
        for thread in threads {
            XCTAssertEqual(thread.state, .stopped, "state of thread \(thread.tid)")
            XCTAssertEqual(thread.stopSignal, "SIGSTOP", "stop signal of thread \(thread.tid)")
        }

        let tracer = Tracer()
        defer { tracer.detachAll() }
        for thread in threads {
            try tracer.seize(thread.tid)
        }
        try assertRegisters(threads, equal: tracer)

        tracer.detachAll()
        XCTAssertEqual(kill(fixture.pid, SIGCONT), 0)
        XCTAssertTrue(waitForThreads(of: fixture.pid), "fixture did not resume after SIGCONT")
    }

    /// Registers of every thread in a ptrace stop.
    func testRegistersOfPtraceStopEqualPtrace() throws {
        let tracer = Tracer()
        defer { tracer.detachAll() }
        for tid in tids {
            try tracer.seize(tid)
            try tracer.interrupt(tid)
        }

        let threads = try ThreadsKind.collectBPF(pid: fixture.pid)
        XCTAssertEqual(threads.count, tids.count)
        for thread in threads {
            XCTAssertEqual(thread.state, .tracingStop, "state of thread \(thread.tid)")
        }
        try assertRegisters(threads, equal: tracer)
        tracer.detachAll()
        XCTAssertTrue(waitForThreads(of: fixture.pid), "fixture did not resume after detach")
    }

    private func assertRegisters(_ threads: [ThreadInfo], equal tracer: Tracer) throws {
        for thread in threads {
            let bpf = try XCTUnwrap(thread.registers, "no registers for thread \(thread.tid)")
            let ptrace = try tracer.registers(thread.tid)
            XCTAssertEqual(bpf.count, ThreadInfo.registerNames.count)
            for (index, name) in ThreadInfo.registerNames.enumerated() {
                XCTAssertEqual(bpf[index], ptrace[index], "\(name) of thread \(thread.tid)")
            }
            XCTAssertFalse(thread.registersStale, "registers of stopped thread \(thread.tid) marked stale")
        }
    }
}
