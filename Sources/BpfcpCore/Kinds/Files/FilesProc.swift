import CBpfcpShim
import Foundation

/// Reads open files from /proc/PID/fd and fdinfo, field for field like the BPF collector.
public enum FilesProc {
    public static func collect(pid: Int32) throws -> [OpenFile] {
        let dir = "/proc/\(pid)/fd"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
            throw BpfcpError.noSuchProcess(pid)
        }
        return names.compactMap { Int32($0) }.sorted().compactMap { file(pid: pid, fd: $0) }
    }

    static func file(pid: Int32, fd: Int32) -> OpenFile? {
        let link = "/proc/\(pid)/fd/\(fd)"
        guard let target = ProcFS.readLink(link),
              let info = try? ProcFS.readText("/proc/\(pid)/fdinfo/\(fd)") else { return nil }
        let fields = ProcFS.keyValues(info)
        var st = stat()
        let statOK = stat(link, &st) == 0
        var lst = stat()
        _ = lstat(link, &lst)

        let rawFlags = UInt32(fields["flags"] ?? "0", radix: 8) ?? 0
        let cloexec = rawFlags & 0o2000000 != 0
        var flags = OpenFlags.names(rawFlags & ~0o2000000)
        if cloexec { flags.append("O_CLOEXEC") }

        let (path, deletedSuffix) = stripDeleted(target)
        let mode = statOK ? UInt32(st.st_mode) : 0
        let magic = fileSystemMagic(link)
        let type = statOK ? FileType.classify(mode: mode, magic: magic) : (magic == 0x0904_1934 ? .anonInode : .unknown)
        let escaped = Escape.bytes(path)

        return OpenFile(
            fd: fd, type: type,
            anonKind: type == .anonInode ? AnonInode.kind(dname: "", path: escaped)
                : AnonInode.memfdKind(path: path, magic: magic, deleted: deletedSuffix && statOK && st.st_nlink == 0),
            path: escaped,
            deleted: deletedSuffix && statOK && st.st_nlink == 0,
            device: statOK ? "\(major(st.st_dev)):\(minor(st.st_dev))" : "0:0",
            inode: UInt64(fields["ino"] ?? "") ?? (statOK ? UInt64(st.st_ino) : 0),
            mountId: Int32(fields["mnt_id"] ?? "0") ?? 0,
            position: Int64(fields["pos"] ?? "0") ?? 0,
            flags: flags, closeOnExec: cloexec,
            mode: Format.octal(mode & 0o7777), size: statOK ? UInt64(st.st_size) : 0
        )
    }

    /// Splits the " (deleted)" suffix that the kernel appends to unlinked paths.
    static func stripDeleted(_ path: [UInt8]) -> ([UInt8], Bool) {
        if path.count > deletedSuffix.count && path.suffix(deletedSuffix.count).elementsEqual(deletedSuffix) {
            return (Array(path.dropLast(deletedSuffix.count)), true)
        }
        return (path, false)
    }

    private static let deletedSuffix = Array(" (deleted)".utf8)

    private static func fileSystemMagic(_ link: String) -> UInt32 {
        UInt32(truncatingIfNeeded: bpfcp_statfs_type(link))
    }

    private static func major(_ dev: dev_t) -> UInt32 { UInt32((dev >> 8) & 0xFFF) | UInt32((dev >> 32) & ~0xFFF) }
    private static func minor(_ dev: dev_t) -> UInt32 { UInt32(dev & 0xFF) | UInt32((dev >> 12) & ~0xFF) }
}
