import BpfcpCore
import CBpfcpDemo
import Foundation

/// The demo workload of --demo: this same binary re-executed with a hidden
/// argument (see bpfcp_demo.h), in a process group of its own.
public final class DemoWorkload {
    public let parent: pid_t
    public let child: pid_t
    public let directory: String
    private var stopped = false

    /// Starts the workload and waits for its READY line. Spawned from the main
    /// thread on purpose, because PR_SET_PDEATHSIG in the workload fires when
    /// the thread that started it exits.
    public init() throws {
        let (pid, output) = try DemoWorkload.spawn()
        defer { close(output) }
        guard let line = DemoWorkload.readLine(output, timeoutMs: 5000), line.hasPrefix("READY") else {
            kill(-pid, SIGKILL)
            waitpid(pid, nil, 0)
            throw BpfcpError("demo_failed", "the demo workload did not start: see \(Log.shared.path)")
        }
        var values: [String: String] = [:]
        for pair in line.split(separator: " ").dropFirst() {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        parent = pid
        child = Int32(values["child"] ?? "") ?? 0
        directory = values["dir"] ?? ""
        Log.shared.write("bpfcp-top: demo workload started: parent \(parent), child \(child), files in \(directory)")
    }

    deinit {
        stop()
    }

    /// Kills the demo's process group, reaps the parent and removes its files. Safe to call twice.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        kill(-parent, SIGKILL)
        if child > 0 { kill(child, SIGKILL) }
        waitpid(parent, nil, 0)
        if directory.hasPrefix("/tmp/bpfcp-demo-") { try? FileManager.default.removeItem(atPath: directory) }
    }

    private static func spawn() throws -> (pid_t, Int32) {
        var pipeFds: [Int32] = [0, 0]
        guard bpfcp_demo_pipe(&pipeFds) == 0 else { throw BpfcpError.system("pipe for the demo workload", errno) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeFds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigfillset(&defaults)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("bpfcp-demo"), strdup(BPFCP_DEMO_ARGUMENT), nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, argv, nil)
        close(pipeFds[1])
        guard result == 0 else {
            close(pipeFds[0])
            throw BpfcpError.system("starting the demo workload (/proc/self/exe)", result)
        }
        return (pid, pipeFds[0])
    }

    private static func readLine(_ fd: Int32, timeoutMs: Int32) -> String? {
        var bytes: [UInt8] = []
        let deadline = Clock.now() + UInt64(timeoutMs) * 1_000_000
        while Clock.now() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) > 0 else { continue }
            var byte: UInt8 = 0
            guard read(fd, &byte, 1) == 1 else { return nil }
            if byte == 0x0A { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return nil
    }
}
