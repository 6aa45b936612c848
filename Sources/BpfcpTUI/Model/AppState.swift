import BpfcpCore
import Foundation

/// Screen geometry, rebuilt by the main loop only, on start and on KEY_RESIZE.
public struct Layout: Equatable, Sendable {
    public let rows: Int
    public let cols: Int

    public init(rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
    }

    /// Lines above the table: two header lines, then the column titles.
    public static let listHeaderLines = 3
    /// Lines above the detail table: two header lines, the tab bar, the column titles.
    public static let detailHeaderLines = 4
    /// Status bar and footer.
    public static let bottomLines = 2

    public var listHeight: Int { max(1, rows - Layout.listHeaderLines - Layout.bottomLines) }
    public var detailHeight: Int { max(1, rows - Layout.detailHeaderLines - Layout.bottomLines) }
    public var tooSmall: Bool { rows < 8 || cols < 30 }
}

/// Long work the main loop hands to the background worker.
public enum JobRequest: Equatable, Sendable {
    /// A live dump of `pid`, which opens the detail view when it arrives.
    case dump(pid: Int32)
    /// The same dump through /proc and eBPF again, for the timing comparison.
    case compare(pid: Int32)
}

/// One line for the status bar.
public struct StatusMessage: Equatable, Sendable {
    public let text: String
    public let isError: Bool

    public static func error(_ text: String) -> StatusMessage { StatusMessage(text: text, isError: true) }
    public static func info(_ text: String) -> StatusMessage { StatusMessage(text: text, isError: false) }
}

/// Everything the screen shows, without curses: the main loop applies key
/// actions and worker results to it, and the renderer draws it.
public struct AppState: Sendable {
    public var options: TopOptions
    public var layout: Layout
    public var mode: Mode = .list
    /// Mode that any key returns to from the help screen.
    public var modeBeforeHelp: Mode = .list
    /// First help line shown, changed by the arrows and pages on the help screen.
    public var helpTop = 0
    public var table = ProcessTable()
    public var detail: DetailModel?
    public var source: CollectorSource
    /// Rows and time of the last process-list read.
    public var listRead: (rows: Int, ns: UInt64)?
    public var searchText = ""
    public var sortMenu = ListCursor()
    public var status: StatusMessage?
    /// Work in progress shown with a spinner, e.g. "dumping 1234".
    public var busy: String?
    public var spinnerFrame = 0
    /// Jobs requested by actions, taken by the main loop.
    public var jobs: [JobRequest] = []
    /// The dump whose result should open the detail view; nil when cancelled.
    public var awaitedDump: Int32?
    public var localeIsUTF8 = true
    /// Checkpoints of this run and the capture screens (c, C, m, D, w, o, R, F).
    public var captures = CaptureState()

    public init(options: TopOptions, layout: Layout, source: CollectorSource) {
        self.options = options
        self.layout = layout
        self.source = source
        table.filter = options.filter
    }

    /// Shows `message` in the status bar until the next message replaces it.
    public mutating func report(_ message: StatusMessage) {
        status = message
        let prefix = message.isError ? "error: " : "info: "
        Log.shared.write("bpfcp-top " + prefix + message.text)
    }

    /// Applies a new process snapshot; notices when the open dump's process exited.
    public mutating func applyProcesses(_ list: [ProcessEntry], sampleNs: UInt64, readNs: UInt64) {
        table.update(list, sampleNs: sampleNs, height: layout.listHeight)
        listRead = (list.count, readNs)

        guard var detail, detail.exitedNote == nil, detail.origin == nil else { return }
        let pid = detail.pid
        let alive = list.first { $0.pid == pid && $0.startTimeNs / 10_000_000 == detail.dump.process.startTimeNs / 10_000_000 }
        if alive == nil || alive?.isZombie == true {
            let time = Self.clockTime(detail.dump.takenAt)
            detail.exitedNote = "exited"
            self.detail = detail
            report(.error("process \(pid) exited: showing its last dump, taken at \(time); Esc returns to the list"))
        }
    }

    /// Opens the detail view on a finished dump, unless the user moved on.
    public mutating func applyDump(_ result: Result<Dump, BpfcpError>, pid: Int32) {
        guard awaitedDump == pid else { return }
        awaitedDump = nil
        busy = nil
        switch result {
        case .success(let dump):
            if detail?.pid == pid, mode == .detail {
                detail?.replace(with: dump)
            } else {
                detail = DetailModel(dump: dump)
            }
            mode = .detail
            status = nil
            table.follow(pid, height: layout.listHeight)
        case .failure(let error):
            report(.error(error.message))
        }
    }

    public mutating func applyComparison(_ result: Result<(proc: Dump, bpf: Dump), BpfcpError>, pid: Int32) {
        busy = nil
        guard detail?.pid == pid else { return }
        switch result {
        case .success(let pair):
            detail?.comparison = pair
            let ratio = Double(pair.proc.totalNs) / Double(max(1, pair.bpf.totalNs))
            report(.info(String(format: "the same dump took %@ through eBPF and %@ through /proc (%.1fx)",
                                Format.milliseconds(pair.bpf.totalNs), Format.milliseconds(pair.proc.totalNs), ratio)))
        case .failure(let error):
            report(.error(error.message))
        }
    }

    /// Requests a dump of `pid` and shows a spinner until it arrives.
    public mutating func requestDump(_ pid: Int32) {
        awaitedDump = pid
        busy = "dumping process \(pid)"
        jobs.append(.dump(pid: pid))
    }

    static func clockTime(_ epochSeconds: Double) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        return formatter.string(from: Date(timeIntervalSince1970: epochSeconds))
    }
}
