import Foundation
import XCTest

/// A detached tmux session on a private server socket, running an
/// interactive /bin/sh, so a test types commands and reads the screen as a
/// person at a terminal would. The server is killed when the session is released.
final class TmuxSession {
    private static let counter = Counter()
    let socket: String

    init(width: Int = 120, height: Int = 40) throws {
        socket = "bpfcp-test-\(getpid())-\(TmuxSession.counter.next())"
        var environment = ProcessInfo.processInfo.environment
        environment["TERM"] = "xterm-256color"
        environment["LANG"] = "C.UTF-8"
        environment.removeValue(forKey: "NO_COLOR")
        try run(["new-session", "-d", "-s", "bpfcp", "-x", "\(width)", "-y", "\(height)", "/bin/sh"], environment: environment)
        let prompt = waitUntil(timeout: 5) { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        guard prompt else { throw FixtureError("tmux session \(socket) showed no shell prompt") }
    }

    deinit {
        _ = try? run(["kill-server"])
    }

    /// Sends tmux key names ("Enter", "Tab", "C-c", "F6") one call each, with a pause for the program to react.
    func keys(_ names: String..., pause: TimeInterval = 0.3) throws {
        for name in names {
            try run(["send-keys", "-t", "bpfcp", name])
            Thread.sleep(forTimeInterval: pause)
        }
    }

    /// Types `text` literally.
    func type(_ text: String) throws {
        try run(["send-keys", "-t", "bpfcp", "-l", text])
        Thread.sleep(forTimeInterval: 0.2)
    }

    /// Types a shell command and presses Enter.
    func command(_ line: String) throws {
        try type(line)
        try keys("Enter")
    }

    /// The visible screen as plain text, or with attributes as escape sequences when `escapes` is true.
    func capture(escapes: Bool = false) throws -> String {
        try run(["capture-pane", "-p", "-t", "bpfcp"] + (escapes ? ["-e"] : []))
    }

    /// The screen for failure messages; empty when tmux fails.
    var screen: String { (try? capture()) ?? "" }

    /// A tmux format of the pane, e.g. "#{alternate_on}" or "#{pane_title}".
    func format(_ format: String) throws -> String {
        try run(["display-message", "-p", "-t", "bpfcp", format]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func resize(width: Int, height: Int) throws {
        try run(["resize-window", "-t", "bpfcp", "-x", "\(width)", "-y", "\(height)"])
        Thread.sleep(forTimeInterval: 0.5)
    }

    /// Polls the screen until `predicate` holds on it; false after `timeout` seconds.
    func waitUntil(timeout: TimeInterval = 10, _ predicate: (String) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let screen = try? capture(), predicate(screen) { return true }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return false
    }

    func waitFor(_ text: String, timeout: TimeInterval = 10) -> Bool {
        waitUntil(timeout: timeout) { $0.contains(text) }
    }

    /// The pid of the program the shell in the pane is running, or nil.
    func foregroundPid() throws -> Int32? {
        guard let shell = Int32(try format("#{pane_pid}")) else { return nil }
        let children = (try? String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)) ?? ""
        return children.split(separator: " ").compactMap { Int32($0) }.first
    }

    @discardableResult
    private func run(_ arguments: [String], environment: [String: String]? = nil) throws -> String {
        let (status, text) = try spawnAndWait("/usr/bin/tmux", ["-L", socket, "-f", "/dev/null"] + arguments,
                                              environment: environment)
        guard status == 0 else {
            throw FixtureError("tmux \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }
}

/// Runs a program to completion and returns its exit status and output.
/// Uses posix_spawn and waitpid directly: Foundation's Process.waitUntilExit
/// hung on the short-lived tmux client here, and the tmux server that
/// new-session starts keeps inherited descriptors open, so output goes to a
/// file rather than a pipe.
func spawnAndWait(_ path: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (Int32, String) {
    let outputPath = NSTemporaryDirectory() + "bpfcp-spawn-\(getpid())-\(UUID().uuidString).out"
    defer { try? FileManager.default.removeItem(atPath: outputPath) }

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)

    let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let envp = env.map { strdup($0) } + [nil]
    defer { (argv + envp).forEach { free($0) } }

    var pid: pid_t = 0
    let result = posix_spawn(&pid, path, &actions, nil, argv, envp)
    guard result == 0 else { throw FixtureError("starting \(path) failed: \(String(cString: strerror(result)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    let exited = status & 0x7F == 0
    return (exited ? (status >> 8) & 0xFF : 128 + (status & 0x7F), text)
}

/// Numbers the tmux servers of one test run.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}

/// Path of the bpfcp-top binary that `swift build` made, which `swift test` builds too.
func bpfcpTopBinary() throws -> String {
    let root = Fixture.repositoryRoot()
    for candidate in [root + "/.build/debug/bpfcp-top", root + "/.build/release/bpfcp-top"]
    where FileManager.default.isExecutableFile(atPath: candidate) {
        return candidate
    }
    throw FixtureError("bpfcp-top is not built: run `swift build` in \(root) first")
}

/// True while `pid` exists and is not a zombie.
func processAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).prefix(1)
    return state != "Z" && state != "X"
}

extension TmuxSession {
    /// Starts bpfcp-top with `arguments` in the session, logging to a file of this test run.
    func startTop(_ arguments: String) throws {
        let log = NSTemporaryDirectory() + "bpfcp-top-test-\(getpid()).log"
        try command("BPFCP_LOG=\(log) \(try bpfcpTopBinary()) \(arguments)")
    }

    /// Quits bpfcp-top from any screen and checks that it gave the terminal back.
    func quitTop(file: StaticString = #filePath, line: UInt = #line) throws {
        try keys("Escape", "Escape", "q")
        XCTAssertTrue(waitUntil(timeout: 10) { _ in (try? self.format("#{alternate_on}")) == "0" },
                      "bpfcp-top did not quit:\n\(screen)", file: file, line: line)
    }
}
