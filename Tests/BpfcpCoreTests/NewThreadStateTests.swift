@testable import BpfcpCore
import Foundation
import XCTest

/// Threads that start while a checkpoint freezes the process have no state
/// read before the freeze. The image must still give their own state, not
/// the tracing stop that the capture causes.
final class NewThreadStateTests: XCTestCase {
    func testChurnImageHasNoTracingStop() throws {
        try requireBPF()
        let fixture = try Fixture(c: "thread_churn")
        for round in 0..<20 {
            let checkpoint = try Checkpointer.capture(pid: fixture.pid)
            let image = try XCTUnwrap(checkpoint.process(fixture.pid))
            let threadsSection = try XCTUnwrap(image.sections.first { $0.kind == "threads" })
            for thread in try threadsSection.items.map({ try $0.decode(as: ThreadInfo.self) }) {
                XCTAssertTrue([.running, .sleeping].contains(thread.state), "round \(round): thread \(thread.tid) has state \(thread.state.rawValue)")
                XCTAssertNil(thread.stopSignal, "round \(round): thread \(thread.tid)")
            }
        }
        XCTAssertTrue(CheckpointSupport.waitUntil(5) { CheckpointSupport.threadStates(fixture.pid).allSatisfy { $0.tracer == 0 } },
                      "threads still traced: \(CheckpointSupport.threadStates(fixture.pid).filter { $0.tracer != 0 }), test pid \(getpid())")
    }

    /// Applies a read before the freeze that saw no thread, as for threads
    /// that all started during the freeze, to the threads section of the held
    /// process, and checks each state against the registers ptrace returns.
    func testHeldThreadStateFromRegisters() throws {
        try requireBPF()
        let fixture = try Fixture(c: "thread_churn")
        let mainInPause = CheckpointSupport.waitUntil(5) {
            ((try? ProcFS.readText("/proc/\(fixture.pid)/task/\(fixture.pid)/syscall")) ?? "").hasPrefix("34 ")
        }
        XCTAssertTrue(mainInPause, "the main thread never reached pause()")
        let entry = try Dumper.validTarget(pid: fixture.pid, source: .proc)
        let freezer = Freezer()
        defer { freezer.release() }
        try freezer.freeze(pid: fixture.pid)

        let heldThreads = try ThreadsKind.collectBPF(pid: fixture.pid)
        let ptraceRegisters = try Dictionary(uniqueKeysWithValues: freezer.threads(of: fixture.pid).map { tid in
            (tid, try ThreadCapture.capture(tid).registers)
        })
        guard case .array(let items) = try JSONValue.from(heldThreads) else { return XCTFail("threads did not encode as an array") }
        let section = Section(kind: ThreadsKind.name, source: .bpf, unavailable: nil, elapsedNs: 0,
                              items: items, entries: heldThreads.map(ThreadsKind.entry))
        let noEarlierRead = PreFreezeState(process: entry, threads: [:])
        let applied = try XCTUnwrap(noEarlierRead.apply(to: [section]).first).items.map { try $0.decode(as: ThreadInfo.self) }
        freezer.release()

        XCTAssertEqual(Set(applied.map(\.tid)), Set(ptraceRegisters.keys))
        XCTAssertTrue(heldThreads.allSatisfy { $0.state == .tracingStop }, "every thread was held")
        for thread in applied {
            let registers = try XCTUnwrap(ptraceRegisters[thread.tid])
            let origRax = Int64(bitPattern: try XCTUnwrap(registers["orig_rax"]))
            let rax = Int64(bitPattern: try XCTUnwrap(registers["rax"]))
            let sleptInCall = origRax >= 0 && (-516 ... -512).contains(rax)
            XCTAssertEqual(thread.state, sleptInCall ? .sleeping : .running,
                           "thread \(thread.tid): orig_rax \(origRax), rax \(rax)")
            XCTAssertNil(thread.stopSignal, "thread \(thread.tid)")
        }
        XCTAssertEqual(applied.first { $0.tid == fixture.pid }?.state, .sleeping, "the main thread sleeps in pause()")
    }
}
