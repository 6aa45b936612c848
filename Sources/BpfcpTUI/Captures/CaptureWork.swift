import BpfcpCore
import Foundation

/// A finished capture job, applied to the state by `CaptureResults`.
enum CaptureResult: Sendable {
    case checkpointed(pid: Int32, Result<Checkpoint, BpfcpError>)
    case diff(Result<TitledDiff, BpfcpError>)
    case writePrepared(captureId: Int, path: String, Result<TitledDiff, BpfcpError>)
    case written(captureId: Int, path: String, Result<CheckpointInfo, BpfcpError>)
    case opened(path: String, Result<Dump, BpfcpError>)
    case restorePrepared(path: String, Result<RestorePreview, BpfcpError>)
    /// `stdio` is the log that took the place of the image's terminal, nil when no fd was redirected to it.
    case restored(path: String, stdio: String?, Result<RestoreReport, BpfcpError>)
    case family(pid: Int32, Result<FamilyGraph, BpfcpError>)
    case peer(pid: Int32, fd: Int32, Result<[Int32], BpfcpError>)
}

/// A diff with the title of its screen.
struct TitledDiff: Sendable {
    var title: String
    var diff: DumpDiff
}

/// The preview shown before a restore: the diff against the live process with the image's pid, if one runs.
struct RestorePreview: Sendable {
    var imagePid: Int32
    /// Diff of the image against the live process; nil when the pid does not run.
    var diff: DumpDiff?
}

extension Worker {
    /// Runs one capture job on the job queue. `captures` is the list as the
    /// UI saw it when the job was asked for; checkpoints are shared, not copied.
    func run(_ job: CaptureJob, captures: [Capture], source: CollectorSource) {
        jobQueue.async { [self] in
            post(.capture(CaptureWork.perform(job, captures: captures, source: source)))
        }
    }

    /// Returns a semaphore signalled once the jobs queued so far have finished.
    func jobsFinished() -> DispatchSemaphore {
        let done = DispatchSemaphore(value: 0)
        jobQueue.async { done.signal() }
        return done
    }
}

/// The capture jobs themselves, run off the UI thread.
enum CaptureWork {
    static func perform(_ job: CaptureJob, captures: [Capture], source: CollectorSource) -> CaptureResult {
        switch job {
        case .checkpoint(let pid, let scratch):
            let options = CaptureOptions(scratchDirectory: scratch)
            return .checkpointed(pid: pid, attempt { try Checkpointer.capture(pid: pid, options: options) })
        case .diff(let a, let b):
            return .diff(attempt { try diff(a, b, captures: captures) })
        case .prepareWrite(let id, let path):
            return .writePrepared(captureId: id, path: path, attempt { try diffBeforeWrite(id, captures: captures) })
        case .write(let id, let path):
            return .written(captureId: id, path: path, attempt { try write(id, path: path, captures: captures) })
        case .open(let path):
            return .opened(path: path, attempt { try CaptureLoader.load(.image(path)) })
        case .prepareRestore(let path):
            return .restorePrepared(path: path, attempt { try previewRestore(path) })
        case .restore(let path, let stdio):
            let outcome = attempt { try restore(path, stdio: stdio) }
            return .restored(path: path, stdio: keepRestoredOutput(stdio), outcome)
        case .family(let pid):
            return .family(pid: pid, attempt { try FamilyGraph.collect(around: pid, source: source) })
        case .peer(let pid, let fd):
            return .peer(pid: pid, fd: fd, attempt { try PeerFinder.peers(of: pid, fd: fd) })
        }
    }

    private static func attempt<T>(_ body: () throws -> T) -> Result<T, BpfcpError> {
        Result { try body() }.mapError(Worker.oneLine)
    }

    /// Loads one side of a diff, with the content hashes of its pages.
    static func load(_ side: DiffSide, captures: [Capture]) throws -> LoadedCapture {
        switch side {
        case .capture(let id):
            return try captured(id, captures: captures, label: side.label)
        case .live(let pid):
            return try LoadedCapture.live(pid: pid, label: side.label, pages: true)
        case .image(let path):
            return try CaptureLoader.capture(.image(path), pages: true)
        }
    }

    /// Capture `id` of this run; `label` defaults to "capture #ID of PID".
    private static func captured(_ id: Int, captures: [Capture], label: String? = nil) throws -> LoadedCapture {
        guard let capture = captures.first(where: { $0.id == id }) else {
            throw BpfcpError("no_capture", "capture #\(id) is gone: take a new one with c")
        }
        return try LoadedCapture(checkpoint: capture.checkpoint, label: label ?? capture.label)
    }

    /// Diffs the two sides from the older to the newer, whatever order they were marked in.
    static func diff(_ a: DiffSide, _ b: DiffSide, captures: [Capture]) throws -> TitledDiff {
        let (older, newer) = chronological(try load(a, captures: captures), try load(b, captures: captures))
        return TitledDiff(title: "Diff \(older.label) → \(newer.label)", diff: Differ.diff(older, newer))
    }

    /// Orders two sides by the time they were taken. A live process is the newer side.
    static func chronological(_ x: LoadedCapture, _ y: LoadedCapture) -> (LoadedCapture, LoadedCapture) {
        if x.isLive != y.isLive { return x.isLive ? (y, x) : (x, y) }
        return x.dump.takenAt <= y.dump.takenAt ? (x, y) : (y, x)
    }

    /// Diffs the previous capture of the process against capture `id`, or,
    /// without one, capture `id` against the live process.
    private static func diffBeforeWrite(_ id: Int, captures: [Capture]) throws -> TitledDiff {
        let capture = try captured(id, captures: captures)
        let heading = "Before writing capture #\(id): "
        guard let pid = captures.first(where: { $0.id == id })?.pid else {
            return TitledDiff(title: heading + "no other side", diff: Differ.diff(capture, capture))
        }
        if let previous = captures.last(where: { $0.pid == pid && $0.id < id }) {
            let before = try captured(previous.id, captures: captures)
            return TitledDiff(title: heading + "what changed since \(before.label)", diff: Differ.diff(before, capture))
        }
        let live = try LoadedCapture.live(pid: pid, label: "live:\(pid)", pages: true)
        return TitledDiff(title: heading + "what live:\(pid) changed since this capture", diff: Differ.diff(capture, live))
    }

    private static func write(_ id: Int, path: String, captures: [Capture]) throws -> CheckpointInfo {
        guard let capture = captures.first(where: { $0.id == id }) else {
            throw BpfcpError("no_capture", "capture #\(id) is gone: take a new one with c")
        }
        try CheckpointImage.write(capture.checkpoint, to: path)
        return capture.checkpoint.info
    }

    /// Runs the checks restore makes before it creates a process, so that a
    /// rejected image is reported before the question, then diffs the image
    /// against the live process with its pid.
    private static func previewRestore(_ path: String) throws -> RestorePreview {
        let checkpoint = try CheckpointImage.open(path)
        try Restore.check(checkpoint, imageDirectory: path)
        let image = try LoadedCapture(checkpoint: checkpoint, label: CaptureRef.image(path).description)
        let pid = image.dump.pid
        guard let live = try? LoadedCapture.live(pid: pid, label: "live:\(pid)", pages: true) else {
            return RestorePreview(imagePid: pid, diff: nil)
        }
        return RestorePreview(imagePid: pid, diff: Differ.diff(image, live))
    }

    /// Returns `stdio` when restore redirected a terminal fd to it, which
    /// creates the file. Otherwise removes its empty directory and returns nil.
    private static func keepRestoredOutput(_ stdio: String) -> String? {
        if FileManager.default.fileExists(atPath: stdio) { return stdio }
        rmdir((stdio as NSString).deletingLastPathComponent)
        return nil
    }

    /// Restores with the image's pid, or a new one when that pid runs.
    private static func restore(_ path: String, stdio: String) throws -> RestoreReport {
        let checkpoint = try CheckpointImage.open(path)
        let pid = checkpoint.info.rootPid
        let taken = kill(pid, 0) == 0 || errno == EPERM
        let options = RestoreOptions(newPid: taken, stdio: stdio)
        return try Restore.run(imageDirectory: path, options: options)
    }
}
