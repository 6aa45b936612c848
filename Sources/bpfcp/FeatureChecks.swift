import BpfcpCore
import CBpfcpShim
import Foundation

/// The result of one feature probe of `bpfcp check`.
struct FeatureCheck: Encodable, Sendable {
    enum Status: String, Encodable, Sendable {
        case ok
        case missing
        /// The probe needs privileges the caller lacks, so the feature is neither present nor missing.
        case notChecked = "not_checked"
    }

    /// "kernel", "iterator", "helper" or "capability".
    let group: String
    let name: String
    /// True only when the feature is present (`status` is `ok`).
    let ok: Bool
    let status: Status
    /// What was probed and what it returned.
    let detail: String
    /// How to get the feature when it is missing, or how to check it when not checked; nil when present.
    let fix: String?

    init(group: String, name: String, ok: Bool, detail: String, fix: String?) {
        self.init(group: group, name: name, status: ok ? .ok : .missing, detail: detail, fix: fix)
    }

    init(group: String, name: String, status: Status, detail: String, fix: String?) {
        self.group = group
        self.name = name
        self.ok = status == .ok
        self.status = status
        self.detail = detail
        self.fix = fix
    }

    /// Makes the result of a BPF probe skipped because loading BPF programs needs CAP_BPF, which the caller lacks.
    static func needsRoot(group: String, name: String, what: String) -> FeatureCheck {
        FeatureCheck(group: group, name: name, status: .notChecked,
                     detail: "not checked: loading \(what) needs root (CAP_BPF)", fix: FeatureChecks.checkAsRoot)
    }
}

/// Probes for everything bpfcp needs from the kernel and the caller.
enum FeatureChecks {
    static let rootFix = "run bpfcp as root (sudo bpfcp ...)"
    static let checkAsRoot = "run `sudo bpfcp check` to check it"

    /// Whether this process may load BPF programs, so the iterator and helper probes mean something.
    static var canLoadBPF: Bool {
        geteuid() == 0 || (effectiveCapabilities() ?? 0) & (UInt64(1) << 39) != 0
    }

    static func all() -> [FeatureCheck] {
        let programs = embeddedPrograms()
        var checks = [kernelBTF()]
        checks += iterators(programs)
        checks += helpers(programs)
        checks += capabilities()
        checks += [pagemapScan(), ptraceScope()]
        return checks
    }

    static func kernelBTF() -> FeatureCheck {
        let path = "/sys/kernel/btf/vmlinux"
        let present = FileManager.default.fileExists(atPath: path)
        return FeatureCheck(group: "kernel", name: "BTF", ok: present,
                            detail: present ? "\(path) present" : "\(path) not found",
                            fix: present ? nil : "boot a kernel built with CONFIG_DEBUG_INFO_BTF=y (Linux 5.5 or later)")
    }

    // MARK: BPF objects

    /// Programs of every embedded object, or the reason an object could not be read.
    static func embeddedPrograms() -> [Result<[BPFProgramInfo], BpfcpError>] {
        BPFRuntime.embeddedObjects.map { object in
            Result { try BPFProbe.programs(of: object) }.mapError { $0 as? BpfcpError ?? BpfcpError("bpf_object", "\($0)") }
        }
    }

    /// One check per iterator target the embedded programs use. A target is
    /// present when every program using it loads and attaches.
    static func iterators(_ objects: [Result<[BPFProgramInfo], BpfcpError>]) -> [FeatureCheck] {
        var byTarget: [String: [BPFProgramInfo]] = [:]
        var order: [String] = []
        var checks: [FeatureCheck] = []

        for object in objects {
            switch object {
            case .success(let programs):
                for program in programs {
                    guard let target = program.iteratorTarget else { continue }
                    if byTarget[target] == nil { order.append(target) }
                    byTarget[target, default: []].append(program)
                }
            case .failure(let error):
                checks.append(FeatureCheck(group: "iterator", name: "embedded objects", ok: false,
                                           detail: error.message, fix: "rebuild bpfcp with `make build`"))
            }
        }
        return checks + order.map { probeIterator($0, programs: byTarget[$0] ?? []) }
    }

    private static func probeIterator(_ target: String, programs: [BPFProgramInfo]) -> FeatureCheck {
        guard canLoadBPF else { return .needsRoot(group: "iterator", name: target, what: "the \(target) iterator") }
        var names: [String] = []
        for program in programs {
            let label = "\(program.object)/\(program.name)" + (program.isSleepable ? " (sleepable)" : "")
            names.append(label)
            do {
                let object = try BPFRuntime.shared.object(program.object)
                let pid: Int32? = target.hasPrefix("task") ? getpid() : nil
                try object.probeIterator(program.name, pid: pid)
            } catch {
                let message = plainReason(error)
                return FeatureCheck(group: "iterator", name: target, ok: false, detail: "\(label): \(message)",
                                    fix: iteratorFix(target, sleepable: program.isSleepable))
            }
        }
        return FeatureCheck(group: "iterator", name: target, ok: true,
                            detail: "attached " + names.joined(separator: ", "), fix: nil)
    }

    /// Kernel versions from the upstream commits that added each iterator.
    private static func iteratorFix(_ target: String, sleepable: Bool) -> String {
        guard geteuid() == 0 else { return rootFix }
        let versions = ["task": "6.1", "task_file": "6.1", "task_vma": "6.1", "tcp": "5.9", "udp": "5.9", "unix": "5.17"]
        let base = versions[target].map { "upgrade to Linux \($0) or later" } ?? "upgrade to a kernel with the \(target) BPF iterator"
        let perProcess = target.hasPrefix("task") ? " (iterators limited to one process need 6.1)" : ""
        return base + perProcess + (sleepable ? "; sleepable iterators need Linux 5.18 or later" : "")
    }

    /// The reason inside an error, without the "run `bpfcp check`" advice
    /// that `BpfcpError.bpfUnavailable` adds for other commands.
    private static func plainReason(_ error: Error) -> String {
        guard let error = error as? BpfcpError else { return "\(error)" }
        let wrapper = BpfcpError.bpfUnavailable("\u{0}").message.components(separatedBy: "\u{0}")
        guard error.code == "bpf_unavailable", wrapper.count == 2,
              error.message.hasPrefix(wrapper[0]), error.message.hasSuffix(wrapper[1]) else { return error.message }
        return String(error.message.dropFirst(wrapper[0].count).dropLast(wrapper[1].count))
    }

    // MARK: Helpers

    /// The helpers that set bpfcp's minimum kernel, with the Linux version that added each.
    static let requiredHelpers: [(name: String, since: String)] = [
        ("bpf_d_path", "5.10"),
        ("bpf_copy_from_user_task", "5.18"),
        ("bpf_task_pt_regs", "5.15"),
        ("bpf_sock_from_file", "5.11"),
    ]

    /// Checks each required helper through the objects that call it: an
    /// object that loads has passed the verifier, helper calls included.
    static func helpers(_ objects: [Result<[BPFProgramInfo], BpfcpError>]) -> [FeatureCheck] {
        let programs = objects.flatMap { (try? $0.get()) ?? [] }
        return requiredHelpers.map { helper in
            guard let id = BPFProbe.helperID(helper.name) else {
                return FeatureCheck(group: "helper", name: helper.name, ok: false,
                                    detail: "this build does not know the helper's id", fix: "rebuild bpfcp with `make build`")
            }
            return probeHelper(helper.name, id: id, since: helper.since, callers: programs.filter { $0.helperIDs.contains(id) })
        }
    }

    private static func probeHelper(_ name: String, id: Int32, since: String, callers: [BPFProgramInfo]) -> FeatureCheck {
        let fix = geteuid() == 0 ? "upgrade to Linux \(since) or later" : rootFix
        guard let caller = callers.first else {
            let supported = BPFProbe.tracingHelperSupported(id)
            return FeatureCheck(group: "helper", name: name, ok: true,
                                detail: "not called by the embedded programs" + (supported == true ? "; libbpf probe: supported" : ""),
                                fix: nil)
        }
        let label = "\(caller.object)/\(caller.name)"
        guard canLoadBPF else { return .needsRoot(group: "helper", name: name, what: label) }
        do {
            _ = try BPFRuntime.shared.object(caller.object)
            return FeatureCheck(group: "helper", name: name, ok: true, detail: "verified in \(label)", fix: nil)
        } catch {
            let message = plainReason(error)
            return FeatureCheck(group: "helper", name: name, ok: false, detail: "\(label): \(message)", fix: fix)
        }
    }

    // MARK: Capabilities and kernel settings

    /// Capability bits from linux/capability.h and what bpfcp uses each for.
    static let capabilityTable: [(name: String, bit: Int, use: String)] = [
        ("CAP_BPF", 39, "load BPF programs"),
        ("CAP_PERFMON", 38, "read kernel memory from tracing and iterator programs"),
        ("CAP_SYS_PTRACE", 19, "read other processes' memory and /proc files"),
        ("CAP_SYS_ADMIN", 21, "read /proc/PID/map_files and other admin-only process state"),
        ("CAP_CHECKPOINT_RESTORE", 40, "choose pids and set process state on restore"),
    ]

    static func capabilities() -> [FeatureCheck] {
        let effective = effectiveCapabilities()
        return capabilityTable.map { cap in
            let present = effective.map { $0 & (UInt64(1) << UInt64(cap.bit)) != 0 } ?? false
            let detail = effective == nil ? "CapEff not readable in /proc/self/status"
                : (present ? "in the effective set" : "not in the effective set") + ", needed to \(cap.use)"
            return FeatureCheck(group: "capability", name: cap.name, ok: present, detail: detail,
                                fix: present ? nil : rootFix)
        }
    }

    /// The CapEff mask of /proc/self/status.
    static func effectiveCapabilities() -> UInt64? {
        guard let status = try? ProcFS.readText("/proc/self/status"), let hex = ProcFS.keyValues(status)["CapEff"] else {
            return nil
        }
        return UInt64(hex, radix: 16)
    }

    /// Issues PAGEMAP_SCAN (Linux 6.7) on one page of this process. Kernels
    /// without it return ENOTTY for the unknown ioctl.
    static func pagemapScan() -> FeatureCheck {
        let fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            return FeatureCheck(group: "kernel", name: "PAGEMAP_SCAN", ok: false,
                                detail: "opening /proc/self/pagemap failed: \(String(cString: strerror(errno)))",
                                fix: "mount /proc and boot a kernel with CONFIG_PROC_PAGE_MONITOR=y")
        }
        defer { close(fd) }

        let rc = pagemapScanIoctl(fd)
        let ok = rc >= 0
        let reason = ok ? "ioctl(PAGEMAP_SCAN) on /proc/self/pagemap succeeded"
            : "ioctl(PAGEMAP_SCAN) on /proc/self/pagemap failed: \(String(cString: strerror(-rc)))"
        return FeatureCheck(group: "kernel", name: "PAGEMAP_SCAN", ok: ok, detail: reason,
                            fix: ok ? nil : "upgrade to Linux 6.7 or later")
    }

    /// Returns the ioctl result, or a negative errno. The argument is struct
    /// pm_scan_arg of linux/fs.h (twelve u64 fields), which Debian 12's headers lack.
    private static func pagemapScanIoctl(_ fd: Int32) -> Int32 {
        let pagemapScan: UInt = 0xC060_6610 // _IOWR('f', 16, struct pm_scan_arg)
        let pageIsPresent: UInt64 = 1 << 3
        let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let page = UnsafeMutableRawPointer.allocate(byteCount: Int(pageSize), alignment: Int(pageSize))
        defer { page.deallocate() }
        page.storeBytes(of: 1, as: UInt8.self)

        var regions = [UInt64](repeating: 0, count: 3)
        return regions.withUnsafeMutableBytes { vec in
            let start = UInt64(UInt(bitPattern: page))
            var arg: [UInt64] = [96, 0, start, start + pageSize, 0, UInt64(UInt(bitPattern: vec.baseAddress)), 1, 0,
                                 0, pageIsPresent, 0, pageIsPresent]
            let rc = arg.withUnsafeMutableBytes { bpfcp_ioctl(fd, pagemapScan, $0.baseAddress) }
            return rc < 0 ? -errno : rc
        }
    }

    /// Reads Yama's ptrace_scope: 0 lets root attach, 1 and 2 need
    /// CAP_SYS_PTRACE, 3 forbids attaching until reboot.
    static func ptraceScope() -> FeatureCheck {
        let path = "/proc/sys/kernel/yama/ptrace_scope"
        guard let text = try? ProcFS.readText(path), let scope = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            return FeatureCheck(group: "kernel", name: "ptrace scope", ok: true,
                                detail: "\(path) not present: Yama is off, classic ptrace rules apply", fix: nil)
        }
        let hasPtrace = (effectiveCapabilities() ?? 0) & (1 << 19) != 0
        switch scope {
        case 0:
            return FeatureCheck(group: "kernel", name: "ptrace scope", ok: true,
                                detail: "\(path) is 0: classic ptrace rules apply", fix: nil)
        case 1 where hasPtrace, 2 where hasPtrace:
            return FeatureCheck(group: "kernel", name: "ptrace scope", ok: true,
                                detail: "\(path) is \(scope), allowed with CAP_SYS_PTRACE", fix: nil)
        case 3:
            return FeatureCheck(group: "kernel", name: "ptrace scope", ok: false,
                                detail: "\(path) is 3: no process may attach", fix: "reboot, because scope 3 cannot be lowered at run time")
        default:
            return FeatureCheck(group: "kernel", name: "ptrace scope", ok: false,
                                detail: "\(path) is \(scope): attaching needs CAP_SYS_PTRACE", fix: rootFix)
        }
    }
}
