import Foundation
import XCTest

/// A fixture process with known state, built from Tests/Fixtures/NAME.c (or
/// run as a script) and killed when the test ends.
///
/// Protocol: the fixture sets up its state, prints one line starting with
/// "READY" followed by space-separated key=value pairs, then waits to be killed.
/// Programs that print some other first line (the shared cases) are started
/// with `readyPrefix: nil`, and that line is kept in `firstLine`.
///
/// Foundation starts each child in a process group of its own, so `stop()`
/// kills the group and with it the children a fixture forked.
public final class Fixture {
    public let process: Process
    public let values: [String: String]
    public let firstLine: String
    private let stdout: Pipe

    public var pid: Int32 { process.processIdentifier }

    /// Compiles (once per test run) and starts Tests/Fixtures/NAME.c with `arguments`.
    public convenience init(c name: String, arguments: [String] = [], flags: [String] = []) throws {
        let binary = try Fixture.compile(name, flags: flags)
        try self.init(executable: binary, arguments: arguments)
    }

    public init(executable: String, arguments: [String], environment: [String: String]? = nil,
         readyPrefix: String? = "READY", timeout: TimeInterval = 20) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        // /dev/null, not the runner's stdin: a pipe or socket there would
        // be an fd the fixture shares with a process outside its family.
        process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.standardError
        let child = process
        try Fixture.withNoSignalsBlocked { try child.run() }

        guard let line = Fixture.readLine(stdout.fileHandleForReading, timeout: timeout),
              line.hasPrefix(readyPrefix ?? "") else {
            kill(-process.processIdentifier, SIGKILL)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw FixtureError("fixture \(executable) did not print \(readyPrefix ?? "a line") within \(Int(timeout)) s")
        }
        firstLine = line
        var parsed: [String: String] = [:]
        for pair in line.split(separator: " ").dropFirst() {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { parsed[String(parts[0])] = String(parts[1]) }
        }
        values = parsed
    }

    deinit {
        stop()
    }

    /// Sends `signal` to the fixture and waits for its next output line, which must start with `prefix`.
    @discardableResult
    public func signal(_ signal: Int32, expect prefix: String, timeout: TimeInterval = 20) throws -> String {
        kill(pid, signal)
        guard let line = Fixture.readLine(stdout.fileHandleForReading, timeout: timeout), line.hasPrefix(prefix) else {
            throw FixtureError("fixture \(pid) did not answer signal \(signal) with \(prefix)")
        }
        return line
    }

    public func int(_ key: String) -> Int64? {
        values[key].flatMap { Int64($0) }
    }

    /// Kills the fixture's process group and reaps the fixture. Safe to call twice.
    public func stop() {
        kill(-process.processIdentifier, SIGKILL)
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Runs `body` with the calling thread's signal mask cleared, so that a
    /// child started inside inherits no blocked signal. Fixtures assert
    /// their masks, and a thread of the test process may have signals blocked.
    public static func withNoSignalsBlocked<T>(_ body: () throws -> T) rethrows -> T {
        var empty = sigset_t()
        var previous = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        return try body()
    }

    /// Builds Tests/Fixtures/NAME.c into build/fixtures/NAME when the source,
    /// or a header in Tests/Fixtures such as restore_check.h, is newer.
    public static func compile(_ name: String, flags: [String] = []) throws -> String {
        let root = repositoryRoot()
        let source = root + "/Tests/Fixtures/\(name).c"
        let outDir = root + "/build/fixtures"
        let binary = outDir + "/\(name)"
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)

        let fm = FileManager.default
        let headers = (try? fm.contentsOfDirectory(atPath: root + "/Tests/Fixtures"))?
            .filter { $0.hasSuffix(".h") }
            .map { root + "/Tests/Fixtures/" + $0 } ?? []
        func modified(_ path: String) -> Date? { try? fm.attributesOfItem(atPath: path)[.modificationDate] as? Date }
        if let built = modified(binary), ([source] + headers).allSatisfy({ modified($0).map { built > $0 } ?? false }) {
            return binary
        }
        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        gcc.arguments = ["-Wall", "-O2", "-pthread", "-o", binary + ".tmp", source] + flags
        try gcc.run()
        gcc.waitUntilExit()
        guard gcc.terminationStatus == 0 else { throw FixtureError("gcc failed on \(source)") }
        try? fm.removeItem(atPath: binary)
        try fm.moveItem(atPath: binary + ".tmp", toPath: binary)
        return binary
    }

    /// The repository root, found from this source file's path.
    public static func repositoryRoot() -> String {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.path + "/Package.swift") { return url.path }
        }
        return FileManager.default.currentDirectoryPath
    }

    /// Path of a file in $BPFCP_CASES, or in the nearest shared/cases directory
    /// beside the repository or one of its parents (git worktrees sit one level deeper).
    public static func casePath(_ file: String) -> String {
        if let base = ProcessInfo.processInfo.environment["BPFCP_CASES"] {
            return base + "/" + file
        }
        var url = URL(fileURLWithPath: repositoryRoot())
        while url.path != "/" {
            url.deleteLastPathComponent()
            let candidate = url.path + "/shared/cases"
            if FileManager.default.fileExists(atPath: candidate + "/" + file) { return candidate + "/" + file }
        }
        return repositoryRoot() + "/../shared/cases/" + file
    }

    /// Waits until every process of the fixture has closed its stdout
    /// pipe, as fixtures that point their stdio at /dev/null after READY
    /// do. Until then a checkpoint can find the pipe's write end in a
    /// member, with the read end in this test process.
    public func waitStdoutClosed(timeout: TimeInterval = 10) throws {
        let fd = stdout.fileHandleForReading.fileDescriptor
        let deadline = Date().addingTimeInterval(timeout)
        var byte: UInt8 = 0
        while Date() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) > 0 else { continue }
            if read(fd, &byte, 1) <= 0 { return }
        }
        throw FixtureError("fixture \(pid) still holds its stdout pipe \(Int(timeout)) s after READY")
    }

    private static func readLine(_ handle: FileHandle, timeout: TimeInterval) -> String? {
        let fd = handle.fileDescriptor
        let deadline = Date().addingTimeInterval(timeout)
        var bytes: [UInt8] = []
        while Date() < deadline {
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

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Skips the test, saying why, when BPF cannot run here: not root, or no
/// kernel BTF. CI runs as root with BTF, so nothing skips there.
public func requireBPF() throws {
    if geteuid() != 0 {
        throw XCTSkip("BPF tests need root (CAP_BPF, CAP_PERFMON); run `make test` as root")
    }
    if !FileManager.default.fileExists(atPath: "/sys/kernel/btf/vmlinux") {
        throw XCTSkip("kernel has no BTF at /sys/kernel/btf/vmlinux, which CO-RE programs need")
    }
}
