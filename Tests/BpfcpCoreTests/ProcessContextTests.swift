@testable import BpfcpCore
import XCTest

final class ProcessContextTests: XCTestCase {
    private func properties(_ rows: [ContextProperty]) -> [String: ContextProperty] {
        Dictionary(rows.map { ("\($0.group) \($0.name)", $0) }, uniquingKeysWith: { first, _ in first })
    }

    func testContextMatchesFixture() throws {
        try requireBPF()
        let fixture = try Fixture(c: "process_context")
        let rows = properties(try ContextKind.collectBPF(pid: fixture.pid))
        let child = try XCTUnwrap(fixture.values["child"])
        let threadChild = try XCTUnwrap(fixture.values["thread_child"])
        let dir = try XCTUnwrap(fixture.values["dir"])

        XCTAssertEqual(rows["identity pid"]?.value, "\(fixture.pid)")
        XCTAssertEqual(rows["identity parent"]?.value, "\(getpid())")
        XCTAssertEqual(rows["identity process group"]?.value, "\(fixture.pid)")
        XCTAssertEqual(rows["identity children"]?.value, [child, threadChild].sorted { Int($0)! < Int($1)! }.joined(separator: ","))
        XCTAssertEqual(rows["identity tracer"]?.value, "none")
        XCTAssertEqual(rows["scheduling nice"]?.value, "7")
        XCTAssertEqual(rows["scheduling policy"]?.value, "SCHED_OTHER")
        XCTAssertEqual(rows["scheduling cpu affinity"]?.value, "0")
        XCTAssertEqual(rows["environment umask"]?.value, "0027")
        XCTAssertEqual(rows["environment personality"]?.value, "PER_LINUX|ADDR_NO_RANDOMIZE")
        XCTAssertEqual(rows["environment cwd"]?.value, dir + " (deleted)")
        XCTAssertEqual(rows["environment cwd"]?.source, "readlink, same inode as bpf")
        XCTAssertEqual(rows["environment exe"]?.value, Fixture.repositoryRoot() + "/build/fixtures/process_context")
        XCTAssertEqual(rows["auxv AT_PAGESZ"]?.value, "\(sysconf(Int32(_SC_PAGESIZE)))")
        XCTAssertEqual(rows["auxv AT_UID"]?.value, "\(getuid())")
        XCTAssertNotNil(rows["auxv AT_SYSINFO_EHDR"])
    }

    func testContextEqualsProcOracle() throws {
        try requireBPF()
        let fixture = try Fixture(c: "process_context")
        let bpf = try ContextKind.collectBPF(pid: fixture.pid)
        let proc = properties(try ContextProc.collect(pid: fixture.pid))
        XCTAssertGreaterThan(bpf.count, 20)
        for row in bpf {
            let key = "\(row.group) \(row.name)"
            let oracle = try XCTUnwrap(proc[key], "/proc has no \(key)")
            XCTAssertEqual(row.value, oracle.value, key)
        }
        XCTAssertEqual(bpf.count, proc.count, "the same properties from both sources")
    }

    func testLimitsMatchFixtureAndProc() throws {
        try requireBPF()
        let fixture = try Fixture(c: "process_context")
        let limits = try LimitsKind.collectBPF(pid: fixture.pid)
        let byName = Dictionary(uniqueKeysWithValues: limits.map { ($0.resource, $0) })

        XCTAssertEqual(limits.count, 16)
        XCTAssertEqual(byName["RLIMIT_NOFILE"]?.soft, "512")
        XCTAssertEqual(byName["RLIMIT_NOFILE"]?.hard, "1024")
        XCTAssertEqual(byName["RLIMIT_CORE"]?.soft, "4096")
        XCTAssertEqual(byName["RLIMIT_CORE"]?.hard, "unlimited")
        XCTAssertEqual(byName["RLIMIT_CPU"]?.soft, "3600")
        XCTAssertEqual(byName["RLIMIT_CPU"]?.hard, "7200")
        XCTAssertEqual(limits, try LimitsKind.collectProc(pid: fixture.pid))
    }

    func testTimersMatchFixture() throws {
        try requireBPF()
        let fixture = try Fixture(c: "process_context")
        let timers = try TimersKind.collectBPF(pid: fixture.pid)
        let byName = Dictionary(uniqueKeysWithValues: timers.map { ($0.name, $0) })
        let second: UInt64 = 1_000_000_000

        let real = try XCTUnwrap(byName["ITIMER_REAL"])
        XCTAssertTrue(real.armed)
        XCTAssertEqual(real.intervalNs, 250 * second)
        XCTAssertLessThanOrEqual(try XCTUnwrap(real.remainingNs), 500 * second)
        XCTAssertGreaterThan(try XCTUnwrap(real.remainingNs), 490 * second)
        let virtual = try XCTUnwrap(byName["ITIMER_VIRTUAL"])
        XCTAssertTrue(virtual.armed)
        XCTAssertEqual(virtual.intervalNs, 3 * second)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(virtual.expiresCpuNs), 7 * second)
        XCTAssertEqual(byName["ITIMER_PROF"]?.armed, false)

        let posix = timers.filter { $0.id != nil }
        XCTAssertEqual(posix.count, 2)
        let mono = posix[0]
        XCTAssertEqual(mono.clock, "CLOCK_MONOTONIC")
        XCTAssertEqual(mono.signal, "SIGRTMIN+2")
        XCTAssertEqual(mono.notify, "SIGEV_SIGNAL")
        XCTAssertEqual(mono.value, Format.hex(4660))
        XCTAssertEqual(mono.intervalNs, 2 * second)
        XCTAssertTrue(mono.armed)
        XCTAssertGreaterThan(try XCTUnwrap(mono.remainingNs), 90 * second)
        let cpu = posix[1]
        XCTAssertEqual(cpu.clock, "CLOCK_PROCESS_CPUTIME_ID")
        XCTAssertEqual(cpu.notify, "SIGEV_NONE")
        XCTAssertNil(cpu.signal)
        XCTAssertTrue(cpu.armed)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(cpu.expiresCpuNs), 50 * second)

        let proc = try TimersKind.collectProc(pid: fixture.pid)
        XCTAssertEqual(proc.map(\.id), posix.map(\.id))
        XCTAssertEqual(proc.map(\.clock), posix.map(\.clock))
        XCTAssertEqual(proc.map(\.signal), posix.map(\.signal))
        XCTAssertEqual(proc.map(\.notify), posix.map(\.notify))
        XCTAssertEqual(proc.map(\.targetPid), posix.map(\.targetPid))
        XCTAssertEqual(proc.first?.value, mono.value)
    }

    func testEnvironOnlyWhenRequested() throws {
        try requireBPF()
        let binary = try Fixture.compile("process_context")
        let fixture = try Fixture(executable: binary, arguments: [], environment: ["BPFCP_TEST_SECRET": "s3cr3t", "EMPTY": ""])
        let bpf = try EnvironKind.collectBPF(pid: fixture.pid)
        XCTAssertEqual(bpf.map(\.name).sorted(), ["BPFCP_TEST_SECRET", "EMPTY"])
        XCTAssertEqual(bpf.first { $0.name == "BPFCP_TEST_SECRET" }?.value, "s3cr3t")
        XCTAssertTrue(bpf.allSatisfy(\.complete))
        let target = Target(pid: fixture.pid, process: try XCTUnwrap(ProcessListBPF.collect(pid: fixture.pid).first))
        XCTAssertEqual(bpf, try EnvironKind.collect(target, source: .proc))

        XCTAssertFalse(KindRegistry.all.contains { $0.name == "environ" }, "environ must stay out of the default dump")
        XCTAssertEqual(try KindRegistry.parseOnly("environ").map(\.name), ["environ"])
    }

    func testStoppedChildrenShowStopSignal() throws {
        try requireBPF()
        let fixture = try CaseProgram.start("bc29_stopped.c")
        let pids = CaseProgram.numbers(fixture.firstLine)
        XCTAssertEqual(pids.count, 4, fixture.firstLine)
        let children = Array(pids.dropFirst())
        defer { for child in children { kill(child, SIGKILL) } }
        XCTAssertTrue(waitFor {
            children.allSatisfy { (try? StatLine(ProcFS.readBytes("/proc/\($0)/stat")).state) == "T" }
        }, "the case's children did not stop within 10 s")

        for (child, signal) in zip(children, ["SIGSTOP", "SIGTSTP", "SIGTTIN"]) {
            let rows = properties(try ContextKind.collectBPF(pid: child))
            XCTAssertEqual(rows["identity state"]?.value, "T (stopped)", "\(child)")
            XCTAssertEqual(rows["identity stop signal"]?.value, signal, "\(child)")
            XCTAssertEqual(rows["identity process group"]?.value, "\(child)")
            XCTAssertEqual(rows["identity parent"]?.value, "\(fixture.pid)")
            let listed = try XCTUnwrap(ProcessListBPF.collect(pid: child).first)
            XCTAssertEqual(listed.state, .stopped)
            XCTAssertEqual(listed.stopSignal, signal)
        }
        let parentRows = properties(try ContextKind.collectBPF(pid: fixture.pid))
        XCTAssertEqual(parentRows["identity children"]?.value, children.sorted().map(String.init).joined(separator: ","))
    }

    /// Children of `pid`'s main thread.
    private func children(of pid: Int32) -> [Int32] {
        ((try? ProcFS.readText("/proc/\(pid)/task/\(pid)/children")) ?? "").split(separator: " ").compactMap { Int32($0) }
    }

    /// Polls `condition` every 50 ms for up to 10 s, because under load the case's
    /// background commands may still be starting.
    private func waitFor(_ condition: () -> Bool) -> Bool {
        for _ in 0..<200 {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }

    func testTracedProcessShowsTracer() throws {
        try requireBPF()
        // Sourcing keeps strace a child of the fixture's shell, so the test finds
        // its own strace and sleep instead of trusting the case's `pgrep -n`,
        // which can name another user's sleep.
        let fixture = try Fixture(executable: "/bin/sh", arguments: ["-c", ". \(Fixture.casePath("bc30_traced.sh")); exec sleep 1000000"],
                                  readyPrefix: nil)
        var tracer: Int32 = 0
        var sleeper: Int32 = 0
        XCTAssertTrue(waitFor {
            tracer = children(of: fixture.pid).first ?? 0
            sleeper = tracer > 0 ? (children(of: tracer).first ?? 0) : 0
            let status = ProcFS.keyValues((try? ProcFS.readText("/proc/\(sleeper)/status")) ?? "")
            return sleeper > 0 && status["TracerPid"] == "\(tracer)"
        }, "strace did not attach to its sleep within 10 s")
        defer {
            if sleeper > 0 { kill(sleeper, SIGKILL) }
            if tracer > 0 { kill(tracer, SIGKILL) }
        }
        XCTAssertEqual(String(decoding: try ProcFS.readBytes("/proc/\(tracer)/comm"), as: UTF8.self), "strace\n")
        XCTAssertEqual(try ProcFS.readBytes("/proc/\(sleeper)/cmdline"), Array("sleep\u{0}100000\u{0}".utf8))

        let rows = properties(try ContextKind.collectBPF(pid: sleeper))
        XCTAssertEqual(rows["identity tracer"]?.value, "\(tracer)")
        XCTAssertEqual(try XCTUnwrap(ProcessListBPF.collect(pid: sleeper).first).tracerPid, tracer)
        let target = Target(pid: sleeper, process: try XCTUnwrap(ProcessListBPF.collect(pid: sleeper).first))
        XCTAssertEqual(try SignalsKind.collect(target, source: .bpf).count, 64)
        XCTAssertEqual(try CredentialsKind.collectBPF(pid: sleeper).count, 1)
        XCTAssertEqual(try LimitsKind.collectBPF(pid: sleeper), try LimitsKind.collectProc(pid: sleeper))
    }

    func testZombieShowsExitStatus() throws {
        try requireBPF()
        let fixture = try CaseProgram.start("bc31_zombie.c")
        let zombie = try XCTUnwrap(CaseProgram.numbers(fixture.firstLine).last)
        XCTAssertTrue(waitFor { (try? StatLine(ProcFS.readBytes("/proc/\(zombie)/stat")).state) == "Z" })

        let listed = try XCTUnwrap(ProcessListBPF.collect().first { $0.pid == zombie })
        XCTAssertEqual(listed.state, .zombie)
        XCTAssertEqual(listed.exitStatus, 3)
        XCTAssertFalse(listed.isKernelThread)
        let rows = properties(try ContextKind.collectBPF(pid: zombie))
        XCTAssertEqual(rows["identity state"]?.value, "Z (zombie)")
        XCTAssertEqual(rows["identity exit status"]?.value, "3")
        XCTAssertEqual(rows["identity kernel thread"]?.value, "no")
        XCTAssertEqual(rows["identity parent"]?.value, "\(fixture.pid)")
    }

    func testZombieInPidNamespaceShowsEveryLevel() throws {
        try requireBPF()
        // Sourcing keeps the script's shell alive afterwards, so the fixture is
        // stopped as a running process.
        let fixture = try Fixture(executable: "/bin/bash", arguments: ["-c", ". \(Fixture.casePath("bc31_zombie_sid0.sh")); exec sleep 1000000"],
                                  readyPrefix: nil)
        let initPid = try XCTUnwrap(CaseProgram.numbers(fixture.firstLine).last, fixture.firstLine)
        let unsharePid = Int32(try StatLine(ProcFS.readBytes("/proc/\(initPid)/stat")).number(4))
        XCTAssertTrue(children(of: fixture.pid).contains(unsharePid), "the ns init's parent is the case's unshare")
        let ours = children(of: fixture.pid).contains(unsharePid)
        defer {
            if ours {
                kill(initPid, SIGKILL)
                kill(unsharePid, SIGKILL)
            }
        }
        var zombie: Int32 = 0
        XCTAssertTrue(waitFor {
            zombie = children(of: initPid).first ?? 0
            return zombie > 0 && (try? StatLine(ProcFS.readBytes("/proc/\(zombie)/stat")).state) == "Z"
        }, "no zombie under the ns init within 10 s")

        let rows = try NamespacesKind.collectBPF(pid: zombie)
        let byName = Dictionary(uniqueKeysWithValues: rows.map { ($0.name, $0) })
        let nsPids = (ProcFS.keyValues(try ProcFS.readText("/proc/\(zombie)/status"))["NSpid"] ?? "")
            .split(separator: "\t").compactMap { Int32($0) }
        XCTAssertEqual(nsPids.count, 2)
        XCTAssertEqual(byName["pid level 0"]?.pid, zombie)
        XCTAssertEqual(byName["pid level 1"]?.pid, nsPids.last)
        XCTAssertNotEqual(byName["pid level 1"]?.inode, byName["pid level 0"]?.inode)
        XCTAssertEqual(byName["pid level 1"]?.inode, try NamespacesKind.collectBPF(pid: initPid).first { $0.name == "pid" }?.inode)
        XCTAssertNil(byName["mnt"]?.inode, "a zombie has dropped its nsproxy")

        let initLevels = try NamespacesKind.collectBPF(pid: initPid).filter { $0.level != nil }
        XCTAssertEqual(initLevels.map(\.pid), [initPid, 1])

        let listed = try XCTUnwrap(ProcessListBPF.collect().first { $0.pid == zombie })
        XCTAssertEqual(listed.state, .zombie)
        XCTAssertEqual(listed.exitStatus, 0)
        XCTAssertFalse(listed.isKernelThread)
        XCTAssertEqual(listed.ppid, initPid)
    }
}
