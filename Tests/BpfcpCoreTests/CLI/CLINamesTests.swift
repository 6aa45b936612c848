@testable import BpfcpCore
import CBpfcpShim
import XCTest

/// Names taken from other processes (argv, comm) reach the output escaped,
/// exact and never raw, from both collectors and in text and JSON.
final class CLINamesTests: XCTestCase {
    func testLongArgvTruncatedWithTrueLength() throws {
        try requireBPF()
        let pid = try XCTUnwrap(try runCase("bc35_long_argv.sh").values.first)
        try waitUntil("bc35 execs sh") { comm(pid) == "sh" && cmdline(pid).hasPrefix("sh\0-c\0") }
        // sh, -c, the script and "bc35" take 27 bytes, then 150 arguments of 4000 'A'.
        let trueLength = try ProcFS.readBytes("/proc/\(pid)/cmdline").count
        XCTAssertEqual(trueLength, 27 + 150 * 4001)
        let shown = "sh -c sleep 100000; : bc35 " + String(repeating: "A", count: Int(BPFCP_ARGS_MAX) - 27)

        for source in [[], ["--proc"]] {
            let process = try psJSON(pid, source)
            XCTAssertEqual(process["command_line"] as? String, shown)
            XCTAssertEqual(process["argv_length"] as? Int, trueLength)
            XCTAssertEqual(process["argv_truncated"] as? Bool, true)
            XCTAssertEqual(process["comm"] as? String, "sh")

            let row = try psText(pid, source)
            XCTAssertTrue(row.hasSuffix(" " + shown + "... [argv truncated, \(trueLength) bytes]"), row)
        }
    }

    func testOddBytesAndParenthesesInNames() throws {
        try requireBPF()
        let pids = try runCase("bc36_odd_names.sh", shell: "/bin/bash")
        let a = try XCTUnwrap(pids["a"]), c = try XCTUnwrap(pids["c"])
        // Case b's shell forks cp and then the renamed program, so the target
        // is the child whose comm matches, looked up again on each try.
        let shellB = try XCTUnwrap(pids["b"])
        var b: Int32 = 0
        try waitUntil("bc36 renames its processes") {
            b = childPids(of: shellB).first { comm($0) == #"process-name-t\xc3"# } ?? 0
            return b != 0 && comm(c) == "a) R 1 (b" && comm(a) == "sleep"
                && cmdline(a).hasPrefix("bc36-") && cmdline(b).hasPrefix("/tmp/process-name-")
        }
        let ppidC = try XCTUnwrap(Int(ProcFS.keyValues(try ProcFS.readText("/proc/\(c)/status"))["PPid"] ?? ""))

        for source in [[], ["--proc"]] {
            let argv0 = try psJSON(a, source)
            XCTAssertEqual(argv0["command_line"] as? String, #"bc36-\xaa\xff-argv0 100000"#)
            XCTAssertEqual(argv0["comm"] as? String, "sleep")
            XCTAssertEqual(try psText(a, source).hasSuffix(#" bc36-\xaa\xff-argv0 100000"#), true)

            let cut = try psJSON(b, source)
            XCTAssertEqual(cut["comm"] as? String, #"process-name-t\xc3"#)
            XCTAssertEqual(cut["command_line"] as? String, "/tmp/process-name-töööö 100000")

            let parens = try psJSON(c, source)
            XCTAssertEqual(parens["comm"] as? String, "a) R 1 (b")
            XCTAssertEqual(parens["ppid"] as? Int, ppidC)
            XCTAssertEqual(parens["state"] as? String, "S")
            XCTAssertEqual(parens["pid"] as? Int, Int(c))

            let header = try dumpHeader(c, source)
            XCTAssertTrue(header.hasPrefix("process \(c) (a) R 1 (b) state S "), header)
        }
    }

    func testControlSequencesEscaped() throws {
        try requireBPF()
        let pids = try runCase("bc43_escape_name.sh")
        let comm = try XCTUnwrap(pids["comm"]), argv0 = try XCTUnwrap(pids["argv0"])
        let escapedComm = #"\x1b[2J\x1b[31mX\x07"#
        try waitUntil("bc43 renames its processes") {
            self.comm(comm) == escapedComm && self.comm(argv0) == "sleep" && self.cmdline(argv0).hasPrefix("\u{1b}]0;")
        }

        for source in [[], ["--proc"]] {
            XCTAssertEqual(try psJSON(comm, source)["comm"] as? String, escapedComm)
            XCTAssertEqual(try psJSON(argv0, source)["command_line"] as? String, #"\x1b]0;pwned\x07\x1b[1;1H\x1b[2Jfake 100000"#)
            XCTAssertTrue(try psText(argv0, source).hasSuffix(#" \x1b]0;pwned\x07\x1b[1;1H\x1b[2Jfake 100000"#))
            XCTAssertTrue(try dumpHeader(comm, source).hasPrefix("process \(comm) (\(escapedComm)) state S "))

            for args in [["ps"], ["--json", "ps"], ["dump", "--only", "threads", "\(comm)"], ["--json", "dump", "--only", "threads", "\(comm)"]] {
                let result = try CLI.run(args + source)
                XCTAssertEqual(result.status, 0, result.err)
                let raw = result.stdout.filter { $0 < 0x20 && $0 != 0x0A }
                XCTAssertEqual(raw, [], "\(args): raw control bytes in the output")
                if args.first == "--json" { XCTAssertNoThrow(try result.json()) }
            }
        }
    }

    // MARK: Helpers

    /// The one process of `ps --json --pid PID`.
    private func psJSON(_ pid: Int32, _ source: [String]) throws -> [String: Any] {
        let result = try CLI.run(["--json", "ps", "--pid", "\(pid)"] + source)
        XCTAssertEqual(result.status, 0, result.err)
        let processes = try XCTUnwrap(try result.json()["processes"] as? [[String: Any]])
        XCTAssertEqual(processes.count, 1)
        return try XCTUnwrap(processes.first)
    }

    /// The row of `ps --pid PID` in text, below the header.
    private func psText(_ pid: Int32, _ source: [String]) throws -> String {
        let result = try CLI.run(["ps", "--pid", "\(pid)"] + source)
        XCTAssertEqual(result.status, 0, result.err)
        XCTAssertEqual(result.outLines.count, 2)
        return result.outLines.last ?? ""
    }

    /// The first line of `dump --only threads PID` in text.
    private func dumpHeader(_ pid: Int32, _ source: [String]) throws -> String {
        let result = try CLI.run(["dump", "--only", "threads", "\(pid)"] + source)
        XCTAssertEqual(result.status, 0, result.err)
        return result.outLines.first ?? ""
    }

    /// Runs a shared case script to its end and returns the pids it printed,
    /// keyed by label ("a: 123") or by their line number for bare pids. The
    /// processes it started live in their own sessions, so teardown kills them by pid.
    private func runCase(_ script: String, shell: String = "/bin/sh") throws -> [String: Int32] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bpfcp-case-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let outURL = dir.appendingPathComponent("pids")
        let script = try Spawned(shell, [Fixture.casePath(script)], stdout: outURL.path,
                                 stderr: dir.path + "/stderr")
        _ = try script.wait(timeout: 30)

        var pids: [String: Int32] = [:]
        let lines = try String(contentsOf: outURL, encoding: .utf8).split(separator: "\n")
        for (index, line) in lines.enumerated() {
            let parts = line.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let pid = Int32(parts.last ?? "") else { continue }
            pids[parts.count == 2 ? parts[0] : String(index)] = pid
        }
        addTeardownBlock { [pids] in
            for pid in pids.values {
                for child in childPids(of: pid) { kill(child, SIGKILL) }
                kill(pid, SIGKILL)
            }
            try? FileManager.default.removeItem(at: dir)
        }
        return pids
    }

    /// The escaped comm of `pid`, read from /proc.
    private func comm(_ pid: Int32) -> String? {
        guard let bytes = try? ProcFS.readBytes("/proc/\(pid)/stat"), let stat = try? StatLine(bytes) else { return nil }
        return Escape.bytes(stat.comm)
    }

    /// Returns the raw /proc/PID/cmdline of `pid`, empty while an exec has
    /// set the new comm but not yet the new argv.
    private func cmdline(_ pid: Int32) -> String {
        String(decoding: (try? ProcFS.readBytes("/proc/\(pid)/cmdline")) ?? [], as: UTF8.self)
    }

    /// Polls `condition` for up to 10 s, because the cases start their
    /// processes in the background and exec them through several programs.
    private func waitUntil(_ what: String, _ condition: () -> Bool) throws {
        for _ in 0..<1000 {
            if condition() { return }
            usleep(10_000)
        }
        throw FixtureError("timed out waiting until \(what)")
    }
}

/// Pids of the processes whose parent is `pid`, read from /proc.
private func childPids(of pid: Int32) -> [Int32] {
    let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    return pids.filter { candidate in
        guard let bytes = try? ProcFS.readBytes("/proc/\(candidate)/stat"), let stat = try? StatLine(bytes) else { return false }
        return stat.number(4) == UInt64(pid)
    }
}
