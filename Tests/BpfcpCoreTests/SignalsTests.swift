@testable import BpfcpCore
import XCTest

final class SignalsTests: XCTestCase {
    func testQueuedSignalsInOrder() throws {
        try requireBPF()
        let fixture = try CaseProgram.start("bc28_sigpending.c")
        let pid = fixture.pid
        let queued = try PendingSignalsKind.collect(Target(pid: pid, process: try entry(pid)), source: .bpf)

        let shared = queued.filter { $0.queue == "shared" }
        XCTAssertEqual(shared.map(\.signal), ["SIGRTMIN", "SIGRTMIN", "SIGRTMIN", "SIGRTMIN", "SIGRTMIN", "SIGUSR1"])
        XCTAssertEqual(shared.prefix(5).map(\.valueInt), [100, 101, 102, 103, 104])
        XCTAssertEqual(shared.map(\.position), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(shared.prefix(5).map(\.code), Array(repeating: "SI_QUEUE", count: 5))
        XCTAssertEqual(shared.last?.code, "SI_USER")
        XCTAssertEqual(shared.last?.senderPid, pid)
        XCTAssertNil(shared.last?.valueInt)
        XCTAssertEqual(shared.map(\.senderPid), Array(repeating: pid, count: 6))
        XCTAssertEqual(shared.map(\.senderUid), Array(repeating: getuid(), count: 6))

        let threadQueue = queued.filter { $0.queue == "thread" }
        XCTAssertEqual(threadQueue.count, 1)
        XCTAssertEqual(threadQueue.first?.tid, pid)
        XCTAssertEqual(threadQueue.first?.signal, "SIGRTMIN+1")
        XCTAssertEqual(threadQueue.first?.valueInt, 777)
        XCTAssertEqual(threadQueue.first?.code, "SI_QUEUE")
    }

    func testPendingMasksMatchProc() throws {
        try requireBPF()
        let fixture = try CaseProgram.start("bc28_sigpending.c")
        let target = Target(pid: fixture.pid, process: try entry(fixture.pid))
        let bpf = try SignalsKind.collect(target, source: .bpf)
        let proc = try SignalsKind.collect(target, source: .proc)

        let byName = Dictionary(uniqueKeysWithValues: bpf.map { ($0.signal, $0) })
        XCTAssertEqual(byName["SIGUSR1"]?.pendingShared, true)
        XCTAssertEqual(byName["SIGRTMIN"]?.pendingShared, true)
        XCTAssertEqual(byName["SIGRTMIN+1"]?.pendingShared, false)
        XCTAssertEqual(byName["SIGRTMIN+1"]?.pendingIn, [fixture.pid])
        for name in ["SIGUSR1", "SIGRTMIN", "SIGRTMIN+1"] {
            XCTAssertEqual(byName[name]?.blockedIn, [fixture.pid], name)
        }
        XCTAssertEqual(bpf.count, 64)
        for (a, b) in zip(bpf, proc) {
            XCTAssertEqual(a.disposition, b.disposition, a.signal)
            XCTAssertEqual(a.blockedIn, b.blockedIn, a.signal)
            XCTAssertEqual(a.pendingShared, b.pendingShared, a.signal)
            XCTAssertEqual(a.pendingIn, b.pendingIn, a.signal)
        }
    }

    func testHandlerFlagsAndMask() throws {
        try requireBPF()
        let fixture = try Fixture(c: "signal_actions")
        let target = Target(pid: fixture.pid, process: try entry(fixture.pid))
        let actions = try SignalsKind.collect(target, source: .bpf)
        let byName = Dictionary(uniqueKeysWithValues: actions.map { ($0.signal, $0) })

        let usr2 = try XCTUnwrap(byName["SIGUSR2"])
        XCTAssertEqual(usr2.disposition, .handler)
        XCTAssertEqual(usr2.handler, fixture.values["handler"])
        XCTAssertEqual(usr2.flags, ["SA_SIGINFO", "SA_RESTORER", "SA_ONSTACK", "SA_RESTART"])
        XCTAssertEqual(usr2.handlerMask, ["SIGINT", "SIGTERM"])
        XCTAssertEqual(byName["SIGPIPE"]?.disposition, .ignore)
        XCTAssertEqual(byName["SIGPIPE"]?.handler, nil)
        XCTAssertEqual(byName["SIGHUP"]?.disposition, .default)

        let proc = try SignalsKind.collect(target, source: .proc)
        XCTAssertEqual(actions.map(\.disposition), proc.map(\.disposition))
        XCTAssertEqual(actions.map(\.blockedIn), proc.map(\.blockedIn))
    }

    func testThreadMasksAndAltStack() throws {
        try requireBPF()
        let fixture = try Fixture(c: "signal_actions")
        let target = Target(pid: fixture.pid, process: try entry(fixture.pid))
        let worker = Int32(try XCTUnwrap(fixture.int("worker")))
        let threads = try ThreadSignalsKind.collect(target, source: .bpf)
        XCTAssertEqual(threads.map(\.tid), [fixture.pid, worker])

        let main = threads[0]
        XCTAssertEqual(main.blocked, ["SIGTERM"])
        XCTAssertEqual(main.altStack?.address, fixture.values["altstack"])
        XCTAssertEqual(main.altStack?.size, 65536)
        XCTAssertEqual(main.altStack?.flags, ["SS_AUTODISARM"])
        XCTAssertEqual(main.rseqLength, 32, "glibc 2.35+ registers a 32-byte rseq area per thread")
        XCTAssertNotEqual(main.robustList, "none")

        let second = threads[1]
        XCTAssertEqual(second.blocked, ["SIGHUP", "SIGWINCH"])
        XCTAssertEqual(second.altStack?.flags, ["SS_DISABLE"], "a new thread starts without an alternate stack")
        XCTAssertNotEqual(second.rseq, main.rseq)

        let proc = try ThreadSignalsKind.collect(target, source: .proc)
        XCTAssertEqual(threads.map(\.blocked), proc.map(\.blocked))
        XCTAssertEqual(threads.map(\.pending), proc.map(\.pending))
    }

    private func entry(_ pid: Int32) throws -> ProcessEntry {
        try XCTUnwrap(ProcessListBPF.collect(pid: pid).first)
    }
}
