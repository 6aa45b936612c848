import BpfcpCore
import Foundation

/// One checkpoint taken in this run: kernel state in memory, pages in the
/// run's private page directory (removed with the checkpoint or on exit).
public struct Capture: Sendable {
    public let id: Int
    public let checkpoint: Checkpoint
    /// The root process rendered like a live dump, for browsing and diffs.
    public let dump: Dump
    /// Image directory this capture was written to, once written.
    public var writtenTo: String?

    public var pid: Int32 { checkpoint.info.rootPid }
    public var label: String { "capture #\(id) of \(pid)" }
}

/// One side of a diff: a capture of this run, a live process or an image directory.
public enum DiffSide: Equatable, Sendable {
    case capture(Int)
    case live(Int32)
    case image(String)

    public var label: String {
        switch self {
        case .capture(let id): "capture #\(id)"
        case .live(let pid): "live:\(pid)"
        case .image(let path): Escape.text(path)
        }
    }
}

/// The action a y/n confirmation runs on y.
public enum ConfirmedAction: Equatable, Sendable {
    case write(captureId: Int, path: String)
    case restore(path: String)
}

/// The purpose of the path prompt.
public enum PathPurpose: Equatable, Sendable {
    case write(captureId: Int)
    case open
    case restore
}

/// Screens that show lines built off the UI thread: a diff, a diff waiting
/// for y/n, a restore's verification, the process family.
public struct TextScreen: Sendable {
    public var title: String
    public var lines: [ScreenLine]
    /// Text wrapped to the screen width when drawn, in place of `lines`, for an error too long for the status bar.
    public var message: String?
    public var cursor = ListCursor()
    /// Set while the screen waits for y/n; the footer shows the question.
    public var question: String?
    public var onYes: ConfirmedAction?
    /// Pid of each line that leads to a process (family view), for Enter.
    public var linePids: [Int: Int32] = [:]

    public init(title: String, lines: [ScreenLine]) {
        self.title = title
        self.lines = lines
    }
}

/// Work the capture features hand to the background worker.
public enum CaptureJob: Equatable, Sendable {
    case checkpoint(pid: Int32, scratch: String)
    case diff(DiffSide, DiffSide)
    /// Diff before writing. Pressing y then writes.
    case prepareWrite(captureId: Int, path: String)
    case write(captureId: Int, path: String)
    case open(path: String)
    /// Diff of the image against its live process before restoring.
    case prepareRestore(path: String)
    case restore(path: String, stdio: String)
    case family(pid: Int32)
    case peer(pid: Int32, fd: Int32)
}

/// The captures of this run and the state of the capture screens, kept in `AppState.captures`.
public struct CaptureState: Sendable {
    public var list: [Capture] = []
    public var nextId = 1
    public var cursor = ListCursor()
    /// Marked diff sides, oldest first; at most two.
    public var marks: [DiffSide] = []
    public var screen: TextScreen?
    /// Mode to return to when a capture screen closes.
    public var returnMode: Mode = .list
    public var prompt = ""
    public var promptPurpose: PathPurpose?
    public var jobs: [CaptureJob] = []
    /// Private directory of this run's page stores, created 0700 on first use.
    public var scratch: ScratchDirectory?
    /// True while a checkpoint runs, so quitting waits for the target's release.
    public var checkpointing = false
    /// Restored processes, which are children of bpfcp-top and are reaped when they exit.
    public var restored: [Int32] = []

    /// Reaps the restored processes that have exited, so they do not stay zombies.
    public mutating func reapRestored() {
        restored.removeAll { pid in
            var status: Int32 = 0
            return waitpid(pid, &status, WNOHANG) == pid
        }
    }

    public init() {}

    public func capture(_ id: Int) -> Capture? {
        list.first { $0.id == id }
    }

    /// Returns the last capture of the same process taken before capture `id`, if any.
    public func previous(of id: Int) -> Capture? {
        guard let current = capture(id) else { return nil }
        return list.last { $0.pid == current.pid && $0.id < id }
    }

    /// Marks `side`, or unmarks it when it is marked; keeps the two latest marks.
    public mutating func toggleMark(_ side: DiffSide) -> Bool {
        if let index = marks.firstIndex(of: side) {
            marks.remove(at: index)
            return false
        }
        marks.append(side)
        if marks.count > 2 { marks.removeFirst() }
        return true
    }
}

/// A directory only this user can read, removed with everything in it on exit.
public final class ScratchDirectory: Sendable {
    public let path: String

    /// Creates $TMPDIR/bpfcp-top-PID-XXXXXX with mode 0700.
    public init() throws {
        let base = (ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp")
        var template = Array((base + "/bpfcp-top-\(getpid())-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw BpfcpError.system("creating a private directory for checkpoint pages in \(Escape.text(base))", errno)
        }
        path = String(cString: made)
        chmod(path, 0o700)
    }

    /// Removes the directory and every page store in it. Safe to call twice.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    deinit {
        remove()
    }
}
