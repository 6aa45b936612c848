import BpfcpCore
import Foundation
import Synchronization

let psCommand = Command(
    name: "ps",
    summary: "list processes as the task iterator reports them",
    options: [
        OptionSpec("--user", short: "-u", value: "USER", help: "only processes whose real user is USER (name or uid; repeatable, or comma-separated)"),
        OptionSpec("--pid", short: "-p", value: "PID", help: "only these processes (repeatable, or comma-separated)"),
        OptionSpec("--proc", help: "read /proc instead of BPF (the fallback and oracle); works without root"),
    ],
    needsRoot: true,
    validate: { arguments in
        guard arguments.operands.isEmpty else {
            throw BpfcpError("usage", "ps takes no operands, got '\(Escape.text(arguments.operands[0]))': use --pid PID to select processes")
        }
        _ = try arguments.list("--pid").map(parsePid)
        _ = try arguments.list("--user").map(UserNames.uid)
    }
) { arguments, output in
    let source: CollectorSource = arguments.has("--proc") ? .proc : .bpf
    let pids = try arguments.list("--pid").map(parsePid)
    let uids = Set(try arguments.list("--user").map(UserNames.uid))

    if source == .proc && geteuid() != 0 {
        // /proc/PID/stat hides exit_code from readers who may not ptrace the process.
        output.note("without root, /proc shows 0 as the exit status of zombies of other users: run as root to see it")
    }
    var list = try collectProcesses(source: source, pids: pids)
    if !uids.isEmpty { list = list.filter { uids.contains($0.uid) } }
    list.sort { $0.pid < $1.pid }
    if !pids.isEmpty && list.isEmpty {
        let pidList = pids.map(String.init).joined(separator: ", ")
        let userList = arguments.list("--user").map(Escape.text).joined(separator: ", ")
        let owner = uids.isEmpty ? "" : " owned by user \(userList)"
        throw BpfcpError("no_such_process", "no process with pid \(pidList)\(owner) found: check the pid with `bpfcp ps`")
    }

    if output.json {
        try output.emit(PsReport(schemaVersion: Dump.schemaVersion, source: source,
                                 processes: list.map { PsProcess(entry: $0, user: UserNames.name($0.uid)) }))
        return ExitCode.success
    }
    output.text(psRow(["PID", "PPID", "USER", "S", "THR", "RSS", "TIME", "COMMAND"]))
    for p in list {
        output.text(psRow([String(p.pid), String(p.ppid), UserNames.name(p.uid), p.state.rawValue, String(p.threads),
                           Format.bytes(p.rssBytes), cpuTime(p.cpuTimeNs), displayCommand(p)]))
    }
    return ExitCode.success
}.runningWithoutRoot { $0.has("--proc") }

/// Lays out one line of `ps` text output. Numbers align right; USER and
/// COMMAND align left, and COMMAND is last so that it may be any length.
private func psRow(_ cells: [String]) -> String {
    let widths = [7, 7, -8, 1, 4, 9, 9]
    var parts: [String] = []
    for (cell, width) in zip(cells, widths) {
        let fill = String(repeating: " ", count: max(0, abs(width) - cell.count))
        parts.append(width < 0 ? cell + fill : fill + cell)
    }
    return (parts + [cells[cells.count - 1]]).joined(separator: " ")
}

/// Collects every process, or only `pids`, skipping requested pids that do not exist.
private func collectProcesses(source: CollectorSource, pids: [Int32]) throws -> [ProcessEntry] {
    guard !pids.isEmpty else {
        return source == .bpf ? try ProcessListBPF.collect() : try ProcessListProc.collect()
    }
    var result: [ProcessEntry] = []
    for pid in Set(pids) {
        let found = source == .bpf ? try ProcessListBPF.collect(pid: pid) : ((try? ProcessListProc.collect(pid: pid)) ?? [])
        result += found.filter { $0.pid == pid }
    }
    return result
}

/// CPU time as ps prints it: hours:minutes:seconds.
func cpuTime(_ ns: UInt64) -> String {
    let seconds = ns / 1_000_000_000
    return String(format: "%02llu:%02llu:%02llu", seconds / 3600, (seconds / 60) % 60, seconds % 60)
}

/// The command as text output shows it: "[comm]" for kernel threads,
/// "<defunct>" for zombies, and a marker with the true argv length when
/// only the start of argv was collected.
func displayCommand(_ p: ProcessEntry) -> String {
    if p.isKernelThread { return "[\(p.comm)]" }
    if p.isZombie { return "[\(p.comm)] <defunct>" }
    guard !p.commandLine.isEmpty else { return "[\(p.comm)]" }
    guard p.argvTruncated else { return p.commandLine }
    return p.commandLine + "... [argv truncated, \(p.argvLength) bytes]"
}

/// `ps --json` output.
struct PsReport: Encodable {
    let schemaVersion: Int
    let source: CollectorSource
    let processes: [PsProcess]
}

/// One process in `ps --json`: every `ProcessEntry` field plus the user name.
struct PsProcess: Encodable {
    let entry: ProcessEntry
    let user: String

    private enum Keys: String, CodingKey {
        case user
    }

    func encode(to encoder: Encoder) throws {
        try entry.encode(to: encoder)
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(user, forKey: .user)
    }
}

/// User names from the password database, cached per uid.
enum UserNames {
    private static let cache = Mutex<[UInt32: String]>([:])

    /// The login name of `uid`, or the number when it has none.
    static func name(_ uid: UInt32) -> String {
        if let cached = cache.withLock({ $0[uid] }) { return cached }
        var name = String(uid)
        if let entry = getpwuid(uid), let login = entry.pointee.pw_name {
            name = Escape.bytes(Array(String(cString: login).utf8))
        }
        cache.withLock { $0[uid] = name }
        return name
    }

    /// Parses a user given as a login name or a numeric uid.
    static func uid(_ text: String) throws -> UInt32 {
        if let uid = UInt32(text) { return uid }
        guard let entry = getpwnam(text) else {
            throw BpfcpError("unknown_user", "unknown user '\(Escape.text(text))': give a login name from /etc/passwd or a numeric uid")
        }
        return entry.pointee.pw_uid
    }
}
