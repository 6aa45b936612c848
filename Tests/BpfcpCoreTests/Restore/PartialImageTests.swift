@testable import BpfcpCore
import Foundation
import XCTest

/// Restore rejects images that would bring a process back incomplete, and
/// names the owner of a taken pid in words a user can act on.
final class PartialImageTests: XCTestCase {
    func testOnlyImageRejected() throws {
        try requireBPF()
        let limits = try XCTUnwrap(KindRegistry.named("limits"))
        let (dir, pid) = try CheckpointSupport.checkpointBasic(mib: 1, files: 2, options: CaptureOptions(kinds: [limits]))

        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions())) { error in
            let error = error as? BpfcpError
            XCTAssertEqual(error?.code, "restore_unsupported")
            let missing = KindRegistry.all.map(\.name).filter { $0 != "limits" }.joined(separator: ", ")
            XCTAssertEqual(error?.message, "cannot restore process \(pid): its image lacks the resource kinds \(missing), as a checkpoint taken with --only does; checkpoint it again without --only; nothing was created")
        }
        XCTAssertEqual(kill(pid, 0), -1, "a process took pid \(pid)")

        // The same image still reads for show and diff.
        let image = try CheckpointImage.open(dir + "/image")
        XCTAssertEqual(image.processes.first?.sections.map(\.kind), ["limits"])
    }

    func testTakenThreadNamesProcess() throws {
        let started = DispatchSemaphore(value: 0)
        let finish = DispatchSemaphore(value: 0)
        let box = TidBox()
        let thread = Thread {
            // /proc/thread-self links to "PID/task/TID".
            let link = String(decoding: ProcFS.readLink("/proc/thread-self") ?? [], as: UTF8.self)
            box.tid = Int32(link.split(separator: "/").last ?? "") ?? 0
            started.signal()
            finish.wait()
        }
        thread.start()
        started.wait()
        defer { finish.signal() }
        let tid = box.tid

        let comm = try ProcFS.readText("/proc/self/comm").trimmingCharacters(in: .newlines)
        XCTAssertEqual(Tracee.processName(tid), "thread \(tid) of process \(getpid()) (\(Escape.text(comm)))")
        XCTAssertEqual(Tracee.processName(getpid()), "process \(getpid()) (\(Escape.text(comm)))")
    }
}

/// A thread id carried out of the thread that reads it. The semaphore orders the accesses.
private final class TidBox: @unchecked Sendable {
    var tid: Int32 = 0
}
