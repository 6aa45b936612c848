@testable import BpfcpCore
import XCTest

/// Restores fixtures captured by `LiveCapture`, so the engine is tested
/// without the checkpoint code; each fixture checks its own state afterwards.
final class RestoreEngineTests: XCTestCase {
    func testRestoresMemoryAndFilesSamePid() throws {
        try requireRoot()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_basic", arguments: [dir, "1", "3"])
        let pid = fixture.pid
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        let plan = try LiveCapture.capture(pid: pid, pagesFile: dir + "/pages")
        fixture.stop()
        try RestoredProcess.waitGone(pid)

        let trace = TraceLines()
        let outcome = try ProcessRestorer.restore(plan, options: RestoreOptions(trace: trace.append))
        let lines = trace.lines
        let restored = RestoredProcess(pid: outcome.pid)
        defer { restored.stop() }

        XCTAssertEqual(outcome.pid, pid)
        if ProcessInfo.processInfo.environment["RESTORE_DEBUG"] != nil {
            usleep(200_000)
            var status: Int32 = 0
            print(lines.joined(separator: "\n"))
            print("waitpid:", waitpid(outcome.pid, &status, WNOHANG), Tracee.describe(status))
            print((try? ProcFS.readText("/proc/\(outcome.pid)/stat")) ?? "no stat", (try? ProcFS.readText("/proc/\(outcome.pid)/wchan")) ?? "")
            print(try RestoredProcess.ask(dir: dir, timeout: 2))
            print("waitpid:", waitpid(outcome.pid, &status, WNOHANG), Tracee.describe(status))
        }
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        XCTAssertTrue(lines.contains { $0.hasPrefix("prctl(PR_SET_MM, PR_SET_MM_MAP") }, "no PR_SET_MM_MAP in the trace")
        let maps = try MemoryProc.collect(pid: outcome.pid)
        let original = plan.areas.filter { $0.backing != .kernel("[vsyscall]") }
        XCTAssertEqual(maps.filter { $0.path != "[vsyscall]" }.count, original.count, "\(maps.map(\.path))")
        for area in original {
            XCTAssertTrue(maps.contains { $0.start == area.start && $0.end == area.end }, "area \(Format.hex(area.start)) missing")
        }
    }
}

/// A restored process, which is a child of the test process: killed and reaped at the end.
struct RestoredProcess {
    let pid: Int32

    func stop() {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }

    /// Makes a scratch directory that is removed when the current test ends.
    static func makeDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "bpfcp-restore-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        ScratchDirectories.removeAfterTest(dir)
        return dir
    }

    /// Asks a restore fixture to check itself; returns "pass" or its failure line.
    static func ask(dir: String, timeout: TimeInterval = 10) throws -> String {
        try? FileManager.default.removeItem(atPath: dir + "/result")
        FileManager.default.createFile(atPath: dir + "/check", contents: Data())
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: dir + "/result", encoding: .utf8) {
                return text.hasPrefix("pass") ? "pass" : text.trimmingCharacters(in: .newlines)
            }
            usleep(2000)
        }
        return "no answer within \(Int(timeout)) s"
    }

    static func waitGone(_ pid: Int32) throws {
        for _ in 0..<500 {
            var status: Int32 = 0
            _ = waitpid(pid, &status, WNOHANG | Int32(__WALL))
            if kill(pid, 0) != 0 && errno == ESRCH { return }
            usleep(2000)
        }
        throw FixtureError("process \(pid) still exists after it was killed")
    }
}

/// Collects the --verbose lines of a restore.
final class TraceLines: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []

    var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return stored
    }

    @Sendable func append(_ line: String) {
        lock.lock()
        stored.append(line)
        lock.unlock()
    }
}

final class InitialStackTests: XCTestCase {
    func testDerivedFieldsEqualProcStat() throws {
        try requireRoot()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_basic", arguments: [dir, "1", "1"])
        defer { fixture.stop() }
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
        let plan = try LiveCapture.capture(pid: fixture.pid, pagesFile: dir + "/pages")
        let proc = try XCTUnwrap(plan.mm)

        let (derived, exe) = try XCTUnwrap(InitialStack.derive(areas: plan.areas, pages: PageReader()))
        XCTAssertEqual(exe, plan.exePath)
        XCTAssertEqual(Format.hex(derived.startStack), Format.hex(proc.startStack))
        XCTAssertEqual(Format.hex(derived.argStart), Format.hex(proc.argStart))
        XCTAssertEqual(Format.hex(derived.argEnd), Format.hex(proc.argEnd))
        XCTAssertEqual(Format.hex(derived.envStart), Format.hex(proc.envStart))
        XCTAssertEqual(Format.hex(derived.envEnd), Format.hex(proc.envEnd))
        XCTAssertEqual(derived.auxv, proc.auxv.prefix(derived.auxv.count).map { $0 })
        XCTAssertEqual(derived.auxv.suffix(2), [0, 0])
        XCTAssertEqual(Format.hex(derived.startBrk), Format.hex(proc.startBrk))
        XCTAssertEqual(Format.hex(derived.brk), Format.hex(proc.brk))
    }
}
