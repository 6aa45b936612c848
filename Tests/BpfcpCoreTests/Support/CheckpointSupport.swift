@testable import BpfcpCore
import CBpfcpShim
import Foundation
import XCTest

/// Helpers shared by the checkpoint tests.
enum CheckpointSupport {
    /// A fresh directory under /tmp, removed by the caller.
    static func scratchDirectory(_ name: String) throws -> String {
        let path = NSTemporaryDirectory() + "bpfcp-test-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The one-letter state and TracerPid of every thread of `pid`.
    static func threadStates(_ pid: Int32) -> [(tid: Int32, state: String, tracer: Int32)] {
        Freezer.taskIds(pid).map { tid in
            (tid, Freezer.taskState(tid) ?? "?", Freezer.tracerPid(of: tid) ?? -1)
        }
    }

    /// Whether every thread of `pid` is blocked in pause(), system call 34 on x86-64.
    static func allInPause(_ pid: Int32) -> Bool {
        Freezer.taskIds(pid).allSatisfy { tid in
            ((try? ProcFS.readText("/proc/\(pid)/task/\(tid)/syscall")) ?? "").hasPrefix("34 ")
        }
    }

    /// Waits up to `seconds` until `condition` holds.
    static func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(2000)
        }
        return condition()
    }

    /// Asserts that no thread of `pid` is traced and each is in `state`.
    static func assertReleased(_ pid: Int32, state: String = "S", file: StaticString = #filePath, line: UInt = #line) {
        let settled = waitUntil(5) { threadStates(pid).allSatisfy { $0.tracer == 0 && $0.state == state } }
        XCTAssertTrue(settled, "threads of \(pid) after release: \(threadStates(pid))", file: file, line: line)
    }

    /// The expected 64-bit word at index `i` of the fixture's patterned region.
    static func pattern(_ i: UInt64) -> UInt64 {
        (i &* 0x9E37_79B9_7F4A_7C15) ^ 0x5BD1_E995_5BD1_E995
    }

    /// Reads `count` bytes of saved memory at `address` of `image`, failing when any page is missing.
    static func savedBytes(_ checkpoint: Checkpoint, _ image: ProcessImage, address: UInt64, count: UInt64) throws -> [UInt8] {
        var out: [UInt8] = []
        var at = address
        while at < address + count {
            let run = try XCTUnwrap(image.memory.flatMap(\.runs).first { at >= $0.address && at < $0.address + $0.pages * 4096 },
                                    "no saved page at \(Format.hex(at))")
            let runEnd = run.address + run.pages * 4096
            let take = min(runEnd, address + count) - at
            out += try checkpoint.pages.read(offset: run.offset + (at - run.address), count: Int(take))
            at += take
        }
        return out
    }

    /// PTRACE_GETREGS and the XSAVE area of `tid`, taken by seizing it here, independently of the Freezer.
    static func independentRegisters(_ tid: Int32) throws -> ([String: UInt64], Data) {
        guard bpfcp_ptrace(Int(bpfcp_ptrace_request("PTRACE_SEIZE")), tid, nil, nil) == 0 else {
            throw FixtureError("PTRACE_SEIZE of \(tid) failed: errno \(errno)")
        }
        defer { _ = bpfcp_ptrace(Int(bpfcp_ptrace_request("PTRACE_DETACH")), tid, nil, nil) }
        _ = bpfcp_ptrace(Int(bpfcp_ptrace_request("PTRACE_INTERRUPT")), tid, nil, nil)
        guard waitUntil(5, { Freezer.taskState(tid) == "t" }) else { throw FixtureError("thread \(tid) did not stop") }
        var status: Int32 = 0
        _ = waitpid(tid, &status, __WALL | WNOHANG)
        let state = try ThreadCapture.capture(tid)
        return (state.registers, state.xsave)
    }

    /// Starts restore_basic in a new directory, with a heap block and an anonymous
    /// mapping of `mib` MiB each and `files` open files, checkpoints it to DIR/image
    /// with `options` and kills it. Returns the directory and the fixture's pid.
    static func checkpointBasic(mib: Int, files: Int, options: CaptureOptions = CaptureOptions(),
                                file: StaticString = #filePath, line: UInt = #line) throws -> (String, Int32) {
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_basic", arguments: [dir, "\(mib)", "\(files)"])
        let pid = fixture.pid
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass", file: file, line: line)

        _ = try Checkpointer.dump(pid: pid, to: dir + "/image", options: options, kill: false)
        fixture.stop()
        try RestoredProcess.waitGone(pid)
        return (dir, pid)
    }

    /// Path of the bpfcp binary built beside the tests.
    static func bpfcpBinary() throws -> String {
        let path = Fixture.repositoryRoot() + "/.build/debug/bpfcp"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw FixtureError("\(path) not found: run `swift build` (make test does) before these tests")
        }
        return path
    }
}

/// A resource kind whose collector always fails, to test release on errors.
enum FailingKind: ResourceKind {
    static let name = "failing"
    static let title = "Failing"
    static let columns: [Column] = []

    static func collect(_ target: Target, source: CollectorSource) throws -> [Int] {
        throw BpfcpError("test_failure", "the failing kind failed on purpose")
    }

    static func entry(_ item: Int) -> Entry {
        Entry(key: "\(item)", cells: [], fields: [])
    }
}

/// SplitMix64, a small deterministic generator for the fuzz test.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
