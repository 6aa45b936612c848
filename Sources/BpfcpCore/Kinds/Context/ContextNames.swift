/// Names of scheduling policies, personality flags, auxv types, rlimits and
/// clocks as the Linux UAPI headers define them on x86_64 (Linux 6.18).
public enum ContextNames {
    public static func policy(_ policy: UInt32) -> String {
        let names: [UInt32: String] = [0: "SCHED_OTHER", 1: "SCHED_FIFO", 2: "SCHED_RR", 3: "SCHED_BATCH", 5: "SCHED_IDLE",
                                       6: "SCHED_DEADLINE", 7: "SCHED_EXT"]
        return names[policy] ?? "policy \(policy)"
    }

    static let personalityFlags: [(UInt32, String)] = [
        (0x0020000, "UNAME26"), (0x0040000, "ADDR_NO_RANDOMIZE"), (0x0080000, "FDPIC_FUNCPTRS"),
        (0x0100000, "MMAP_PAGE_ZERO"), (0x0200000, "ADDR_COMPAT_LAYOUT"), (0x0400000, "READ_IMPLIES_EXEC"),
        (0x0800000, "ADDR_LIMIT_32BIT"), (0x1000000, "SHORT_INODE"), (0x2000000, "WHOLE_SECONDS"),
        (0x4000000, "STICKY_TIMEOUTS"), (0x8000000, "ADDR_LIMIT_3GB"),
    ]

    /// Formats a personality as its execution domain followed by its flags, e.g. "PER_LINUX|ADDR_NO_RANDOMIZE".
    public static func personality(_ value: UInt32) -> String {
        let domains: [UInt32: String] = [0x00: "PER_LINUX", 0x08: "PER_LINUX32", 0x10: "PER_BSD", 0x0f: "PER_HPUX"]
        var names = [domains[value & 0xff] ?? "domain \(Format.hex(UInt64(value & 0xff)))"]
        names += personalityFlags.filter { value & $0.0 != 0 }.map(\.1)
        let known = personalityFlags.reduce(UInt32(0xff)) { $0 | $1.0 }
        if value & ~known != 0 { names.append(Format.hex(UInt64(value & ~known))) }
        return names.joined(separator: "|")
    }

    public static let auxvTypes: [UInt64: String] = [
        0: "AT_NULL", 1: "AT_IGNORE", 2: "AT_EXECFD", 3: "AT_PHDR", 4: "AT_PHENT", 5: "AT_PHNUM", 6: "AT_PAGESZ",
        7: "AT_BASE", 8: "AT_FLAGS", 9: "AT_ENTRY", 10: "AT_NOTELF", 11: "AT_UID", 12: "AT_EUID", 13: "AT_GID",
        14: "AT_EGID", 15: "AT_PLATFORM", 16: "AT_HWCAP", 17: "AT_CLKTCK", 23: "AT_SECURE", 24: "AT_BASE_PLATFORM",
        25: "AT_RANDOM", 26: "AT_HWCAP2", 27: "AT_RSEQ_FEATURE_SIZE", 28: "AT_RSEQ_ALIGN", 29: "AT_HWCAP3",
        30: "AT_HWCAP4", 31: "AT_EXECFN", 32: "AT_SYSINFO", 33: "AT_SYSINFO_EHDR", 51: "AT_MINSIGSTKSZ",
    ]

    /// Auxv types whose value is a number rather than an address or bit mask.
    static let decimalAuxv: Set<UInt64> = [2, 4, 5, 6, 8, 11, 12, 13, 14, 17, 23, 27, 28, 51]

    /// Formats an auxv value: decimal for counts and ids, hex for addresses and masks.
    public static func auxvValue(type: UInt64, value: UInt64) -> String {
        decimalAuxv.contains(type) ? "\(value)" : Format.hex(value)
    }

    /// RLIMIT_* names with their units, in resource-number order.
    public static let rlimits: [(name: String, unit: String)] = [
        ("RLIMIT_CPU", "seconds"), ("RLIMIT_FSIZE", "bytes"), ("RLIMIT_DATA", "bytes"), ("RLIMIT_STACK", "bytes"),
        ("RLIMIT_CORE", "bytes"), ("RLIMIT_RSS", "bytes"), ("RLIMIT_NPROC", "processes"), ("RLIMIT_NOFILE", "files"),
        ("RLIMIT_MEMLOCK", "bytes"), ("RLIMIT_AS", "bytes"), ("RLIMIT_LOCKS", "locks"), ("RLIMIT_SIGPENDING", "signals"),
        ("RLIMIT_MSGQUEUE", "bytes"), ("RLIMIT_NICE", "nice ceiling (20 - nice)"), ("RLIMIT_RTPRIO", "priority"),
        ("RLIMIT_RTTIME", "microseconds"),
    ]

    public static func clock(_ id: Int32) -> String {
        let names: [Int32: String] = [
            0: "CLOCK_REALTIME", 1: "CLOCK_MONOTONIC", 2: "CLOCK_PROCESS_CPUTIME_ID", 3: "CLOCK_THREAD_CPUTIME_ID",
            4: "CLOCK_MONOTONIC_RAW", 5: "CLOCK_REALTIME_COARSE", 6: "CLOCK_MONOTONIC_COARSE", 7: "CLOCK_BOOTTIME",
            8: "CLOCK_REALTIME_ALARM", 9: "CLOCK_BOOTTIME_ALARM", 11: "CLOCK_TAI",
        ]
        if let name = names[id] { return name }
        guard id < 0 else { return "clock \(id)" }
        // A negative id is a CPU clock of another pid: ~pid << 3 | type, bit 2 set for a thread.
        // pid 0 is the caller itself: glibc passes CLOCK_PROCESS_CPUTIME_ID as (~0 << 3) | 2.
        let pid = ~(id >> 3)
        let thread = id & 4 != 0
        let kinds = ["PROF", "VIRT", "SCHED"]
        if pid == 0 && id & 3 == 2 { return thread ? "CLOCK_THREAD_CPUTIME_ID" : "CLOCK_PROCESS_CPUTIME_ID" }
        let kind = Int(id & 3) < kinds.count ? kinds[Int(id & 3)] : "type \(id & 3)"
        let owner = pid == 0 ? "own" : "\(pid)"
        return (thread ? "thread" : "process") + " \(owner) CPU clock (\(kind))"
    }

    public static func sigevNotify(_ notify: Int32) -> String {
        let names: [Int32: String] = [0: "SIGEV_SIGNAL", 1: "SIGEV_NONE", 2: "SIGEV_THREAD", 4: "SIGEV_THREAD_ID"]
        return names[notify] ?? "notify \(notify)"
    }

    /// Formats a CPU mask as a list in the form of /proc/PID/status Cpus_allowed_list ("0-3,6").
    public static func cpuList(_ words: [UInt64]) -> String {
        var cpus: [Int] = []
        for (w, word) in words.enumerated() {
            for bit in 0..<64 where word & (UInt64(1) << UInt64(bit)) != 0 { cpus.append(w * 64 + bit) }
        }
        var ranges: [String] = []
        var i = 0
        while i < cpus.count {
            var j = i
            while j + 1 < cpus.count && cpus[j + 1] == cpus[j] + 1 { j += 1 }
            ranges.append(i == j ? "\(cpus[i])" : "\(cpus[i])-\(cpus[j])")
            i = j + 1
        }
        return ranges.joined(separator: ",")
    }
}
