import Foundation

/// Applies the root directory, resource limits and credentials of a
/// `SettingsPlan`. It runs after the fds are open, because chroot() would
/// change how their paths resolve, and last of all the injected calls,
/// because a process that is no longer root may not run the others.
struct SettingsRestore {
    let settings: SettingsPlan
    let injector: Injector

    static let prCapbsetDrop = 24, prSetSecurebits = 28, prSetNoNewPrivs = 38, prCapAmbient = 47, prCapAmbientRaise = 2
    static let secbitKeepCaps: UInt32 = 1 << 4, secbitNoSetuidFixup: UInt32 = 1 << 2
    /// _LINUX_CAPABILITY_VERSION_3, whose data is two 32-bit halves of each set.
    static let capabilityVersion3: UInt32 = 0x2008_0522

    func run() throws {
        for limit in settings.limits {
            try setLimit(limit)
        }
        if let root = settings.root {
            try injector.queue(SyscallNumber.chroot, [.payload(0)], payloads: [Array(root.utf8) + [0]],
                               text: "chroot(\"\(Escape.text(root))\")")
        }
        if let credentials = settings.credentials, let restorer = settings.restorer {
            try setCredentials(credentials, restorer: restorer)
        }
        try injector.flush()
    }

    private func setLimit(_ limit: LimitPlan) throws {
        let value = ProcessStateRestore.bytes(limit.soft) + ProcessStateRestore.bytes(limit.hard)
        try injector.queue(SyscallNumber.prlimit64, [.int(0), .int(Int(limit.resource)), .payload(0), .int(0)], payloads: [value],
                           text: "prlimit64(0, \(limit.name), {rlim_cur=\(LimitsKind.value(limit.soft)), rlim_max=\(LimitsKind.value(limit.hard))}, NULL)")
    }

    /// Sets ids, groups, capabilities and securebits in an order that keeps
    /// the privileges each step needs until it has run: the ids change while
    /// SECBIT_NO_SETUID_FIXUP keeps every capability, ambient capabilities
    /// are raised before the bounding set shrinks, and the final capset()
    /// removes what restore needed but the image does not have.
    private func setCredentials(_ c: CredentialPlan, restorer: RestorerLimits) throws {
        let groups = c.groups.flatMap { ProcessStateRestore.bytes($0) }
        try injector.queue(SyscallNumber.setgroups, [.int(c.groups.count), .payload(0)], payloads: [groups.isEmpty ? [0] : groups],
                           text: "setgroups(\(c.groups.count), [\(c.groups.map(String.init).joined(separator: ", "))])")
        try setSecurebits(Self.secbitKeepCaps | Self.secbitNoSetuidFixup)
        try injector.queue(SyscallNumber.setresgid, [.value(UInt64(c.gids[0])), .value(UInt64(c.gids[1])), .value(UInt64(c.gids[2]))],
                           text: "setresgid(\(c.gids[0]), \(c.gids[1]), \(c.gids[2]))")
        try injector.queue(SyscallNumber.setresuid, [.value(UInt64(c.uids[0])), .value(UInt64(c.uids[1])), .value(UInt64(c.uids[2]))],
                           text: "setresuid(\(c.uids[0]), \(c.uids[1]), \(c.uids[2]))")
        // setfsgid() and setfsuid() return the previous id and report no error; verify compares the result.
        try injector.queue(SyscallNumber.setfsgid, [.value(UInt64(c.gids[3]))], text: "setfsgid(\(c.gids[3]))")
        try injector.queue(SyscallNumber.setfsuid, [.value(UInt64(c.uids[3]))], text: "setfsuid(\(c.uids[3]))")

        try capset(effective: restorer.effective, permitted: restorer.permitted, inheritable: c.inheritable)
        for bit in 0..<64 where c.ambient & (UInt64(1) << UInt64(bit)) != 0 {
            try injector.queue(SyscallNumber.prctl, [.int(Self.prCapAmbient), .int(Self.prCapAmbientRaise), .int(bit), .int(0), .int(0)],
                               text: "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, \(CredentialNames.capabilityNames(UInt64(1) << UInt64(bit))[0]))")
        }
        for bit in 0..<64 where restorer.bounding & ~c.bounding & (UInt64(1) << UInt64(bit)) != 0 {
            try injector.queue(SyscallNumber.prctl, [.int(Self.prCapbsetDrop), .int(bit), .int(0), .int(0), .int(0)],
                               text: "prctl(PR_CAPBSET_DROP, \(CredentialNames.capabilityNames(UInt64(1) << UInt64(bit))[0]))")
        }
        try setSecurebits(c.securebits)
        try capset(effective: c.effective, permitted: c.permitted, inheritable: c.inheritable)
        if c.noNewPrivs {
            try injector.queue(SyscallNumber.prctl, [.int(Self.prSetNoNewPrivs), .int(1), .int(0), .int(0), .int(0)],
                               text: "prctl(PR_SET_NO_NEW_PRIVS, 1)")
        }
    }

    private func setSecurebits(_ bits: UInt32) throws {
        let names = CredentialNames.securebitNames(bits).joined(separator: "|")
        try injector.queue(SyscallNumber.prctl, [.int(Self.prSetSecurebits), .value(UInt64(bits)), .int(0), .int(0), .int(0)],
                           text: "prctl(PR_SET_SECUREBITS, \(names.isEmpty ? "0" : names))")
    }

    /// capset() with a version 3 header for the calling thread and the two halves of each set.
    private func capset(effective: UInt64, permitted: UInt64, inheritable: UInt64) throws {
        let header = ProcessStateRestore.bytes(Self.capabilityVersion3) + ProcessStateRestore.bytes(Int32(0))
        var data: [UInt8] = []
        for shift: UInt64 in [0, 32] {
            for set in [effective, permitted, inheritable] {
                data += ProcessStateRestore.bytes(UInt32(truncatingIfNeeded: set >> shift))
            }
        }
        let describe = { (mask: UInt64) in CredentialNames.capabilityNames(mask).joined(separator: "|").ifEmpty("0") }
        try injector.queue(SyscallNumber.capset, [.payload(0), .payload(1)], payloads: [header, data],
                           text: "capset({_LINUX_CAPABILITY_VERSION_3, 0}, {effective=\(describe(effective)), permitted=\(describe(permitted)), inheritable=\(describe(inheritable))})")
    }
}

extension SyscallNumber {
    static let setgroups = 116, setfsuid = 122, setfsgid = 123, capset = 126, chroot = 161
}
