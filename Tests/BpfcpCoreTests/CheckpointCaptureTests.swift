@testable import BpfcpCore
import Foundation
import XCTest

final class CheckpointCaptureTests: XCTestCase {
    func testRegistersEqualPtraceAndBPF() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "2"])
        XCTAssertTrue(CheckpointSupport.waitUntil(5) { CheckpointSupport.allInPause(fixture.pid) }, "fixture threads never reached pause()")
        let checkpoint = try Checkpointer.capture(pid: fixture.pid)
        let image = try XCTUnwrap(checkpoint.process(fixture.pid))
        XCTAssertEqual(image.threads.map(\.tid), Freezer.taskIds(fixture.pid))
        CheckpointSupport.assertReleased(fixture.pid)

        // The threads sleep in pause(), so a second, independent seize sees the same registers.
        for thread in image.threads {
            let (registers, xsave) = try CheckpointSupport.independentRegisters(thread.tid)
            XCTAssertEqual(thread.registers, registers, "registers of thread \(thread.tid)")
            XCTAssertEqual(thread.xsave, xsave, "XSAVE area of thread \(thread.tid)")
            XCTAssertEqual(thread.registers.count, 27)
            XCTAssertNotEqual(thread.registers["fs_base"], 0)
        }

        // bpf_task_pt_regs in the threads kind ran while the threads were held.
        let threadsSection = try XCTUnwrap(image.sections.first { $0.kind == "threads" })
        let infos = try threadsSection.items.map { try $0.decode(as: ThreadInfo.self) }
        for info in infos {
            let held = try XCTUnwrap(image.threads.first { $0.tid == info.tid })
            let bpfRegisters = try XCTUnwrap(info.registers, "BPF registers of thread \(info.tid)")
            XCTAssertEqual(bpfRegisters[16], held.registers["rip"], "rip of thread \(info.tid)")
            XCTAssertEqual(bpfRegisters[19], held.registers["rsp"], "rsp of thread \(info.tid)")
        }
        CheckpointSupport.assertReleased(fixture.pid)
    }

    func testMemoryEqualsPattern() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["64", "1"])
        let region = UInt64(try XCTUnwrap(fixture.values["region"]))!
        let size = UInt64(try XCTUnwrap(fixture.values["size"]))!
        let shared = UInt64(try XCTUnwrap(fixture.values["shared"]))!
        let reserve = UInt64(try XCTUnwrap(fixture.values["reserve"]))!

        let checkpoint = try Checkpointer.capture(pid: fixture.pid)
        let image = try XCTUnwrap(checkpoint.process(fixture.pid))
        CheckpointSupport.assertReleased(fixture.pid)

        let bytes = try CheckpointSupport.savedBytes(checkpoint, image, address: region, count: size)
        var mismatches = 0
        bytes.withUnsafeBytes { raw in
            for i in 0..<Int(size / 8) where raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) != CheckpointSupport.pattern(UInt64(i)) {
                mismatches += 1
            }
        }
        XCTAssertEqual(mismatches, 0, "64-bit words of the patterned region that differ")

        let sharedBytes = try CheckpointSupport.savedBytes(checkpoint, image, address: shared, count: 1 << 20)
        XCTAssertEqual(sharedBytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8 * 77, as: UInt64.self) }, ~CheckpointSupport.pattern(77))
        XCTAssertEqual(image.memory.first { $0.area.start == shared }?.contents, .sharedPages)

        let reservation = try XCTUnwrap(image.memory.first { $0.area.start == reserve })
        XCTAssertEqual(reservation.area.size, 16 << 40)
        XCTAssertTrue(reservation.runs.isEmpty, "a PROT_NONE reservation has no saved pages")
        XCTAssertTrue(image.memory.filter { $0.contents == .kernel }.allSatisfy { $0.runs.isEmpty })
    }

    func testMemoryStreamsPastStagingBudget() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["8", "0"])
        let region = UInt64(try XCTUnwrap(fixture.values["region"]))!
        let size = UInt64(try XCTUnwrap(fixture.values["size"]))!

        let checkpoint = try Checkpointer.capture(pid: fixture.pid, options: CaptureOptions(stagingBudget: 1 << 20))
        let image = try XCTUnwrap(checkpoint.process(fixture.pid))
        let bytes = try CheckpointSupport.savedBytes(checkpoint, image, address: region, count: size)
        let words = bytes.withUnsafeBytes { raw in (0..<Int(size / 8)).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) } }
        XCTAssertEqual(words, (0..<size / 8).map(CheckpointSupport.pattern))
        XCTAssertGreaterThan(checkpoint.info.stats.pagesWritten, size / 4096)
        CheckpointSupport.assertReleased(fixture.pid)
    }

    func testMemfdContentsSavedOnce() throws {
        try requireBPF()
        let fixture = try Fixture(c: "memfd_holder")
        let fd = Int32(try XCTUnwrap(fixture.int("fd")))
        let dup = Int32(try XCTUnwrap(fixture.int("fd_dup")))
        let checkpoint = try Checkpointer.capture(pid: fixture.pid)
        let image = try XCTUnwrap(checkpoint.process(fixture.pid))
        CheckpointSupport.assertReleased(fixture.pid)

        let file = try XCTUnwrap(image.files.first { $0.fd == fd })
        XCTAssertEqual(file.path, "/memfd:bpfcp-memfd (deleted)")
        XCTAssertEqual(file.size, (1 << 20) + 4)
        XCTAssertEqual(file.runs.map(\.fileOffset), [0, 1 << 20], "two extents around the hole")
        let head = try checkpoint.pages.read(offset: file.runs[0].offset, count: 10000)
        XCTAssertEqual(head, (0..<10000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        let tail = try checkpoint.pages.read(offset: file.runs[1].offset, count: Int(file.runs[1].length))
        XCTAssertEqual(tail, Array("tail".utf8))
        XCTAssertEqual(image.files.first { $0.fd == dup }?.runs, file.runs, "the second fd points at the same stored bytes")
    }

    func testTreeStoresSharedPagesOnce() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "0", "fork"])
        let child = Int32(try XCTUnwrap(fixture.int("child")))
        let shared = UInt64(try XCTUnwrap(fixture.values["shared"]))!

        let checkpoint = try Checkpointer.capture(pid: fixture.pid, options: CaptureOptions(tree: true))
        XCTAssertEqual(checkpoint.processes.map(\.pid), [fixture.pid, child])
        let parentRuns = try XCTUnwrap(checkpoint.process(fixture.pid)?.memory.first { $0.area.start == shared }).runs
        let childRuns = try XCTUnwrap(checkpoint.process(child)?.memory.first { $0.area.start == shared }).runs
        XCTAssertEqual(parentRuns.map(\.offset), childRuns.map(\.offset), "both processes point at the same stored pages")
        XCTAssertEqual(checkpoint.info.stats.pagesShared, 256, "the child touched all 256 pages of the 1 MiB region")
        CheckpointSupport.assertReleased(fixture.pid)
        CheckpointSupport.assertReleased(child)
    }

    func testThreadSetConsistentUnderChurn() throws {
        try requireBPF()
        let fixture = try Fixture(c: "thread_churn")
        for round in 0..<20 {
            let checkpoint = try Checkpointer.capture(pid: fixture.pid)
            let image = try XCTUnwrap(checkpoint.process(fixture.pid))
            let held = Set(image.threads.map(\.tid))
            let threadsSection = try XCTUnwrap(image.sections.first { $0.kind == "threads" })
            let listed = Set(try threadsSection.items.map { try $0.decode(as: ThreadInfo.self).tid })
            XCTAssertEqual(held, listed, "round \(round): held threads and the threads kind differ")
            XCTAssertGreaterThanOrEqual(held.count, 5, "round \(round): main and four spawners")
        }
        XCTAssertTrue(CheckpointSupport.waitUntil(5) { CheckpointSupport.threadStates(fixture.pid).allSatisfy { $0.tracer == 0 } })
    }

    func testStoppedProcessStaysStopped() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "1"])
        kill(fixture.pid, SIGTSTP)
        XCTAssertTrue(CheckpointSupport.waitUntil(5) { Freezer.taskState(fixture.pid) == "T" })

        let checkpoint = try Checkpointer.capture(pid: fixture.pid)
        XCTAssertEqual(checkpoint.process(fixture.pid)?.stopSignal, "SIGTSTP")
        CheckpointSupport.assertReleased(fixture.pid, state: "T")
        kill(fixture.pid, SIGCONT)
        CheckpointSupport.assertReleased(fixture.pid)
    }

    func testReleasedAfterCollectorError() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "2"])
        let options = CaptureOptions(kinds: [KindDescriptor(FailingKind.self)])
        XCTAssertThrowsError(try Checkpointer.capture(pid: fixture.pid, options: options)) { error in
            XCTAssertEqual((error as? BpfcpError)?.message,
                           "collecting failing of process \(fixture.pid) failed: the failing kind failed on purpose")
        }
        CheckpointSupport.assertReleased(fixture.pid)
    }

    func testTracedProcessRejected() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "0"])
        let tracer = try Fixture(c: "ptrace_holder", arguments: ["\(fixture.pid)"])
        XCTAssertThrowsError(try Checkpointer.capture(pid: fixture.pid)) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "already_traced")
            XCTAssertTrue((error as? BpfcpError)?.message.hasPrefix("process \(fixture.pid) is already traced by PID \(tracer.pid) (ptrace_holder):") ?? false,
                          "\(error)")
        }
        XCTAssertEqual(Freezer.tracerPid(of: fixture.pid), tracer.pid, "the first tracer keeps the process")
        XCTAssertTrue(CheckpointSupport.waitUntil(5) { Freezer.taskState(fixture.pid) == "S" }, "the target sleeps on, not stopped")
    }

    func testIoUringRejectedUntouched() throws {
        try requireBPF()
        let fixture = try Fixture(c: "io_uring_holder")
        let fd = try XCTUnwrap(fixture.int("ring_fd"))
        XCTAssertThrowsError(try Checkpointer.capture(pid: fixture.pid)) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "io_uring")
            XCTAssertTrue("\(error)".contains("io_uring instance on fd \(fd)"), "\(error)")
        }
        XCTAssertEqual(Freezer.tracerPid(of: fixture.pid), 0)
        XCTAssertTrue(CheckpointSupport.waitUntil(5) { Freezer.taskState(fixture.pid) == "S" }, "the target sleeps on, not stopped")
    }

    func testZombieChildRecorded() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "0", "zombie"])
        let child = Int32(try XCTUnwrap(fixture.int("child")))
        let checkpoint = try Checkpointer.capture(pid: fixture.pid, options: CaptureOptions(tree: true))
        let zombie = try XCTUnwrap(checkpoint.process(child))
        XCTAssertEqual(zombie.process.state, .zombie)
        XCTAssertEqual(zombie.process.exitStatus, 3)
        XCTAssertTrue(zombie.threads.isEmpty)
        CheckpointSupport.assertReleased(fixture.pid)
        XCTAssertEqual(Freezer.taskState(child), "Z", "the zombie stays unreaped")
    }
}
