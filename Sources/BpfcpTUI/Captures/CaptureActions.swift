import BpfcpCore
import Foundation

/// Key bindings of the capture features: checkpoint, captures list, mark,
/// diff, write, open, restore, process family and peers.
enum CaptureActions {
    static let browse: Set<Mode> = [.list, .detail, .captures]

    static let all: [Action] = [
        Action([.char("c")], "Checkpoint", "checkpoint the process: hold it a moment and keep its state in this run",
               modes: [.list, .detail], effect: "holds every thread of the process while it reads its state") { checkpoint(&$0) },
        Action([.char("C")], "Captures", "list the checkpoints taken in this run", modes: [.list, .detail]) { state in
            state.captures.returnMode = state.mode
            state.mode = .captures
            return .redraw
        },
        Action([.char("m")], "Mark", "mark this capture, or the live process, for a diff", modes: [.detail, .captures]) { mark(&$0) },
        Action([.char("D")], "Diff", "list what changed from the older marked side to the newer one", modes: browse) { diff(&$0) },
        Action([.char("w")], "Write", "write the selected capture to an image directory (shows the diff first)",
               modes: [.captures], effect: "writes an image directory") { askWrite(&$0) },
        Action([.enter], "Browse", "browse the selected capture like a dump", modes: [.captures]) { browseCapture(&$0) },
        Action([.char("o")], "Open", "open an image directory and browse it like a dump", modes: browse) { state in
            askPath(&state, .open, default: state.captures.list.last { $0.writtenTo != nil }?.writtenTo ?? defaultDirectory())
        },
        Action([.char("R")], "Restore", "restore a process from an image directory (shows the diff first)",
               modes: browse, effect: "creates a process") { state in
            askPath(&state, .restore, default: imageInView(state) ?? state.captures.list.last { $0.writtenTo != nil }?.writtenTo ?? "")
        },
        Action([.char("F")], "Family", "show the process family with the pipes and sockets between them", modes: [.list, .detail]) { family(&$0) },
        Action([.char("g")], "Peer", "dump the process at the other end of the selected pipe or socket", modes: [.detail]) { peer(&$0) },
        Action([.escape, .backspace, .char("C")], "Back", "return to where C was pressed", modes: [.captures]) { state in
            state.mode = state.captures.returnMode == .captures ? .list : state.captures.returnMode
            return .redraw
        },
        Action([.up, .char("k")], "Up", "move up", modes: [.captures, .textScreen], inFooter: false) { move(&$0, -1) },
        Action([.down, .char("j")], "Down", "move down", modes: [.captures, .textScreen], inFooter: false) { move(&$0, 1) },
        Action([.pageUp], "PgUp", "move one page up", modes: [.captures, .textScreen], inFooter: false) { move(&$0, -$0.layout.listHeight) },
        Action([.pageDown], "PgDn", "move one page down", modes: [.captures, .textScreen], inFooter: false) { move(&$0, $0.layout.listHeight) },
        Action([.char("y")], "Yes", "answer yes to the question", modes: [.textScreen], inFooter: false) { answer(&$0, yes: true) },
        Action([.char("n")], "No", "answer no to the question", modes: [.textScreen], inFooter: false) { answer(&$0, yes: false) },
        Action([.enter], "Dump", "dump the selected process of the family", modes: [.textScreen], inFooter: false) { dumpFromScreen(&$0) },
        Action([.escape, .backspace, .char("q")], "Back", "close this screen", modes: [.textScreen]) { answer(&$0, yes: false) },
        Action([.enter], "OK", "use this path", modes: [.pathPrompt]) { submitPath(&$0) },
        Action([.escape], "Cancel", "cancel", modes: [.pathPrompt]) { state in
            state.mode = state.captures.returnMode
            state.captures.promptPurpose = nil
            return .redraw
        },
    ]

    // MARK: - actions

    private static func selectedPid(_ state: AppState) -> Int32? {
        state.mode == .detail ? state.detail?.pid : state.table.selectedRow?.process.pid
    }

    private static func checkpoint(_ state: inout AppState) -> Reaction {
        guard let pid = selectedPid(state) else { return .none }
        guard !state.captures.checkpointing else {
            state.report(.error("a checkpoint is already running: wait for it to finish"))
            return .redraw
        }
        // Without root the BPF load fails with EPERM, so report the fix before trying.
        guard geteuid() == 0 else {
            state.report(.error("checkpoint needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE): quit and run `sudo bpfcp-top`"))
            return .redraw
        }
        if state.captures.scratch == nil {
            do {
                state.captures.scratch = try ScratchDirectory()
            } catch {
                state.report(.error(Worker.oneLine(error).message))
                return .redraw
            }
        }
        state.captures.checkpointing = true
        state.busy = "checkpointing process \(pid)"
        state.captures.jobs.append(.checkpoint(pid: pid, scratch: state.captures.scratch?.path ?? NSTemporaryDirectory()))
        return .redraw
    }

    private static func mark(_ state: inout AppState) -> Reaction {
        let side: DiffSide
        if state.mode == .captures {
            guard state.captures.list.indices.contains(state.captures.cursor.selected) else { return .none }
            side = .capture(state.captures.list[state.captures.cursor.selected].id)
        } else if let origin = state.detail?.origin {
            side = origin
        } else if let pid = state.detail?.pid {
            side = .live(pid)
        } else {
            return .none
        }
        let marked = state.captures.toggleMark(side)
        state.report(.info(markMessage(side, marked: marked, marks: state.captures.marks)))
        return .redraw
    }

    /// Builds the status line after m: what changed, and what the marks are now when that adds something.
    static func markMessage(_ side: DiffSide, marked: Bool, marks: [DiffSide]) -> String {
        let others = marks.filter { $0 != side }.map(\.label)
        if !marked {
            return "unmarked \(side.label)" + (others.isEmpty ? "" : "; still marked: \(others[0])")
        }
        if others.isEmpty {
            return "marked \(side.label); mark a second side with m, then D shows the diff"
        }
        return "marked \(side.label), with \(others[0]) marked before; D shows the diff"
    }

    private static func diff(_ state: inout AppState) -> Reaction {
        let marks = state.captures.marks
        guard marks.count == 2 else {
            state.report(.error("mark two captures first with m (marked: \(marks.count))"))
            return .redraw
        }
        state.busy = "comparing \(marks[0].label) with \(marks[1].label)"
        state.captures.jobs.append(.diff(marks[0], marks[1]))
        return .redraw
    }

    private static func askWrite(_ state: inout AppState) -> Reaction {
        guard state.captures.list.indices.contains(state.captures.cursor.selected) else { return .none }
        let capture = state.captures.list[state.captures.cursor.selected]
        return askPath(&state, .write(captureId: capture.id), default: defaultImagePath(capture))
    }

    /// Returns the directory `w` proposes for `capture`: bpfcp-COMM-PID-HHMMSS
    /// in the current directory when it is writable, else in $TMPDIR, with
    /// -2, -3... added while a file of that name exists.
    static func defaultImagePath(_ capture: Capture) -> String {
        let time = AppState.clockTime(capture.checkpoint.info.takenAt).replacingOccurrences(of: ":", with: "")
        let base = "bpfcp-\(fileNamePart(capture.dump.process.comm))-\(capture.pid)-\(time)"
        let directory = access(".", W_OK) == 0 ? "." : temporaryDirectory()
        var path = directory + "/" + base
        var info = stat()
        var suffix = 2

        while lstat(path, &info) == 0 {
            path = directory + "/" + base + "-\(suffix)"
            suffix += 1
        }
        return path
    }

    /// Keeps letters, digits, '.', '_' and '-' of a process name and replaces
    /// every other character with '_', so the name is safe in a path and a shell.
    /// `name` is escaped text (see `Escape`), so the bytes are unescaped first
    /// and a control byte becomes one '_' rather than its `\xNN` spelling.
    static func fileNamePart(_ name: String) -> String {
        let raw = String(decoding: Escape.unescape(name), as: UTF8.self)
        let safe = String(raw.unicodeScalars.map { scalar in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._-".unicodeScalars.contains(scalar))
                ? Character(scalar) : "_"
        })
        return safe.isEmpty ? "process" : safe
    }

    private static func askPath(_ state: inout AppState, _ purpose: PathPurpose, default text: String) -> Reaction {
        if state.mode != .pathPrompt && state.mode != .textScreen { state.captures.returnMode = state.mode }
        state.captures.promptPurpose = purpose
        state.captures.prompt = text
        state.mode = .pathPrompt
        return .redraw
    }

    /// Returns the current directory when it is writable, else $TMPDIR.
    static func defaultDirectory() -> String {
        let here = FileManager.default.currentDirectoryPath
        if access(here, W_OK) == 0 { return here }
        return temporaryDirectory()
    }

    /// Returns $TMPDIR, or /tmp when it is unset or empty.
    static func temporaryDirectory() -> String {
        ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
    }

    private static func imageInView(_ state: AppState) -> String? {
        guard state.mode == .detail, case .image(let path)? = state.detail?.origin else { return nil }
        return path
    }

    private static func submitPath(_ state: inout AppState) -> Reaction {
        let path = state.captures.prompt.trimmingCharacters(in: .whitespaces)
        guard let purpose = state.captures.promptPurpose, !path.isEmpty else { return .none }
        state.captures.promptPurpose = nil
        state.mode = state.captures.returnMode
        switch purpose {
        case .write(let id):
            state.busy = "comparing capture #\(id) before writing it"
            state.captures.jobs.append(.prepareWrite(captureId: id, path: path))
        case .open:
            state.busy = "opening \(Escape.text(path))"
            state.captures.jobs.append(.open(path: path))
        case .restore:
            state.busy = "comparing \(Escape.text(path)) with its live process"
            state.captures.jobs.append(.prepareRestore(path: path))
        }
        return .redraw
    }

    private static func answer(_ state: inout AppState, yes: Bool) -> Reaction {
        guard let screen = state.captures.screen else { return .none }
        if screen.question == nil && yes { return .none }
        state.captures.screen = nil
        state.mode = state.captures.returnMode
        guard let action = screen.onYes, screen.question != nil else { return .redraw }
        guard yes else {
            state.report(.info("cancelled: nothing was written or restored"))
            return .redraw
        }
        switch action {
        case .write(let id, let path):
            state.busy = "writing capture #\(id) to \(Escape.text(path))"
            state.captures.jobs.append(.write(captureId: id, path: path))
        case .restore(let path):
            let stdio: String
            do {
                stdio = try restoredOutputPath()
            } catch {
                state.report(.error(Worker.oneLine(error).message))
                return .redraw
            }
            state.busy = "restoring \(Escape.text(path))"
            state.captures.jobs.append(.restore(path: path, stdio: stdio))
        }
        return .redraw
    }

    /// Creates a 0700 directory for the terminal output of a restored process
    /// and returns the log path in it. The scratch directory would not do,
    /// because bpfcp-top removes it on exit while the process keeps writing.
    private static func restoredOutputPath() throws -> String {
        let base = temporaryDirectory()
        var template = Array((base + "/bpfcp-restored-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw BpfcpError.system("creating a private directory for the restored process's output in \(Escape.text(base))", errno)
        }
        return String(cString: made) + "/stdio.log"
    }

    private static func browseCapture(_ state: inout AppState) -> Reaction {
        guard state.captures.list.indices.contains(state.captures.cursor.selected) else { return .none }
        let capture = state.captures.list[state.captures.cursor.selected]
        var detail = DetailModel(dump: capture.dump)
        detail.origin = .capture(capture.id)
        state.detail = detail
        state.mode = .detail
        return .redraw
    }

    private static func family(_ state: inout AppState) -> Reaction {
        guard let pid = selectedPid(state) else { return .none }
        state.busy = "reading the family of process \(pid)"
        state.captures.jobs.append(.family(pid: pid))
        return .redraw
    }

    private static func peer(_ state: inout AppState) -> Reaction {
        guard let detail = state.detail, let section = detail.currentTab.section,
              ["files", "pipes", "sockets"].contains(section.kind) else {
            state.report(.error("g works on a row of the Files, Pipes or Sockets tab"))
            return .redraw
        }
        let entries = detail.currentTab.entries
        guard entries.indices.contains(detail.cursor.selected),
              let fd = entries[detail.cursor.selected].fields.first(where: { $0.name == "fd" }).flatMap({ Int32($0.value) }) else {
            return .none
        }
        state.busy = "looking for the other end of fd \(fd)"
        state.captures.jobs.append(.peer(pid: detail.pid, fd: fd))
        return .redraw
    }

    private static func dumpFromScreen(_ state: inout AppState) -> Reaction {
        guard let screen = state.captures.screen, let pid = screen.linePids[screen.cursor.selected] else { return .none }
        state.captures.screen = nil
        state.requestDump(pid)
        return .redraw
    }

    private static func move(_ state: inout AppState, _ delta: Int) -> Reaction {
        let height = state.layout.listHeight
        if state.mode == .captures {
            state.captures.cursor.move(delta, count: state.captures.list.count, height: height)
        } else if var screen = state.captures.screen {
            if screen.linePids.isEmpty {
                screen.cursor.top = max(0, min(screen.cursor.top + delta, screen.lines.count - height))
            } else {
                screen.cursor.move(delta, count: screen.lines.count, height: height)
            }
            state.captures.screen = screen
        }
        return .redraw
    }
}
