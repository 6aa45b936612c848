/// Names of capabilities and securebits as linux/capability.h and
/// linux/securebits.h define them (Linux 6.18).
public enum CredentialNames {
    public static let capabilities = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
        "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]

    /// Names of the capabilities set in `mask`; bits beyond the known ones are named "cap_N".
    public static func capabilityNames(_ mask: UInt64) -> [String] {
        (0..<64).filter { mask & (UInt64(1) << UInt64($0)) != 0 }.map { $0 < capabilities.count ? capabilities[$0] : "cap_\($0)" }
    }

    private static let securebits = [
        "SECBIT_NOROOT", "SECBIT_NOROOT_LOCKED", "SECBIT_NO_SETUID_FIXUP", "SECBIT_NO_SETUID_FIXUP_LOCKED",
        "SECBIT_KEEP_CAPS", "SECBIT_KEEP_CAPS_LOCKED", "SECBIT_NO_CAP_AMBIENT_RAISE",
        "SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED", "SECBIT_EXEC_RESTRICT_FILE", "SECBIT_EXEC_RESTRICT_FILE_LOCKED",
        "SECBIT_EXEC_DENY_INTERACTIVE", "SECBIT_EXEC_DENY_INTERACTIVE_LOCKED",
    ]

    public static func securebitNames(_ bits: UInt32) -> [String] {
        (0..<32).filter { bits & (UInt32(1) << UInt32($0)) != 0 }.map { $0 < securebits.count ? securebits[$0] : "secbit_\($0)" }
    }

    public static func seccompMode(_ mode: Int32) -> String {
        switch mode {
        case 0: "disabled"
        case 1: "strict"
        case 2: "filter"
        default: "mode \(mode)"
        }
    }
}
