import CBpfcpShim
import Foundation

/// Reads the process list from /proc: the fallback without BPF, the oracle
/// in tests and the baseline in benchmarks.
public enum ProcessListProc {
    public static func collect(pid: Int32? = nil) throws -> [ProcessEntry] {
        if let pid {
            guard let entry = try? entry(pid) else { throw BpfcpError.noSuchProcess(pid) }
            return [entry]
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: "/proc")
        return names.compactMap { Int32($0) }.compactMap { try? entry($0) }
    }

    static let ticksPerSecond = UInt64(sysconf(Int32(_SC_CLK_TCK)))

    /// Builds one entry from /proc/PID/stat, status and cmdline. Throws when the process is gone.
    public static func entry(_ pid: Int32) throws -> ProcessEntry {
        let stat = try ProcFS.readBytes("/proc/\(pid)/stat")
        let status = try ProcFS.readText("/proc/\(pid)/status")
        let cmdline = (try? ProcFS.readBytes("/proc/\(pid)/cmdline")) ?? []
        let fields = try StatLine(stat, path: "/proc/\(pid)/stat")
        let statusFields = ProcFS.keyValues(status)
        let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let nsPerTick = 1_000_000_000 / ticksPerSecond

        let uids = (statusFields["Uid"] ?? "").split(separator: "\t").compactMap { UInt32($0) }
        let gids = (statusFields["Gid"] ?? "").split(separator: "\t").compactMap { UInt32($0) }
        let state = TaskState(rawValue: fields.state) ?? .sleeping
        let flags = UInt32(fields.number(9))
        let outcome = ExitOutcome(state: state, waitStatus: Int32(truncatingIfNeeded: fields.number(52)))

        return ProcessEntry(
            pid: pid,
            ppid: Int32(fields.number(4)), pgid: Int32(fields.number(5)), sid: Int32(fields.number(6)),
            uid: uids.first ?? 0, euid: uids.count > 1 ? uids[1] : 0,
            gid: gids.first ?? 0, egid: gids.count > 1 ? gids[1] : 0,
            state: state,
            stopSignal: nil,
            tracerPid: Int32(statusFields["TracerPid"] ?? "0") ?? 0,
            exitStatus: outcome.status, exitSignal: outcome.signal,
            comm: Escape.bytes(fields.comm),
            commandLine: formatArgv(cmdline[...].prefix(Int(BPFCP_ARGS_MAX))),
            argvLength: cmdline.count,
            argvTruncated: cmdline.count > Int(BPFCP_ARGS_MAX),
            threads: Int(fields.number(20)),
            rssBytes: fields.number(24) * pageSize,
            virtualBytes: fields.number(23),
            startTimeNs: fields.number(22) * nsPerTick,
            cpuTimeNs: (fields.number(14) + fields.number(15)) * nsPerTick,
            isKernelThread: flags & 0x0020_0000 != 0
        )
    }
}

/// /proc/PID/stat split safely: the comm field may hold spaces and parentheses,
/// so it ends at the last ')' of the line.
struct StatLine {
    let comm: [UInt8]
    let state: String
    /// Fields after the comm; `number(n)` takes the 1-based field number of proc(5).
    private let rest: [Substring]

    /// `path` is the file the line came from, named in the error.
    init(_ bytes: [UInt8], path: String = "/proc/PID/stat") throws {
        guard let open = bytes.firstIndex(of: 0x28), let close = bytes.lastIndex(of: 0x29), open < close else {
            throw BpfcpError("proc_parse", "malformed line in \(path): it has no command name in parentheses; check that /proc is procfs")
        }
        comm = Array(bytes[(open + 1)..<close])
        let tail = String(decoding: bytes[(close + 1)...], as: UTF8.self)
        rest = tail.split(separator: " ", omittingEmptySubsequences: true)
        state = rest.first.map(String.init) ?? "S"
    }

    func number(_ field: Int) -> UInt64 {
        let index = field - 3
        guard index >= 0, index < rest.count else { return 0 }
        let text = rest[index].trimmingCharacters(in: .whitespacesAndNewlines)
        return UInt64(text) ?? UInt64(bitPattern: Int64(text) ?? 0)
    }
}
