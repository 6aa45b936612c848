import BpfcpCore
import Foundation

extension AppState {
    /// Applies a finished capture job. Returns true when the job was a
    /// checkpoint interrupted by a termination signal, so the TUI must quit.
    mutating func applyCapture(_ result: CaptureResult) -> Bool {
        busy = nil
        switch result {
        case .checkpointed(let pid, let outcome):
            captures.checkpointing = false
            return applyCheckpoint(outcome, pid: pid)
        case .diff(let outcome):
            show(outcome.map { TextScreen(title: $0.title, lines: CaptureViews.diffLines($0.diff)) })
        case .writePrepared(let id, let path, let outcome):
            show(outcome.map { titled in
                var screen = TextScreen(title: titled.title, lines: CaptureViews.diffLines(titled.diff))
                screen.question = "write capture #\(id) to \(Escape.text(path))?"
                screen.onYes = .write(captureId: id, path: path)
                return screen
            })
        case .written(let id, let path, let outcome):
            applyWritten(outcome, id: id, path: path)
        case .opened(let path, let outcome):
            applyOpened(outcome, path: path)
        case .restorePrepared(let path, let outcome):
            show(outcome.map { restoreQuestion($0, path: path) }, failedTitle: "Restore of \(Escape.text(path)) rejected")
        case .restored(let path, let stdio, let outcome):
            if case .success(let report) = outcome { captures.restored.append(report.pid) }
            show(outcome.map { report in
                TextScreen(title: "Restore of \(Escape.text(path))", lines: CaptureViews.restoreLines(report, path: path, stdio: stdio))
            }, failedTitle: "Restore of \(Escape.text(path)) failed")
        case .family(_, let outcome):
            show(outcome.map(CaptureViews.familyScreen))
        case .peer(let pid, let fd, let outcome):
            applyPeer(outcome, pid: pid, fd: fd)
        }
        return false
    }

    private mutating func applyCheckpoint(_ outcome: Result<Checkpoint, BpfcpError>, pid: Int32) -> Bool {
        switch outcome {
        case .success(let checkpoint):
            let id = captures.nextId
            captures.nextId += 1
            let root = checkpoint.process(checkpoint.info.rootPid) ?? checkpoint.processes[0]
            let dump = CheckpointView.dump(root, info: checkpoint.info)
            captures.list.append(Capture(id: id, checkpoint: checkpoint, dump: dump))
            let stats = checkpoint.info.stats
            report(.info("capture #\(id) of process \(pid) (\(dump.process.comm)): frozen \(Format.milliseconds(stats.frozenNs)), total \(Format.milliseconds(stats.totalNs)); C lists the captures"))
            return false
        case .failure(let error):
            report(.error("checkpoint of process \(pid) failed: " + error.message))
            return error.code == "interrupted"
        }
    }

    private mutating func applyWritten(_ outcome: Result<CheckpointInfo, BpfcpError>, id: Int, path: String) {
        switch outcome {
        case .success:
            if let index = captures.list.firstIndex(where: { $0.id == id }) { captures.list[index].writtenTo = path }
            report(.info("capture #\(id) written to \(Escape.text(path)); o opens it, R restores it"))
        case .failure(let error):
            report(.error("writing capture #\(id) failed: " + error.message))
        }
    }

    private mutating func applyOpened(_ outcome: Result<Dump, BpfcpError>, path: String) {
        switch outcome {
        case .success(let dump):
            var model = DetailModel(dump: dump)
            model.origin = .image(path)
            detail = model
            mode = .detail
            report(.info("image \(Escape.text(path)): process \(dump.pid) as captured; m marks it for a diff, R restores it"))
        case .failure(let error):
            report(.error(error.message))
        }
    }

    private func restoreQuestion(_ preview: RestorePreview, path: String) -> TextScreen {
        let pid = preview.imagePid
        guard let diff = preview.diff else {
            var screen = TextScreen(title: "Restore \(Escape.text(path))",
                                    lines: [ScreenLine("no live process \(pid): restore creates it again with pid \(pid)")])
            screen.question = "restore process \(pid) from \(Escape.text(path))?"
            screen.onYes = .restore(path: path)
            return screen
        }
        var screen = TextScreen(title: "Before restoring: the image against the live process \(pid)", lines: CaptureViews.diffLines(diff))
        screen.question = "process \(pid) still runs: restore a copy of it with a new pid?"
        screen.onYes = .restore(path: path)
        return screen
    }

    private mutating func applyPeer(_ outcome: Result<[Int32], BpfcpError>, pid: Int32, fd: Int32) {
        switch outcome {
        case .success(let peers):
            guard let first = peers.first else { return }
            requestDump(first)
            if peers.count > 1 {
                report(.info("fd \(fd) of \(pid) is shared by \(peers.map(String.init).joined(separator: ", ")): dumping \(first)"))
            }
        case .failure(let error):
            report(.error(error.message))
        }
    }

    /// Opens a line screen on top of the current mode, or reports the error.
    /// With `failedTitle`, an error longer than the status bar opens a
    /// screen of that title with the whole message wrapped.
    private mutating func show(_ outcome: Result<TextScreen, BpfcpError>, failedTitle: String? = nil) {
        switch outcome {
        case .success(let screen):
            open(screen)
        case .failure(let error):
            report(.error(error.message))
            guard let failedTitle, TextWidth.width(error.message) > layout.cols else { return }
            var screen = TextScreen(title: failedTitle + " (Esc closes this message)", lines: [])
            screen.message = error.message
            open(screen)
            // The status bar keeps the start of the message after the screen closes.
            status = .error(error.message)
        }
    }

    private mutating func open(_ screen: TextScreen) {
        if mode != .textScreen && mode != .pathPrompt { captures.returnMode = mode }
        captures.screen = screen
        mode = .textScreen
        status = nil
    }
}
