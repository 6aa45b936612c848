import Foundation

/// One failure, told in one line: what failed, on which pid, fd or path, and what to do.
public struct BpfcpError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Short machine-readable class, used as `error.code` in JSON output.
    public let code: String
    public let message: String

    public init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func noSuchProcess(_ pid: Int32) -> BpfcpError {
        BpfcpError("no_such_process", "process \(pid) not found: check the pid with `bpfcp ps`")
    }

    /// Reports a pid that /proc shows but the kernel's task iterator skips,
    /// as some sandboxes do for their init process.
    public static func notIterated(_ pid: Int32) -> BpfcpError {
        BpfcpError("not_iterated", "process \(pid) is in /proc, but the kernel's task iterator does not list it, so eBPF cannot read it: dump it from /proc with `bpfcp dump \(pid) --proc`")
    }

    public static func invalidPid(_ text: String) -> BpfcpError {
        BpfcpError("invalid_pid", "invalid pid '\(Escape.text(text))': give a positive process id, as listed by `bpfcp ps`")
    }

    public static func kernelThread(_ pid: Int32, _ comm: String) -> BpfcpError {
        BpfcpError("kernel_thread", "process \(pid) (\(comm)) is a kernel thread: it has no user state to dump; pick a user process")
    }

    public static func zombie(_ pid: Int32, _ comm: String, status: Int32) -> BpfcpError {
        BpfcpError("zombie", "process \(pid) (\(comm)) is a zombie that exited with status \(status): only its parent can reap it; dump the parent instead")
    }

    public static func zombie(_ pid: Int32, _ comm: String, signal: String) -> BpfcpError {
        BpfcpError("zombie", "process \(pid) (\(comm)) is a zombie killed by \(signal): only its parent can reap it; dump the parent instead")
    }

    public static func exited(_ pid: Int32) -> BpfcpError {
        BpfcpError("process_exited", "process \(pid) exited during the dump: nothing was kept; run the dump again if it restarts")
    }

    /// `commandLine` is the command as typed, shell-quoted, for the sudo
    /// hint (`action` when nil). `withoutRoot` is a command that does the
    /// same without root, such as one with `--proc`.
    public static func notRoot(_ action: String, commandLine: String? = nil, withoutRoot: String? = nil) -> BpfcpError {
        let alternative = withoutRoot.map { ", or run `\($0)`, which reads /proc and works without root" } ?? ""
        return BpfcpError("not_root", "\(action) needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE): run it as root, e.g. `sudo \(commandLine ?? action)`\(alternative)")
    }

    public static func bpfUnavailable(_ reason: String) -> BpfcpError {
        BpfcpError("bpf_unavailable", "BPF is unavailable: \(reason); run `bpfcp check` for the fix")
    }

    /// A failed system call. `what` names the call and its pid, fd or path,
    /// with untrusted names already escaped. Errors a user can fix get the fix.
    public static func system(_ what: String, _ err: Int32) -> BpfcpError {
        let fix = systemFix(err).map { "; " + $0 } ?? ""
        return BpfcpError("system", "\(what) failed: \(String(cString: strerror(err)))\(fix)")
    }

    /// Returns what to do about errno `err` when the user can act on it.
    static func systemFix(_ err: Int32) -> String? {
        switch err {
        case EACCES, EPERM: "check the permissions, or run bpfcp as root"
        case ENOSPC, EDQUOT: "free space on that file system, or choose another directory"
        case EROFS: "choose a directory on a writable file system"
        case EMFILE, ENFILE: "raise the open-file limit (ulimit -n) and try again"
        case ENOMEM: "free memory and try again"
        default: nil
        }
    }
}
