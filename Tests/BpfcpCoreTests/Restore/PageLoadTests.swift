@testable import BpfcpCore
import XCTest

/// The fast page path of restore: anonymous pages placed with UFFDIO_COPY,
/// and the pages checksum checked on its own thread while the memory is rebuilt.
final class PageLoadTests: XCTestCase {
    /// More pages than any buffer of restore contains (the trampoline
    /// payload is 448 KiB), in runs of several MiB. Every saved byte must be
    /// in place, file-backed areas included, while the process is held at
    /// its final registers before it ran any instruction.
    func testLargeRunsRestoreByteIdentical() throws {
        try requireBPF()
        let (dir, pid) = try CheckpointSupport.checkpointBasic(mib: 24, files: 2)
        let checkpoint = try CheckpointImage.open(dir + "/image")
        let image = try XCTUnwrap(checkpoint.process(pid))
        let plan = try ImagePlan.build(image, checkpoint: checkpoint)
        let trace = TraceLines()
        var compared = 0
        var differing: [String] = []
        let outcome = try ProcessRestorer.restore(plan, options: RestoreOptions(trace: trace.append), beforeDetach: { restoredPid, _ in
            do {
                (compared, differing) = try Self.compare(plan, pid: restoredPid)
            } catch {
                differing = ["reading the restored memory: \(error)"]
            }
        })
        let restored = RestoredProcess(pid: outcome.pid)
        defer { restored.stop() }

        XCTAssertEqual(outcome.pid, pid)
        XCTAssertEqual(differing, [])
        XCTAssertEqual(compared, image.memory.reduce(0) { $0 + $1.runs.reduce(0) { $0 + Int($1.pages * checkpoint.info.pageSize) } })
        XCTAssertGreaterThanOrEqual(compared, 48 << 20)
        XCTAssertEqual(trace.lines.filter { $0.hasPrefix("userfaultfd(O_CLOEXEC|O_NONBLOCK) = ") }.count, 1, trace.lines.joined(separator: "\n"))
        XCTAssertEqual(trace.lines.filter { $0.contains("written instead") }, [])
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
    }

    /// Compares every page run of `plan` with the restored process's memory;
    /// returns the bytes compared and the runs that differ.
    private static func compare(_ plan: RestorePlan, pid: Int32) throws -> (Int, [String]) {
        let memory = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC)
        guard memory >= 0 else { throw FixtureError("opening /proc/\(pid)/mem: errno \(errno)") }
        defer { close(memory) }
        var compared = 0
        var differing: [String] = []
        var files: [String: MappedFile] = [:]
        let kernelOwned = rseqCPUFields(plan)
        for area in plan.areas {
            for run in area.runs {
                if files[run.file] == nil { files[run.file] = try MappedFile(path: run.file) }
                let saved = UnsafeRawBufferPointer(start: files[run.file]!.base + Int(run.offset), count: run.count)
                var live = [UInt8](repeating: 0, count: run.count)
                let read = live.withUnsafeMutableBytes { pread(memory, $0.baseAddress, run.count, off_t(Int64(bitPattern: run.address))) }
                for field in kernelOwned where field.lowerBound >= run.address && field.upperBound <= run.address + UInt64(run.count) {
                    let start = Int(field.lowerBound - run.address)
                    live.replaceSubrange(start..<start + field.count, with: saved[start..<start + field.count])
                }
                let same = read == run.count && live.withUnsafeBytes { memcmp($0.baseAddress!, saved.baseAddress!, run.count) == 0 }
                if !same {
                    differing.append("\(Format.hex(run.address)) \(area.name): \(run.count) bytes")
                }
                compared += run.count
            }
        }
        return (compared, differing)
    }

    /// The fields of each thread's struct rseq that the kernel rewrites
    /// whenever the thread returns to user space: cpu_id_start and cpu_id
    /// (bytes 0-7), node_id and mm_cid (bytes 20-27). They hold the CPU the
    /// restored process runs on, which on two CPUs differs from the saved
    /// one about half the time.
    private static func rseqCPUFields(_ plan: RestorePlan) -> [Range<UInt64>] {
        plan.threads.compactMap(\.registration.rseq).flatMap { rseq in
            [rseq.address..<rseq.address + 8, rseq.address + 20..<rseq.address + 28]
        }
    }

    /// A byte flipped in the middle of the pages section is found by the
    /// check that runs alongside the restore. The half-made process is
    /// killed after its memory and before any of its fds, and nothing of it
    /// is left, not even a zombie.
    func testFlippedByteInMiddleOfPagesIsRefused() throws {
        try requireBPF()
        let (dir, pid) = try CheckpointSupport.checkpointBasic(mib: 8, files: 2)
        let path = dir + "/image/pages.img"
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64)
        let middle = UInt64(ImageFormat.headerSize) + (size - UInt64(ImageFormat.headerSize)) / 2
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: middle)
        let byte = try XCTUnwrap(handle.readData(ofLength: 1).first)
        try handle.seek(toOffset: middle)
        handle.write(Data([byte ^ 0x01]))
        try handle.close()

        let trace = TraceLines()
        XCTAssertThrowsError(try Restore.run(imageDirectory: dir + "/image", options: RestoreOptions(trace: trace.append))) { error in
            XCTAssertEqual((error as? BpfcpError)?.code, "bad_image")
            XCTAssertEqual((error as? BpfcpError)?.message.hasPrefix("image \(dir)/image: section 'pages' is corrupt: payload checksum "), true, "\(error)")
        }
        XCTAssertEqual(kill(pid, 0), -1, "the half-restored process \(pid) was left behind")
        var status: Int32 = 0
        XCTAssertEqual(waitpid(pid, &status, WNOHANG | Int32(__WALL)), -1, "the half-restored process \(pid) was not reaped")
        XCTAssertEqual(trace.lines.filter { $0.contains("\(dir)/f0") }, [], "fds were restored before the check")
        XCTAssertEqual(trace.lines.filter { $0.hasPrefix("pages.img checksum matches") }, [])
    }

    /// The same image is refused by `CheckpointImage.open`, which checks every checksum before returning.
    func testOpenStillChecksPagesUpFront() throws {
        let (dir, _) = try CheckpointSupport.checkpointBasic(mib: 1, files: 1)
        let path = dir + "/image/pages.img"
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: UInt64(ImageFormat.headerSize) + 5000)
        let byte = try XCTUnwrap(handle.readData(ofLength: 1).first)
        try handle.seek(toOffset: UInt64(ImageFormat.headerSize) + 5000)
        handle.write(Data([byte ^ 0x80]))
        try handle.close()

        XCTAssertThrowsError(try CheckpointImage.open(dir + "/image")) { error in
            XCTAssertEqual((error as? BpfcpError)?.message.hasPrefix("image \(dir)/image: section 'pages' is corrupt: payload checksum "), true, "\(error)")
        }
    }
}
