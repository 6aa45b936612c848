import Foundation

/// Appends diagnostic lines to a log file, never to the terminal, so that a
/// curses screen stays intact. The path comes from BPFCP_LOG, else /tmp/bpfcp-<uid>.log.
public final class Log: @unchecked Sendable {
    public static let shared = Log()

    private let lock = NSLock()
    private var handle: FileHandle?
    public let path: String

    private init() {
        path = ProcessInfo.processInfo.environment["BPFCP_LOG"] ?? "/tmp/bpfcp-\(getuid()).log"
    }

    public func write(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        if handle == nil {
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return }
            handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        }
        let stamp = String(format: "%.3f", Date().timeIntervalSince1970)
        handle?.write(Data((stamp + " " + line + "\n").utf8))
    }
}
