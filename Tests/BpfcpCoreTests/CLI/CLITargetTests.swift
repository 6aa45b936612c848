@testable import BpfcpCore
import XCTest

/// Pids that name something other than a live user process: each gives one
/// line naming the pid and what to do, in text and JSON mode.
final class CLITargetTests: XCTestCase {
    func testNonexistentPid() throws {
        try requireBPF()
        let pid = try unusedPid()
        for source in [[], ["--proc"]] {
            try assertOneLineError(["dump", "\(pid)"] + source, status: 1, code: "no_such_process",
                                   message: "process \(pid) not found: check the pid with `bpfcp ps`")
        }
        try assertOneLineError(["ps", "--pid", "\(pid)"], status: 1, code: "no_such_process",
                               message: "no process with pid \(pid) found: check the pid with `bpfcp ps`")
    }

    /// Pid 1 is in /proc everywhere, but some sandboxes hide it from task
    /// iterators. Where the iterator lists it, dumping its threads works.
    func testPidHiddenFromIterator() throws {
        try requireBPF()
        let listed = try ProcessListBPF.collect(pid: 1).contains { $0.pid == 1 }
        guard !listed else {
            let result = try CLI.run(["--json", "dump", "--only", "threads", "1"])
            XCTAssertEqual(result.status, 0, result.err)
            return
        }
        try assertOneLineError(["dump", "1"], status: 1, code: "not_iterated",
                               message: "process 1 is in /proc, but the kernel's task iterator does not list it, so eBPF cannot read it: dump it from /proc with `bpfcp dump 1 --proc`")
        // Every kind, as the hint's command line has it: with --only context
        // the memory kind, which found /proc/1/maps denied and reported pid 1
        // as not found, never ran.
        let text = try CLI.run(["dump", "1", "--proc"])
        XCTAssertEqual(text.status, 0, text.err)
        XCTAssertEqual(text.err, "")
        let fromProc = try CLI.run(["--json", "dump", "1", "--proc"])
        XCTAssertEqual(fromProc.status, 0, fromProc.err)
        let kinds = try XCTUnwrap(try fromProc.json()["kinds"] as? [String: [String: Any]], fromProc.out)
        XCTAssertEqual(Set(kinds.keys), Set(KindRegistry.all.map(\.name)))
        let memory = try XCTUnwrap(kinds["memory"])
        // access() passes for root, but opening the file runs the ptrace access check.
        if FileHandle(forReadingAtPath: "/proc/1/maps") != nil {
            XCTAssertNil(memory["unavailable"])
        } else {
            XCTAssertEqual(memory["unavailable"] as? String, "denied even to root: opening /proc/1/maps failed: Permission denied")
        }
    }

    func testKernelThread() throws {
        try requireBPF()
        let (pid, comm) = try kernelThread()
        for source in [[], ["--proc"]] {
            try assertOneLineError(["dump", "\(pid)"] + source, status: 1, code: "kernel_thread",
                                   message: "process \(pid) (\(comm)) is a kernel thread: it has no user state to dump; pick a user process")
        }
    }

    func testZombie() throws {
        try requireBPF()
        let binary = try compileCase("bc31_zombie")
        let fixture = try Fixture(executable: binary, arguments: [], readyPrefix: "parent ")
        defer { fixture.stop() }
        let words = fixture.firstLine.split(separator: " ")
        let zombie = try XCTUnwrap(Int32(words.last ?? ""))
        try waitForZombie(zombie)

        for source in [[], ["--proc"]] {
            try assertOneLineError(["dump", "\(zombie)"] + source, status: 1, code: "zombie",
                                   message: "process \(zombie) (bc31_zombie) is a zombie that exited with status 3: only its parent can reap it; dump the parent instead")
        }
        let parent = try CLI.run(["--json", "dump", "--only", "threads", "\(fixture.pid)"])
        XCTAssertEqual(parent.status, 0, parent.out)

        for source in [[], ["--proc"]] {
            let listed = try CLI.run(["--json", "ps", "--pid", "\(zombie)"] + source).json()
            let process = try XCTUnwrap((listed["processes"] as? [[String: Any]])?.first)
            XCTAssertEqual(process["state"] as? String, "Z")
            XCTAssertEqual(process["exit_status"] as? Int, 3)
            XCTAssertEqual(process["is_kernel_thread"] as? Bool, false)
            let row = try CLI.run(["ps", "--pid", "\(zombie)"] + source).outLines.last ?? ""
            XCTAssertTrue(row.hasSuffix(" Z    1       0 B  00:00:00 [bc31_zombie] <defunct>"), row)
        }
    }

    func testZombieKilledBySignal() throws {
        try requireBPF()
        let fixture = try Fixture(c: "cli_zombie_signal")
        let zombie = try XCTUnwrap(fixture.int("zombie"))
        for source in [[], ["--proc"]] {
            try assertOneLineError(["dump", "\(zombie)"] + source, status: 1, code: "zombie",
                                   message: "process \(zombie) (cli_zombie_sign) is a zombie killed by SIGKILL: only its parent can reap it; dump the parent instead")
        }
    }

    func testThreadIdInsteadOfPid() throws {
        try requireBPF()
        let fixture = try Fixture(c: "cli_target")
        let tid = try XCTUnwrap(fixture.int("tid"))
        for source in [[], ["--proc"]] {
            try assertOneLineError(["dump", "\(tid)"] + source, status: 1, code: "thread_id",
                                   message: "pid \(tid) is a thread of process \(fixture.pid), not a process: run `bpfcp dump \(fixture.pid)`")
        }
    }

    func testOnlyKeepsRegistryOrderOnce() throws {
        try requireBPF()
        let fixture = try Fixture(c: "cli_target")
        let result = try CLI.run(["dump", "--only", "files,threads,files", "\(fixture.pid)"])
        XCTAssertEqual(result.status, 0, result.err)
        let titles = result.outLines.filter { $0.hasPrefix("Threads (") || $0.hasPrefix("Files (") }.map { $0.prefix { $0 != " " } }
        XCTAssertEqual(titles, ["Threads", "Files"])
    }

    func testDumpSucceedsOnFixture() throws {
        try requireBPF()
        let fixture = try Fixture(c: "cli_target")
        let fd = try XCTUnwrap(fixture.int("fd"))
        for source in [[], ["--proc"]] {
            let result = try CLI.run(["--json", "dump", "--only", "threads,files", "\(fixture.pid)"] + source)
            XCTAssertEqual(result.status, 0, result.err)
            let object = try result.json()
            let kinds = try XCTUnwrap(object["kinds"] as? [String: Any])
            XCTAssertEqual(Set(kinds.keys), ["threads", "files"])
            let threads = try XCTUnwrap((kinds["threads"] as? [String: Any])?["items"] as? [[String: Any]])
            XCTAssertEqual(threads.count, 2)
            let files = try XCTUnwrap((kinds["files"] as? [String: Any])?["items"] as? [[String: Any]])
            let devNull = files.first { ($0["fd"] as? Int) == Int(fd) }
            XCTAssertEqual(devNull?["path"] as? String, "/dev/null")
        }
    }

    /// A pid above every live pid, which no process holds.
    private func unusedPid() throws -> Int32 {
        let max = Int32(try ProcFS.readText("/proc/sys/kernel/pid_max").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 32768
        for pid in stride(from: max - 1, to: 1, by: -1) where !FileManager.default.fileExists(atPath: "/proc/\(pid)") {
            return pid
        }
        throw FixtureError("no unused pid below \(max)")
    }

    /// The first kernel thread in /proc other than pid 1, with its comm.
    private func kernelThread() throws -> (Int32, String) {
        let pfKthread: UInt64 = 0x0020_0000
        let pids = try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap { Int32($0) }.sorted()
        for pid in pids where pid > 1 {
            guard let stat = try? StatLine(ProcFS.readBytes("/proc/\(pid)/stat")) else { continue }
            if stat.number(9) & pfKthread != 0 { return (pid, Escape.bytes(stat.comm)) }
        }
        throw FixtureError("no kernel thread found in /proc")
    }

    private func waitForZombie(_ pid: Int32) throws {
        for _ in 0..<200 {
            if let stat = try? StatLine(ProcFS.readBytes("/proc/\(pid)/stat")), stat.state == "Z" { return }
            usleep(10_000)
        }
        throw FixtureError("process \(pid) did not become a zombie")
    }
}

/// Builds a C program of the shared cases into build/fixtures/NAME.
func compileCase(_ name: String) throws -> String {
    let binary = Fixture.repositoryRoot() + "/build/fixtures/\(name)"
    try FileManager.default.createDirectory(atPath: Fixture.repositoryRoot() + "/build/fixtures", withIntermediateDirectories: true)
    let gcc = Process()
    gcc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
    gcc.arguments = ["-Wall", "-O2", "-pthread", "-o", binary, Fixture.casePath(name + ".c")]
    try gcc.run()
    gcc.waitUntilExit()
    guard gcc.terminationStatus == 0 else { throw FixtureError("gcc failed on \(name).c") }
    return binary
}
