@testable import BpfcpCore
import XCTest

/// Checks the BPF process list against the procs_family fixture, which prints
/// the pid of a child in each state, and against /proc.
final class ProcessCollectorTests: XCTestCase {
    private var fixture: Fixture!

    override func setUpWithError() throws {
        try requireBPF()
        fixture = try Fixture(c: "procs_family", arguments: ["first-arg", "two words"])
        XCTAssertTrue(waitForThreads(of: fixture.pid), "fixture threads did not settle in pause()")
        XCTAssertTrue(waitForThreads(of: try pid("sleeper")), "sleeper did not settle in pause()")
    }

    override func tearDown() {
        fixture?.stop()
        fixture = nil
    }

    private func pid(_ key: String) throws -> Int32 {
        Int32(try XCTUnwrap(fixture.int(key), "fixture did not print \(key)"))
    }

    /// Maximum lag of the shared RSS counters behind the exact sum: three counters
    /// (file, anon, shmem), each with a per-CPU delta below the batch size of
    /// max(32, 2 * CPUs) pages.
    private var rssDeltaBound: Int64 {
        let cpus = Int64(sysconf(Int32(_SC_NPROCESSORS_CONF)))
        return 3 * cpus * max(32, 2 * cpus) * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }

    private func bpfEntries() throws -> [Int32: ProcessEntry] {
        let all = try ProcessListBPF.collect()
        return Dictionary(all.map { ($0.pid, $0) }, uniquingKeysWith: { first, _ in first })
    }

    func testParentMatchesFixture() throws {
        let entries = try bpfEntries()
        let parent = try XCTUnwrap(entries[fixture.pid])

        XCTAssertEqual(parent.ppid, getpid())
        XCTAssertEqual(parent.pgid, fixture.pid)
        XCTAssertEqual(parent.uid, getuid())
        XCTAssertEqual(parent.gid, getgid())
        XCTAssertEqual(parent.comm, "procs_family")
        XCTAssertEqual(parent.commandLine, Fixture.repositoryRoot() + "/build/fixtures/procs_family first-arg two words")
        XCTAssertFalse(parent.argvTruncated)
        XCTAssertEqual(parent.threads, Int(try XCTUnwrap(fixture.int("threads"))))
        XCTAssertEqual(parent.state, .sleeping)
        XCTAssertNil(parent.stopSignal)
        XCTAssertFalse(parent.isKernelThread)
        let touched = UInt64(try XCTUnwrap(fixture.int("touched"))) * 4096
        XCTAssertGreaterThanOrEqual(parent.rssBytes, touched)
    }

    func testChildStatesMatchFixture() throws {
        let entries = try bpfEntries()

        let sleeper = try XCTUnwrap(entries[try pid("sleeper")])
        XCTAssertEqual(sleeper.state, .sleeping)
        XCTAssertEqual(sleeper.ppid, fixture.pid)
        XCTAssertEqual(sleeper.threads, 1)

        let stopped = try XCTUnwrap(entries[try pid("stopped")])
        XCTAssertEqual(stopped.state, .stopped)
        XCTAssertEqual(stopped.stopSignal, "SIGSTOP")
        XCTAssertEqual(stopped.tracerPid, 0)

        let traced = try XCTUnwrap(entries[try pid("traced")])
        XCTAssertEqual(traced.state, .tracingStop)
        XCTAssertEqual(traced.stopSignal, "SIGUSR2")
        XCTAssertEqual(traced.tracerPid, fixture.pid)
    }

    func testZombiesKeepExitOutcome() throws {
        let entries = try bpfEntries()

        let exited = try XCTUnwrap(entries[try pid("exited")])
        XCTAssertEqual(exited.state, .zombie)
        XCTAssertEqual(exited.exitStatus, 7)
        XCTAssertNil(exited.exitSignal)
        XCTAssertFalse(exited.isKernelThread)
        XCTAssertEqual(exited.rssBytes, 0)
        XCTAssertEqual(exited.commandLine, "")

        let killed = try XCTUnwrap(entries[try pid("killed")])
        XCTAssertEqual(killed.state, .zombie)
        XCTAssertNil(killed.exitStatus)
        XCTAssertEqual(killed.exitSignal, "SIGTERM")
        XCTAssertFalse(killed.isKernelThread)
    }

    /// Every field that /proc also gives must be equal. Start time is compared
    /// in clock ticks (/proc/PID/stat field 22). RSS equals /proc/PID/stat field
    /// 24, the kernel's shared counter, while /proc/PID/statm adds the per-CPU
    /// deltas, which are bounded by the percpu_counter batch.
    func testFixtureProcessesEqualProc() throws {
        let entries = try bpfEntries()
        let keys = ["sleeper", "stopped", "traced", "exited", "killed"]
        let pids = [fixture.pid] + (try keys.map { try pid($0) })
        let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let nsPerTick = 1_000_000_000 / ProcessListProc.ticksPerSecond

        for pid in pids {
            let bpf = try XCTUnwrap(entries[pid], "pid \(pid) missing from the BPF list")
            let proc = try ProcessListProc.entry(pid)
            let stat = try StatLine(ProcFS.readBytes("/proc/\(pid)/stat"))
            let statm = try ProcFS.readText("/proc/\(pid)/statm").split(separator: " ").compactMap { UInt64($0) }

            XCTAssertEqual(bpf.ppid, proc.ppid, "ppid of \(pid)")
            XCTAssertEqual(bpf.pgid, proc.pgid, "pgid of \(pid)")
            XCTAssertEqual(bpf.sid, proc.sid, "sid of \(pid)")
            XCTAssertEqual(bpf.uid, proc.uid, "uid of \(pid)")
            XCTAssertEqual(bpf.euid, proc.euid, "euid of \(pid)")
            XCTAssertEqual(bpf.gid, proc.gid, "gid of \(pid)")
            XCTAssertEqual(bpf.egid, proc.egid, "egid of \(pid)")
            XCTAssertEqual(bpf.state, proc.state, "state of \(pid)")
            XCTAssertEqual(bpf.tracerPid, proc.tracerPid, "tracer of \(pid)")
            XCTAssertEqual(bpf.exitStatus, proc.exitStatus, "exit status of \(pid)")
            XCTAssertEqual(bpf.exitSignal, proc.exitSignal, "exit signal of \(pid)")
            XCTAssertEqual(bpf.comm, proc.comm, "comm of \(pid)")
            XCTAssertEqual(bpf.commandLine, proc.commandLine, "command line of \(pid)")
            XCTAssertEqual(bpf.argvLength, proc.argvLength, "argv length of \(pid)")
            XCTAssertEqual(bpf.threads, proc.threads, "threads of \(pid)")
            XCTAssertEqual(bpf.isKernelThread, proc.isKernelThread, "kernel-thread flag of \(pid)")
            XCTAssertEqual(bpf.virtualBytes, statm[0] * pageSize, "virtual size of \(pid)")
            XCTAssertEqual(bpf.rssBytes, stat.number(24) * pageSize, "RSS of \(pid)")
            let exact = Int64(statm[1] * pageSize)
            XCTAssertLessThanOrEqual(abs(Int64(bpf.rssBytes) - exact), rssDeltaBound, "RSS of \(pid) against statm")
            XCTAssertEqual(bpf.startTimeNs / nsPerTick, stat.number(22), "start time of \(pid)")
        }
    }

    /// Compares the kernel-thread flag, parent and name of every process both
    /// sources list. Processes that start, end or change between the reads are skipped.
    func testWholeListAgreesWithProc() throws {
        let entries = try bpfEntries()
        let proc = try ProcessListProc.collect()
        let later = try bpfEntries()
        var compared = 0
        var kernelThreads = 0

        for p in proc {
            // A process whose parent exits is reparented between reads, so only
            // processes that the two BPF reads show unchanged are compared.
            guard let b = entries[p.pid], b.startTimeNs / 10_000_000 == p.startTimeNs / 10_000_000,
                  let again = later[p.pid], again.ppid == b.ppid, again.comm == b.comm else { continue }
            XCTAssertEqual(b.isKernelThread, p.isKernelThread, "kernel-thread flag of \(p.pid) (\(p.comm))")
            XCTAssertEqual(b.ppid, p.ppid, "ppid of \(p.pid) (\(p.comm))")
            // /proc shows a kernel thread's full name and a kworker's current
            // workqueue, but task->comm keeps the first 15 bytes only.
            if b.isKernelThread {
                XCTAssertTrue(p.comm.hasPrefix(b.comm), "comm of kernel thread \(p.pid)")
            } else {
                XCTAssertEqual(b.comm, p.comm, "comm of \(p.pid)")
            }
            compared += 1
            if b.isKernelThread { kernelThreads += 1 }
        }
        XCTAssertGreaterThan(compared, 10)
        XCTAssertGreaterThan(kernelThreads, 0, "no kernel thread seen by both sources")
        XCTAssertEqual(entries[2]?.isKernelThread, true, "kthreadd (pid 2) is a kernel thread")
    }

    func testSinglePidMatchesWholeList() throws {
        let one = try ProcessListBPF.collect(pid: fixture.pid)
        XCTAssertEqual(one.count, 1)
        XCTAssertEqual(one.first?.pid, fixture.pid)
        XCTAssertEqual(one.first?.threads, Int(try XCTUnwrap(fixture.int("threads"))))
    }
}
