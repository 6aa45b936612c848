import CBpfcpShim
import Foundation

/// Reads the process list from `iter.s/task` in one pass.
public enum ProcessListBPF {
    public static let object = "task"
    public static let program = "dump_procs"

    /// Lists every process, or only `pid` when given.
    public static func collect(pid: Int32? = nil) throws -> [ProcessEntry] {
        let bytes = try BPFRuntime.shared.object(object).iterate(program, pid: pid)
        return try parse(bytes)
    }

    static func parse(_ bytes: [UInt8]) throws -> [ProcessEntry] {
        try parse(bytes) { _ in nil }
    }

    /// Parses iterator output. `heldCommandLine` supplies the command line of
    /// a BPFCP_REC_PROC_ARGS_HELD record, which carries no argv; nil leaves it
    /// empty. `copied` is called with each record that carried its argv.
    static func parse(_ bytes: [UInt8], heldCommandLine: (bpfcp_proc) -> HeldCommandLine?,
                      copied: (bpfcp_proc, HeldCommandLine) -> Void = { _, _ in }) throws -> [ProcessEntry] {
        let reader = RecordReader(bytes)
        var entries: [ProcessEntry] = []
        var threadCPU: [Int32: UInt64] = [:]

        for record in try reader.records() {
            switch Int(record.kind) {
            case Int(BPFCP_REC_PROC.rawValue):
                let rec = try reader.load(record, as: bpfcp_proc.self)
                let argv = reader.trailing(record, after: bpfcp_proc.self, count: Int(rec.args_len))
                let commandLine = HeldCommandLine(text: formatArgv(argv), copiedBytes: Int(rec.args_len))
                copied(rec, commandLine)
                entries.append(entry(rec, commandLine: commandLine))
            case Int(BPFCP_REC_PROC_ARGS_HELD.rawValue):
                let rec = try reader.load(record, as: bpfcp_proc.self)
                entries.append(entry(rec, commandLine: heldCommandLine(rec) ?? HeldCommandLine(text: "", copiedBytes: 0)))
            case Int(BPFCP_REC_THREAD_CPU.rawValue):
                let rec = try reader.load(record, as: bpfcp_thread_cpu.self)
                threadCPU[rec.tgid, default: 0] += rec.utime_ns + rec.stime_ns
            default:
                continue
            }
        }

        for i in entries.indices {
            entries[i].cpuTimeNs += threadCPU[entries[i].pid] ?? 0
        }
        return entries
    }

    private static let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))

    private static func entry(_ rec: bpfcp_proc, commandLine: HeldCommandLine) -> ProcessEntry {
        let state = TaskState(state: rec.state, exitState: rec.exit_state)
        let argvLength = rec.arg_end > rec.arg_start ? Int(rec.arg_end - rec.arg_start) : 0
        let outcome = ExitOutcome(state: state, waitStatus: rec.exit_code)

        return ProcessEntry(
            pid: rec.pid, ppid: rec.ppid, pgid: rec.pgid, sid: rec.sid,
            uid: rec.uid, euid: rec.euid, gid: rec.gid, egid: rec.egid,
            state: state,
            stopSignal: StopSignal.name(state: state, jobctl: rec.jobctl, signo: rec.stop_signo, code: rec.stop_code),
            tracerPid: rec.tracer_pid,
            exitStatus: outcome.status, exitSignal: outcome.signal,
            comm: Escape.bytes(cStringBytes(rec.comm)),
            commandLine: commandLine.text,
            argvLength: argvLength,
            argvTruncated: commandLine.copiedBytes < argvLength,
            threads: Int(rec.nr_threads),
            rssBytes: (rec.rss_file_pages + rec.rss_anon_pages + rec.rss_shmem_pages) * pageSize,
            virtualBytes: rec.total_vm_pages * pageSize,
            startTimeNs: rec.start_boottime_ns,
            cpuTimeNs: rec.utime_ns + rec.stime_ns + rec.dead_utime_ns + rec.dead_stime_ns,
            isKernelThread: rec.is_kthread != 0
        )
    }
}

/// A command line as the process list shows it, and how many bytes of argv
/// were copied to build it (fewer than the argv length means truncated).
struct HeldCommandLine {
    let text: String
    let copiedBytes: Int
}
