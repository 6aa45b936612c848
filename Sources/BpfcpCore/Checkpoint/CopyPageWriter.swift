import CBpfcpShim
import Foundation

/// Makes a stopped snapshot copy write its own private pages into the pages file.
///
/// Read through /proc/PID/mem, each page is copied three times: into a
/// kernel bounce page, into bpfcp, and into the page cache. Here bpfcp
/// runs system calls in the copy (`bpfcp_copy_syscall`), and a pwrite64
/// from the copy's memory copies each page once, into the page cache:
///
/// 1. `close_range(0, ~0U, CLOSE_RANGE_UNSHARE)` gives the copy a new, empty
///    fd table. The target's table, which the copy shared through
///    CLONE_FILES, loses nothing, and no file of the target is closed.
/// 2. `mmap` makes an anonymous page that only the copy has, and bpfcp
///    writes the path of the pages file into it.
/// 3. `openat` opens that file for writing, and bpfcp checks that the copy's
///    descriptor refers to the same inode as its own.
/// 4. `pwrite64` writes each run of pages at the offset bpfcp chooses.
///
/// Only the `syscall` instruction the clone returned through runs in the
/// copy, never other target code. The copy opens the file with the
/// target's credentials and in its mount namespace and root, so a target
/// that cannot open bpfcp's scratch file (another user, a container) gets
/// no writer, and its pages are read through /proc/PID/mem.
final class CopyPageWriter {
    let copy: Int32
    private let site: UInt64
    /// The pages file, as a descriptor of the copy.
    private let fd: UInt64
    /// Reason the copy stopped writing, after which bpfcp reads the rest of its pages.
    private(set) var failure: String?

    private init(copy: Int32, site: UInt64, fd: UInt64) {
        self.copy = copy
        self.site = site
        self.fd = fd
    }

    /// Prepares `snapshot`'s copy to write into the file at `path`. Returns
    /// the writer, or nil and why the copy cannot write.
    static func open(_ snapshot: Snapshot, path: String) -> (CopyPageWriter?, String) {
        let copy = snapshot.copy
        let rc = bpfcp_copy_prepare(copy)
        guard rc == 0 else { return (nil, "setting ptrace options on copy \(copy) failed: \(String(cString: strerror(-rc)))") }
        guard let site = SyscallSite.find(tid: copy, pid: copy) else {
            return (nil, "copy \(copy) has no syscall instruction to run a system call with")
        }
        let call = CopyCall(copy: copy, site: site)

        let closeRange = 436
        let closeRangeUnshare: UInt64 = 2
        guard case .success(0) = call.run(closeRange, [0, UInt64(UInt32.max), closeRangeUnshare]) else {
            return (nil, "close_range with CLOSE_RANGE_UNSHARE in the copy failed: \(call.lastFailure)")
        }
        if let shared = sharesFdTable(copy, snapshot.pid) {
            return (nil, shared)
        }

        let pageSize = Checkpointer.pageSize()
        let mmap = 9
        let protReadWrite: UInt64 = 0x3
        let mapPrivateAnonymous: UInt64 = 0x22
        guard case .success(let page) = call.run(mmap, [0, pageSize, protReadWrite, mapPrivateAnonymous, UInt64.max, 0]),
              page > 0 else {
            return (nil, "mmap in the copy failed: \(call.lastFailure)")
        }
        // The copy resolves a relative path against the target's working directory, not bpfcp's.
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let bytes = Array(absolute.utf8) + [0]
        guard UInt64(bytes.count) <= pageSize,
              bytes.withUnsafeBytes({ bpfcp_write_remote(copy, $0.baseAddress, UInt64(page), $0.count) }) == bytes.count else {
            return (nil, "writing the path of the pages file into the copy failed")
        }

        let openat = 257
        let atFdcwd = UInt64(bitPattern: -100)
        let flags = UInt64(O_WRONLY | O_CLOEXEC)
        guard case .success(let fd) = call.run(openat, [atFdcwd, UInt64(page), flags, 0, 0, 0]), fd >= 0 else {
            return (nil, "the copy could not open the pages file: \(call.lastFailure)")
        }
        guard sameFile("/proc/\(copy)/fd/\(fd)", path) else {
            return (nil, "the copy opened another file under the path of the pages file (another root or mount namespace)")
        }
        return (CopyPageWriter(copy: copy, site: site, fd: UInt64(fd)), "")
    }

    /// Has the copy write `count` bytes of its memory at `address` to file
    /// offset `offset`, and returns the bytes written. That is fewer than
    /// `count`, zero at the first byte, when the copy reaches memory it
    /// cannot read, such as a PROT_NONE page. Throws when the file system
    /// fails the write (ENOSPC, EDQUOT, EIO), as it would fail bpfcp's own.
    /// Any other failure, such as EFBIG from the target's RLIMIT_FSIZE, sets
    /// `failure` and returns zero, and the caller reads the pages instead.
    func write(address: UInt64, count: Int, at offset: UInt64) throws -> Int {
        guard failure == nil else { return 0 }
        let pwrite64 = 18
        let call = CopyCall(copy: copy, site: site)
        switch call.run(pwrite64, [fd, address, UInt64(count), offset]) {
        case .success(let written) where written >= 0:
            return Int(written)
        case .success(let failed) where failed == -Int64(EFAULT):
            return 0
        case .success(let failed) where [ENOSPC, EDQUOT, EIO].contains(Int32(-failed)):
            throw BpfcpError.system("writing the pages of copy \(copy) at \(Format.hex(address)) to \(Format.hex(offset)) of the pages file", Int32(-failed))
        case .success:
            failure = "pwrite64 in the copy failed: \(call.lastFailure)"
            return 0
        case .failure:
            failure = "running pwrite64 in the copy failed: \(call.lastFailure)"
            return 0
        }
    }

    /// Returns why the copy may still share `pid`'s fd table, or nil when
    /// kcmp(KCMP_FILES) shows that it does not.
    private static func sharesFdTable(_ copy: Int32, _ pid: Int32) -> String? {
        let kcmp = 312
        let kcmpFiles = 2
        let order = bpfcp_syscall6(kcmp, Int(copy), Int(pid), kcmpFiles, 0, 0, 0)
        if order < 0 { return "kcmp could not compare the fd tables of the copy and the target: \(String(cString: strerror(errno)))" }
        return order == 0 ? "the copy still shares the fd table of the target after close_range" : nil
    }

    private static func sameFile(_ first: String, _ second: String) -> Bool {
        var a = stat()
        var b = stat()
        guard stat(first, &a) == 0, stat(second, &b) == 0 else { return false }
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }
}

/// One system call run in a snapshot copy. `run` returns the call's own
/// result, negative errno included, or the ptrace failure.
private final class CopyCall {
    struct PtraceFailure: Error {
        let code: Int32
    }

    let copy: Int32
    let site: UInt64
    /// The last failure, as text for a fallback reason.
    private(set) var lastFailure = ""

    init(copy: Int32, site: UInt64) {
        self.copy = copy
        self.site = site
    }

    func run(_ number: Int, _ arguments: [UInt64]) -> Result<Int64, PtraceFailure> {
        var result: Int64 = 0
        let rc = arguments.withUnsafeBufferPointer { bpfcp_copy_syscall(copy, site, number, $0.baseAddress, &result) }
        guard rc == 0 else {
            lastFailure = "ptrace: \(String(cString: strerror(-rc)))"
            return .failure(PtraceFailure(code: -rc))
        }
        if result < 0 && result > -4096 {
            lastFailure = String(cString: strerror(Int32(-result)))
        }
        return .success(result)
    }
}
