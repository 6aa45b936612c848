import Foundation

/// Reads pipes and FIFOs from /proc/PID/fd and fdinfo, and their capacity
/// and queued bytes with F_GETPIPE_SZ and FIONREAD on a pidfd_getfd(2)
/// duplicate. The fallback and the oracle of the BPF collector; it cannot
/// count the readers and writers.
public enum PipesProc {
    public static func collect(pid: Int32) throws -> [PipeEnd] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else {
            throw BpfcpError.noSuchProcess(pid)
        }
        return names.compactMap { Int32($0) }.sorted().compactMap { pipeEnd(pid: pid, fd: $0) }
    }

    static func pipeEnd(pid: Int32, fd: Int32) -> PipeEnd? {
        let link = "/proc/\(pid)/fd/\(fd)"
        var st = stat()
        guard stat(link, &st) == 0, st.st_mode & S_IFMT == S_IFIFO,
              let target = ProcFS.readLink(link),
              let info = try? ProcFS.readText("/proc/\(pid)/fdinfo/\(fd)") else { return nil }
        let flags = UInt32(ProcFS.keyValues(info)["flags"] ?? "0", radix: 8) ?? 0
        let isPipe = target.starts(with: Array("pipe:[".utf8))
        let type = isPipe ? "pipe" : "fifo"
        let device = "\(major(st.st_dev)):\(minor(st.st_dev))"
        let remote = RemoteFile(pid: pid, fd: fd)
        let getPipeSize: Int32 = 1032

        return PipeEnd(
            fd: fd, type: type, identity: PipeEnd.identity(type: type, device: device, inode: UInt64(st.st_ino)),
            end: PipeEnd.end(readable: flags & 3 != 1, writable: flags & 3 != 0),
            capacity: UInt64(remote?.fcntl(getPipeSize) ?? 0), queued: UInt64(remote?.bytesReadable() ?? 0),
            readers: nil, writers: nil, device: device, inode: UInt64(st.st_ino),
            path: isPipe ? "" : Escape.bytes(target), flags: OpenFlags.names(flags & ~0o2000000)
        )
    }

    /// glibc's gnu_dev_major/minor, which Swift does not import.
    static func major(_ dev: dev_t) -> UInt32 { UInt32((dev >> 8) & 0xFFF) | UInt32((dev >> 32) & ~0xFFF) }
    static func minor(_ dev: dev_t) -> UInt32 { UInt32(dev & 0xFF) | UInt32((dev >> 12) & ~0xFF) }
}
