import CBpfcpShim
import Foundation

/// A duplicate of another process's file descriptor, taken with
/// pidfd_getfd(2), so that fcntl and ioctl queries can run on it.
/// Needs PTRACE_MODE_ATTACH rights over the target (root here). Closed in `deinit`.
final class RemoteFile {
    let fd: Int32

    /// x86_64 system call numbers; Glibc does not export SYS_pidfd_* to Swift.
    private static let pidfdOpen = 434
    private static let pidfdGetfd = 438

    /// Duplicates descriptor `fd` of process `pid`, or returns nil when the
    /// process or the descriptor is gone or access is denied.
    init?(pid: Int32, fd remoteFd: Int32) {
        let pidfd = Int32(truncatingIfNeeded: bpfcp_syscall6(RemoteFile.pidfdOpen, Int(pid), 0, 0, 0, 0, 0))
        guard pidfd >= 0 else { return nil }
        defer { close(pidfd) }
        let local = Int32(truncatingIfNeeded: bpfcp_syscall6(RemoteFile.pidfdGetfd, Int(pidfd), Int(remoteFd), 0, 0, 0, 0))
        guard local >= 0 else { return nil }
        fd = local
    }

    deinit {
        close(fd)
    }

    /// Runs fcntl(fd, cmd, 0) and returns its result, nil on error.
    func fcntl(_ cmd: Int32) -> Int32? {
        let result = bpfcp_fcntl_int(fd, cmd, 0)
        return result >= 0 ? result : nil
    }

    /// Bytes waiting to be read (FIONREAD), nil on error.
    func bytesReadable() -> Int32? {
        var count: Int32 = 0
        let fionread: UInt = 0x541B
        return bpfcp_ioctl(fd, fionread, &count) == 0 ? count : nil
    }
}
