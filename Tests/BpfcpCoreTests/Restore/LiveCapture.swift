@testable import BpfcpCore
import CBpfcpShim
import Foundation

/// A restore plan read straight from a live process through ptrace and
/// /proc, independent of the checkpoint code, so the restore engine can be
/// tested on its own. It handles what the restore fixtures use: memory,
/// regular files, /dev/null, cwd and umask. Signal actions are not in /proc,
/// so it leaves them at SIG_DFL.
enum LiveCapture {
    static func capture(pid: Int32, pagesFile: String) throws -> RestorePlan {
        try ptrace(PtraceRequest.seize, pid, 0, "PTRACE_SEIZE")
        defer { _ = bpfcp_ptrace(PtraceRequest.detach, pid, nil, nil) }
        try ptrace(PtraceRequest.interrupt, pid, 0, "PTRACE_INTERRUPT")
        try waitTracingStop(pid)

        let thread = try threadState(pid)
        let areas = try memory(pid, pagesFile: pagesFile)
        let files = try openFiles(pid)
        let status_ = ProcFS.keyValues(try ProcFS.readText("/proc/\(pid)/status"))
        return RestorePlan(
            pid: pid, comm: Array((try ProcFS.readText("/proc/\(pid)/comm")).dropLast().utf8),
            areas: areas, mm: try mmFields(pid, areas: areas),
            exePath: ProcFS.readLink("/proc/\(pid)/exe").map { String(decoding: $0, as: UTF8.self) },
            threads: [thread], actions: [], files: files,
            cwd: ProcFS.readLink("/proc/\(pid)/cwd").map { String(decoding: $0, as: UTF8.self) },
            umask: UInt32(status_["Umask"] ?? "", radix: 8)
        )
    }

    /// Polls the state letter, because Foundation's Process may reap the
    /// stop notification of a fixture it started before waitpid() here sees it.
    private static func waitTracingStop(_ pid: Int32) throws {
        for _ in 0..<2000 {
            if let stat = try? StatLine(ProcFS.readBytes("/proc/\(pid)/stat")), stat.state == "t" { return }
            usleep(1000)
        }
        throw FixtureError("process \(pid) did not reach a ptrace stop within 2 s")
    }

    private static func threadState(_ pid: Int32) throws -> ThreadPlan {
        var words = [UInt64](repeating: 0, count: Registers.count)
        try words.withUnsafeMutableBytes { try ptrace(PtraceRequest.getRegs, pid, 0, "PTRACE_GETREGS", data: $0.baseAddress) }
        var xstate = [UInt8](repeating: 0, count: 16384)
        let length = try xstate.withUnsafeMutableBytes { buffer -> Int in
            var vector = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
            try withUnsafeMutablePointer(to: &vector) {
                try ptrace(PtraceRequest.getRegSet, pid, Int(PtraceRequest.noteXState), "PTRACE_GETREGSET", data: $0)
            }
            return vector.iov_len
        }
        var mask: UInt64 = 0
        try withUnsafeMutablePointer(to: &mask) { try ptrace(PtraceRequest.getSigMask, pid, 8, "PTRACE_GETSIGMASK", data: $0) }
        return ThreadPlan(tid: pid, registers: Registers(words: words), xstate: Array(xstate.prefix(length)), signalMask: mask)
    }

    /// Saves every private area that is not a plain read-only file mapping.
    private static func memory(_ pid: Int32, pagesFile: String) throws -> [AreaPlan] {
        let out = open(pagesFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let mem = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC)
        let pagemap = open("/proc/\(pid)/pagemap", O_RDONLY | O_CLOEXEC)
        defer { close(out); close(mem); close(pagemap) }
        var offset: UInt64 = 0
        var plans: [AreaPlan] = []
        for area in try MemoryProc.collect(pid: pid) where area.path != "[vsyscall]" {
            let prot = (area.permissions.contains("r") ? 1 : 0) | (area.permissions.contains("w") ? 2 : 0) | (area.permissions.contains("x") ? 4 : 0)
            let isFile = area.path.hasPrefix("/")
            let kernel = MemoryRestore.kernelAreaNames.contains(area.path)
            var plan = AreaPlan(start: area.start, end: area.end, prot: Int32(prot), shared: area.shared,
                                growsDown: area.path == "[stack]",
                                backing: kernel ? .kernel(area.path) : (isFile ? .file(path: area.path, offset: area.offset) : .anonymous),
                                name: area.path, runs: [])
            // A private file area is saved when it holds copied-on-write pages, as a checkpoint does.
            if !kernel && !area.shared && (!isFile || hasPrivateCopies(pagemap, area)) {
                var bytes = [UInt8](repeating: 0, count: Int(area.size))
                let n = pread(mem, &bytes, bytes.count, off_t(Int64(bitPattern: area.start)))
                if n == bytes.count {
                    _ = write(out, bytes, bytes.count)
                    plan.runs = [PageRunPlan(address: area.start, count: bytes.count, file: pagesFile, offset: offset)]
                    offset += UInt64(bytes.count)
                }
            }
            plans.append(plan)
        }
        return plans
    }

    /// True when a page of `area` is present and anonymous (pagemap bit 63 set, bit 61 clear).
    private static func hasPrivateCopies(_ pagemap: Int32, _ area: MemoryArea) -> Bool {
        let pages = Int(area.size / 4096)
        var entries = [UInt64](repeating: 0, count: pages)
        let n = entries.withUnsafeMutableBytes { pread(pagemap, $0.baseAddress, $0.count, off_t(area.start / 4096 * 8)) }
        guard n == pages * 8 else { return true }
        return entries.contains { $0 & (1 << 63) != 0 && $0 & (1 << 61) == 0 }
    }

    private static func mmFields(_ pid: Int32, areas: [AreaPlan]) throws -> MMFields {
        let stat = try StatLine(ProcFS.readBytes("/proc/\(pid)/stat"))
        let auxvBytes = try ProcFS.readBytes("/proc/\(pid)/auxv")
        let auxv = auxvBytes.withUnsafeBytes { Array($0.bindMemory(to: UInt64.self)) }
        let startBrk = stat.number(47)
        let heapEnd = areas.first { $0.start == startBrk }?.end ?? startBrk
        return MMFields(startCode: stat.number(26), endCode: stat.number(27), startData: stat.number(45), endData: stat.number(46),
                        startBrk: startBrk, brk: heapEnd, startStack: stat.number(28),
                        argStart: stat.number(48), argEnd: stat.number(49), envStart: stat.number(50), envEnd: stat.number(51),
                        auxv: auxv)
    }

    private static func openFiles(_ pid: Int32) throws -> [FilePlan] {
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap { Int32($0) }.sorted()
        return try fds.map { fd in
            let path = String(decoding: ProcFS.readLink("/proc/\(pid)/fd/\(fd)") ?? [], as: UTF8.self)
            let info = ProcFS.keyValues(try ProcFS.readText("/proc/\(pid)/fdinfo/\(fd)"))
            let flags = Int32(info["flags"] ?? "0", radix: 8) ?? 0
            let cloexec = flags & 0o2000000 != 0
            guard path.hasPrefix("/") else { throw FixtureError("fd \(fd) is \(path), which LiveCapture does not handle") }
            return FilePlan(fd: fd, flags: flags & ~0o2000000, closeOnExec: cloexec,
                            source: .path(path, position: Int64(info["pos"] ?? "0") ?? 0))
        }
    }

    private static func ptrace(_ request: Int, _ pid: Int32, _ address: Int, _ what: String,
                               data: UnsafeMutableRawPointer? = nil) throws {
        guard bpfcp_ptrace(request, pid, UnsafeMutableRawPointer(bitPattern: address), data) >= 0 else {
            throw FixtureError("\(what) on \(pid) failed: \(String(cString: strerror(errno)))")
        }
    }
}

extension PtraceRequest {
    static let seize = 0x4206, interrupt = 0x4207
}
