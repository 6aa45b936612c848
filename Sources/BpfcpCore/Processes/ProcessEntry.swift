import Foundation

/// One process as the process list shows it. Strings from the target
/// (comm, command line) are stored escaped with `Escape`.
public struct ProcessEntry: Codable, Sendable, Equatable {
    public var pid: Int32
    public var ppid: Int32
    public var pgid: Int32
    public var sid: Int32
    public var uid: UInt32
    public var euid: UInt32
    public var gid: UInt32
    public var egid: UInt32
    public var state: TaskState
    /// Signal that stopped the process, when its state is stopped.
    public var stopSignal: String?
    public var tracerPid: Int32
    /// Exit status of a zombie that called exit(), as WEXITSTATUS would give it.
    public var exitStatus: Int32?
    /// Signal that killed a zombie, as WTERMSIG would give it.
    public var exitSignal: String?
    public var comm: String
    /// argv joined by spaces, escaped; at most the first `BPFCP_ARGS_MAX` bytes.
    public var commandLine: String
    /// True length of argv in bytes, NULs included.
    public var argvLength: Int
    public var argvTruncated: Bool
    public var threads: Int
    public var rssBytes: UInt64
    public var virtualBytes: UInt64
    /// Start time in nanoseconds since boot.
    public var startTimeNs: UInt64
    /// User plus system CPU time of all threads, live and exited, in nanoseconds.
    public var cpuTimeNs: UInt64
    public var isKernelThread: Bool

    public var isZombie: Bool { state == .zombie || state == .dead }
}

/// Scheduler state, with the letters that ps and /proc use.
public enum TaskState: String, Codable, Sendable, CaseIterable {
    case running = "R"
    case sleeping = "S"
    case diskSleep = "D"
    case stopped = "T"
    case tracingStop = "t"
    case dead = "X"
    case zombie = "Z"
    case parked = "P"
    case idle = "I"

    public var name: String {
        switch self {
        case .running: "running"
        case .sleeping: "sleeping"
        case .diskSleep: "disk sleep"
        case .stopped: "stopped"
        case .tracingStop: "tracing stop"
        case .dead: "dead"
        case .zombie: "zombie"
        case .parked: "parked"
        case .idle: "idle"
        }
    }

    /// Maps `task->__state` and `task->exit_state` to a letter the way the
    /// kernel's task_state_index() does.
    public init(state: UInt32, exitState: UInt32) {
        let taskIdle: UInt32 = 0x0402
        let report: UInt32 = 0x7F
        if state == taskIdle {
            self = .idle
            return
        }
        let bits = (state | exitState) & report
        let order: [TaskState] = [.running, .sleeping, .diskSleep, .stopped, .tracingStop, .dead, .zombie, .parked]
        let index = bits == 0 ? 0 : (32 - bits.leadingZeroBitCount)
        self = order[min(index, order.count - 1)]
    }
}

/// How a zombie ended, decoded from the wait status in `task->exit_code`
/// (also field 52 of /proc/PID/stat): exit status or terminating signal.
struct ExitOutcome {
    let status: Int32?
    let signal: String?

    init(state: TaskState, waitStatus: Int32) {
        guard state == .zombie || state == .dead else {
            status = nil
            signal = nil
            return
        }
        let termSignal = waitStatus & 0x7F
        status = termSignal == 0 ? (waitStatus >> 8) & 0xFF : nil
        signal = termSignal == 0 ? nil : SignalName.name(termSignal)
    }
}

/// The signal that stopped a task, as the kernel records it.
enum StopSignal {
    /// PTRACE_EVENT_STOP from <linux/ptrace.h>: a group stop or PTRACE_INTERRUPT seen by a tracer.
    private static let ptraceEventStop: Int32 = 128

    /// A group stop keeps its signal in the low 16 bits of `task->jobctl`
    /// (JOBCTL_STOP_SIGMASK). A ptrace stop keeps it in `last_siginfo`:
    /// si_signo for a signal-delivery stop, or the low byte of si_code for
    /// PTRACE_EVENT_STOP, whose si_signo is always SIGTRAP.
    static func name(state: TaskState, jobctl: UInt32, signo: Int32, code: Int32) -> String? {
        var signal: Int32 = 0
        switch state {
        case .stopped:
            signal = Int32(jobctl & 0xFFFF)
        case .tracingStop:
            if signo == SIGTRAP && (code >> 8) == ptraceEventStop {
                signal = code & 0xFF
            } else {
                signal = signo > 0 ? signo : Int32(jobctl & 0xFFFF)
            }
        default:
            return nil
        }
        return signal > 0 ? SignalName.name(signal) : nil
    }
}

/// Joins NUL-separated argv bytes with spaces and escapes the result.
func formatArgv(_ raw: ArraySlice<UInt8>) -> String {
    var bytes = Array(raw)
    while bytes.last == 0 { bytes.removeLast() }
    return Escape.bytes(bytes.map { $0 == 0 ? 0x20 : $0 })
}
