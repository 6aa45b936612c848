import BpfcpCore
import CNcursesw
import Foundation

/// The bpfcp-top program: options, then the terminal and the main loop,
/// with the terminal restored and the demo stopped on every way out.
public enum Top {
    /// Runs bpfcp-top with `arguments` (without the program name) and returns the exit status.
    public static func main(_ arguments: [String]) -> Int32 {
        let options: TopOptions
        var onlyUid: UInt32?
        do {
            options = try TopOptions.parse(arguments, environment: ProcessInfo.processInfo.environment)
            if let user = options.user { onlyUid = try UserNames.uid(of: user) }
        } catch {
            printError(Worker.oneLine(error).message)
            return 2
        }
        if options.showHelp {
            print(TopOptions.usage)
            return 0
        }
        if options.showVersion {
            print("bpfcp-top \(TopOptions.version)")
            return 0
        }

        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
            printError("stdin and stdout must be a terminal; in scripts use `bpfcp ps` or `bpfcp dump PID --json`")
            return 2
        }

        let utf8 = bpfcp_setlocale_all() != 0 && localeIsUTF8()
        Signals.install()

        var demo: DemoWorkload?
        if options.demo {
            do {
                demo = try DemoWorkload()
            } catch {
                printError(Worker.oneLine(error).message)
                return 1
            }
        }
        defer { demo?.stop() }

        let screen = CursesScreen(color: options.color, tickMs: MainLoop.tickMs)
        defer { screen.end() }
        var loop = MainLoop(screen: screen, options: options, onlyUid: onlyUid, utf8: utf8, startPid: demo?.parent ?? options.startPid)
        return loop.run()
    }

    private static func localeIsUTF8() -> Bool {
        guard let name = setlocale(LC_CTYPE, nil) else { return false }
        let text = String(cString: name).lowercased()
        return text.contains("utf-8") || text.contains("utf8")
    }

    private static func printError(_ message: String) {
        FileHandle.standardError.write(Data(("bpfcp-top: " + TextWidth.sanitize(message) + "\n").utf8))
    }
}

/// The one loop that owns the screen: it applies worker results, starts
/// refreshes and jobs, reads keys, and is the only place that handles
/// KEY_RESIZE and rebuilds the layout.
struct MainLoop {
    static let tickMs: Int32 = 100

    private let screen: CursesScreen
    private let worker = Worker()
    private var state: AppState
    private var listInFlight = false
    private var nextRefreshNs: UInt64 = 0
    /// Set when a termination signal arrived while the checkpointer's own handlers were installed.
    private var captureInterrupted = false

    init(screen: CursesScreen, options: TopOptions, onlyUid: UInt32?, utf8: Bool, startPid: Int32?) {
        self.screen = screen
        let root = geteuid() == 0
        state = AppState(options: options, layout: screen.size, source: root ? .bpf : .proc)
        state.table.onlyUid = onlyUid
        state.localeIsUTF8 = utf8
        if !root {
            state.report(.error("eBPF needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE): run `sudo bpfcp-top`; reading /proc meanwhile"))
        } else {
            state.busy = "loading the eBPF programs"
        }
        if root { worker.preload() }
        if let startPid { state.requestDump(startPid) }
    }

    /// Runs until a quit key or a termination signal; returns the exit status.
    mutating func run() -> Int32 {
        let status = loop()
        finishCaptures()
        return status
    }

    private mutating func loop() -> Int32 {
        var dirty = true
        while true {
            if let signal = Signals.pending {
                Log.shared.write("bpfcp-top: stopping on signal \(signal)")
                return 128 + signal
            }
            if captureInterrupted {
                Log.shared.write("bpfcp-top: stopping: a termination signal interrupted the checkpoint")
                return 128 + SIGTERM
            }

            dirty = applyResults() || dirty
            state.captures.reapRestored()
            dirty = startWork() || dirty
            if state.busy != nil {
                state.spinnerFrame += 1
                dirty = true
            }
            if dirty {
                screen.paint(Renderer.render(&state))
                dirty = false
            }

            guard let key = screen.getKey() else { continue }
            if key == .resize {
                resize()
                dirty = true
                continue
            }
            let reaction = Dispatcher.handle(key, &state)
            if reaction.contains(.quit) { return 0 }
            if reaction.contains(.rescan) { nextRefreshNs = 0 }
            if reaction.contains(.repaintAll) { screen.invalidate() }
            dirty = dirty || !reaction.isEmpty
        }
    }

    /// Rebuilds the layout from the new terminal size and keeps the selections in view.
    private mutating func resize() {
        state.layout = screen.size
        state.table.cursor.clamp(count: state.table.rows.count, height: state.layout.listHeight)
        screen.invalidate()
    }

    /// Starts the list refresh when due, and the jobs that actions requested.
    private mutating func startWork() -> Bool {
        let now = Clock.now()
        if !listInFlight && now >= nextRefreshNs {
            listInFlight = true
            nextRefreshNs = now + UInt64(state.options.delayTenths) * 100_000_000
            worker.refresh(source: state.source)
        }
        let jobs = state.jobs
        state.jobs = []
        for job in jobs { worker.run(job, source: state.source) }
        let captureJobs = state.captures.jobs
        state.captures.jobs = []
        for job in captureJobs { worker.run(job, captures: state.captures.list, source: state.source) }
        return !jobs.isEmpty || !captureJobs.isEmpty
    }

    /// On the way out: a checkpoint still running is interrupted, which
    /// releases its target, jobs are waited for, then the page stores go.
    private mutating func finishCaptures() {
        // A write or restore in progress finishes too, so no half-written
        // image or half-restored process is left behind. The checkpointer
        // installs its release handlers only once the target is about to be
        // held, so the signal is repeated until the job ends.
        let finished = worker.jobsFinished()
        let deadline = Clock.now() + 30_000_000_000
        while finished.wait(timeout: .now() + 0.1) == .timedOut {
            if Clock.now() > deadline {
                Log.shared.write("bpfcp-top: background work did not finish within 30 s; exiting detaches any target")
                break
            }
            if state.captures.checkpointing { kill(getpid(), SIGTERM) }
        }
        state.captures.list = []
        state.captures.scratch?.remove()
    }

    /// Applies every finished result; returns true when the screen changed.
    private mutating func applyResults() -> Bool {
        let results = worker.drain()
        for result in results {
            switch result {
            case .processes(let list, let source, let sampleNs, let readNs, let fallback):
                applyList(list, source: source, sampleNs: sampleNs, readNs: readNs, fallback: fallback)
            case .dump(let pid, let dump):
                state.applyDump(dump, pid: pid)
            case .comparison(let pid, let pair):
                state.applyComparison(pair, pid: pid)
            case .capture(let result):
                if state.applyCapture(result) { captureInterrupted = true }
            }
        }
        return !results.isEmpty
    }

    private mutating func applyList(_ list: Result<[ProcessEntry], BpfcpError>, source: CollectorSource,
                                    sampleNs: UInt64, readNs: UInt64, fallback: String?) {
        listInFlight = false
        if state.busy == "loading the eBPF programs" { state.busy = nil }
        if let fallback {
            state.source = source
            state.report(.error(fallback + "; reading /proc instead"))
        }
        switch list {
        case .success(let processes):
            state.applyProcesses(processes, sampleNs: sampleNs, readNs: readNs)
        case .failure(let error):
            state.report(.error("refreshing the process list failed: " + error.message))
        }
    }
}
