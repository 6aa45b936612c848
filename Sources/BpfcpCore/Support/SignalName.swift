/// Names of Linux signals on x86_64.
public enum SignalName {
    private static let names: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
        7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
        13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 16: "SIGSTKFLT", 17: "SIGCHLD",
        18: "SIGCONT", 19: "SIGSTOP", 20: "SIGTSTP", 21: "SIGTTIN", 22: "SIGTTOU",
        23: "SIGURG", 24: "SIGXCPU", 25: "SIGXFSZ", 26: "SIGVTALRM", 27: "SIGPROF",
        28: "SIGWINCH", 29: "SIGIO", 30: "SIGPWR", 31: "SIGSYS",
    ]

    /// Kernel's SIGRTMIN. glibc reserves the first two and reports SIGRTMIN as 34.
    public static let kernelRTMin: Int32 = 32
    public static let rtMin: Int32 = 34
    public static let max: Int32 = 64

    public static func name(_ signal: Int32) -> String {
        if let name = names[signal] { return name }
        if signal >= rtMin && signal <= max { return signal == rtMin ? "SIGRTMIN" : "SIGRTMIN+\(signal - rtMin)" }
        if signal >= kernelRTMin && signal < rtMin { return "SIG\(signal)" }
        return "signal \(signal)"
    }

    /// Number of a name produced by `name(_:)`, or nil.
    public static func number(_ name: String) -> Int32? {
        if let hit = names.first(where: { $0.value == name }) { return hit.key }
        if name == "SIGRTMIN" { return rtMin }
        if name.hasPrefix("SIGRTMIN+"), let n = Int32(name.dropFirst(9)) { return rtMin + n }
        return nil
    }

    /// Names of the signals in a mask where bit n-1 stands for signal n.
    public static func names(mask: UInt64) -> [String] {
        (1...64).filter { mask & (UInt64(1) << UInt64($0 - 1)) != 0 }.map { name(Int32($0)) }
    }

    /// `names(mask:)` joined with "|", or "none".
    public static func describe(mask: UInt64) -> String {
        let list = names(mask: mask)
        return list.isEmpty ? "none" : list.joined(separator: "|")
    }
}
