import BpfcpCore
import Foundation

/// Start-up time and CPU use of bpfcp-top, driven under tmux, or of the
/// process-list collection alone when bpfcp-top draws no list yet.
struct TopFigures {
    /// Start to first frame (or to first process list), in nanoseconds.
    let startNs: UInt64
    let startWhat: String
    /// CPU time over wall time, in percent of one core.
    let cpuPercent: Double
    let cpuWhat: String
    /// CPU time from exec until every BPF object was loaded, in nanoseconds; nil when not measured.
    var startupCpuNs: UInt64?
    var startupWhat = ""
}

enum TopBench {
    static func run(binDir: String, seconds: Int) throws -> TopFigures {
        if let figures = try? underTmux(top: binDir + "/bpfcp-top", seconds: seconds) {
            return figures
        }
        return try fallback(binDir: binDir, seconds: seconds)
    }

    /// Starts `bpfcp-top -d 10` in a detached tmux session, times the exec
    /// until the pane shows the list header "PID", then samples its CPU time.
    private static func underTmux(top: String, seconds: Int) throws -> TopFigures {
        guard FileManager.default.isExecutableFile(atPath: top) else { throw BenchError("no \(top)") }
        let session = "bpfcp-bench-\(getpid())"
        _ = try tmux(["new-session", "-d", "-s", session, "-x", "160", "-y", "50", "sh -c 'read go; exec \(top) -d 10'"], capture: false)
        defer { _ = try? tmux(["kill-session", "-t", session]) }
        let panePid = try tmux(["display-message", "-p", "-t", session, "#{pane_pid}"])
        guard let pid = Int32(panePid.trimmingCharacters(in: .whitespacesAndNewlines)) else { throw BenchError("no pane pid") }

        let start = Clock.now()
        _ = try tmux(["send-keys", "-t", session, "Enter"])
        var firstFrame: UInt64?
        while Clock.now() - start < 10_000_000_000 {
            guard let screen = try? tmux(["capture-pane", "-p", "-t", session]) else { break }
            if screen.contains("PID") {
                firstFrame = Clock.now() - start
                break
            }
            usleep(2_000)
        }
        guard let firstFrame else { throw BenchError("bpfcp-top drew no process list") }

        // bpfcp-top loads every embedded BPF object once at start, which costs
        // far more CPU than a refresh. That one-time cost is reported on its
        // own, and the refresh cost is measured after it, two refreshes later.
        let programs = expectedPrograms()
        let allLoaded = waitForPrograms(pid: pid, count: programs, timeoutNs: 60_000_000_000)
        sleep(2)
        let before = cpuTicks(pid)
        let wallStart = Clock.now()
        sleep(UInt32(seconds))
        let wall = Clock.now() - wallStart
        guard let before, let after = cpuTicks(pid) else { throw BenchError("bpfcp-top exited while measured") }
        let loadState = allLoaded ? "every BPF object loaded (\(programs) programs)"
            : "NOTE: fewer than the \(programs) BPF programs were loaded after 60 s, so loading may overlap the measurement"
        var figures = TopFigures(
            startNs: firstFrame, startWhat: "bpfcp-top: exec to first frame showing the list header, polled with tmux capture-pane every 2 ms",
            cpuPercent: percent(ticks: after - before, wallNs: wall),
            cpuWhat: "bpfcp-top -d 10 (1 s refresh) in a 160x50 tmux pane, utime+stime over \(seconds) s, starting 2 s after \(loadState)"
        )
        figures.startupCpuNs = before * 1_000_000_000 / UInt64(sysconf(Int32(_SC_CLK_TCK)))
        figures.startupWhat = "utime+stime from exec to 2 s after \(loadState), in clock ticks of 10 ms"
        return figures
    }

    /// Programs in all embedded BPF objects, which bpfcp-top preloads.
    private static func expectedPrograms() -> Int {
        BPFRuntime.embeddedObjects.reduce(0) { $0 + ((try? BPFProbe.programs(of: $1).count) ?? 0) }
    }

    /// Waits until `pid` has `count` BPF program fds open; returns false on timeout.
    private static func waitForPrograms(pid: Int32, count: Int, timeoutNs: UInt64) -> Bool {
        let start = Clock.now()
        while Clock.now() - start < timeoutNs {
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            let loaded = fds.filter { fd in
                ProcFS.readLink("/proc/\(pid)/fd/\(fd)").map { String(decoding: $0, as: UTF8.self) } == "anon_inode:bpf-prog"
            }.count
            if loaded >= count { return true }
            usleep(100_000)
        }
        return false
    }

    /// Times `bpfcp ps` from start to exit, and the CPU use of a child that
    /// collects the process list once a second.
    private static func fallback(binDir: String, seconds: Int) throws -> TopFigures {
        let start = Clock.now()
        let ps = try runChild(binDir + "/bpfcp", ["ps"])
        let startNs = Clock.now() - start
        guard ps.status == 0 else { throw BenchError("bpfcp ps failed with status \(ps.status)") }

        let loop = try runChild(selfPath(), ["--refresh-loop", "\(seconds)"])
        return TopFigures(
            startNs: startNs, startWhat: "bpfcp-top draws no process list in this build, so: `bpfcp ps` from start to exit (BPF load included)",
            cpuPercent: loop.cpuPercent,
            cpuWhat: "bpfcp-top draws no process list in this build, so: a process collecting the list with BPF once a second for \(seconds) s"
        )
    }

    /// Collects the process list once a second for `seconds` seconds: the
    /// work bpfcp-top does per refresh, without drawing.
    static func refreshLoop(seconds: Int) throws {
        for _ in 0..<seconds {
            _ = try ProcessListCache.shared.collect()
            sleep(1)
        }
    }

    private static func runChild(_ path: String, _ arguments: [String]) throws -> (status: Int32, cpuPercent: Double) {
        var pid: Int32 = 0
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let start = Clock.now()
        let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
        guard rc == 0 else { throw BenchError("starting \(path) failed: \(String(cString: strerror(rc)))") }

        var status: Int32 = 0
        var usage = rusage()
        wait4(pid, &status, 0, &usage)
        let wall = Clock.now() - start
        let cpuNs = UInt64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000_000
            + UInt64(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1_000
        return (status, Double(cpuNs) / Double(wall) * 100)
    }

    /// Runs one tmux command through posix_spawn and waitpid. Foundation's
    /// Process is not used because it left tmux unreaped here, next to the
    /// 1,000 children the benchmark spawns itself. `capture: false` is for the
    /// command that starts the server, which would otherwise inherit the
    /// output pipe and hold it open.
    private static func tmux(_ arguments: [String], capture: Bool = true) throws -> String {
        var fds: [Int32] = [-1, -1]
        if capture && pipe(&fds) != 0 { throw BenchError("pipe() failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        if capture {
            posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
            posix_spawn_file_actions_addclose(&actions, fds[0])
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }

        var pid: Int32 = 0
        let argv = (["/usr/bin/tmux"] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let rc = posix_spawn(&pid, "/usr/bin/tmux", &actions, nil, argv, environ)
        var output: [UInt8] = []
        if capture {
            close(fds[1])
            var chunk = [UInt8](repeating: 0, count: 65536)
            while rc == 0 {
                let n = read(fds[0], &chunk, chunk.count)
                if n <= 0 { break }
                output += chunk[0..<n]
            }
            close(fds[0])
        }
        guard rc == 0 else { throw BenchError("starting tmux failed: \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        guard status == 0 else { throw BenchError("tmux \(arguments.first ?? "") failed with status \(status)") }
        return String(decoding: output, as: UTF8.self)
    }

    /// utime + stime of `pid` in clock ticks, from /proc/PID/stat fields 14 and 15.
    private static func cpuTicks(_ pid: Int32) -> UInt64? {
        guard let stat = try? ProcFS.readText("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
        return user + system
    }

    private static func percent(ticks: UInt64, wallNs: UInt64) -> Double {
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        return Double(ticks) / ticksPerSecond / (Double(wallNs) / 1e9) * 100
    }
}
