import Foundation

/// A file that exists only in memory (a memfd, or a deleted file on tmpfs),
/// recreated from the content the checkpoint saved.
struct SavedFilePlan: Equatable {
    enum Kind: Equatable {
        /// memfd_create(name, flags) and then F_ADD_SEALS with `seals` when not 0.
        case memfd(name: [UInt8], flags: UInt32, seals: UInt32)
        /// A file created at `path`, then unlinked once every fd on it is open.
        case deleted(path: String)
    }

    /// "device:inode" of the original file; fds with the same identity share one new file.
    var identity: String
    var kind: Kind
    var size: UInt64
    /// Mode bits set with fchmod.
    var mode: UInt32
    var position: Int64
    /// Data extents: `length` bytes at `fileOffset`, found at byte `offset` of `pagesFile`.
    var runs: [(fileOffset: UInt64, length: UInt64, offset: UInt64)]
    var pagesFile: String

    static func == (a: SavedFilePlan, b: SavedFilePlan) -> Bool {
        a.identity == b.identity && a.kind == b.kind && a.position == b.position
    }
}

/// Plans memfds and deleted files from the saved content, and rejects those
/// restore cannot rebuild, naming the fd.
enum SavedFilePlanner {
    static let mfdAllowSealing: UInt32 = 0x2, mfdExec: UInt32 = 0x10
    static let sealSeal: UInt32 = 0x1

    static func plan(_ file: OpenFile, image: ProcessImage, pagesFile: String, headerSize: UInt64) throws -> FilePlan {
        let pid = image.pid
        guard let saved = image.files.first(where: { $0.fd == file.fd }) else {
            throw ImagePlan.reject(pid, "fd \(file.fd) is the deleted file \(file.path), whose content the checkpoint did not save (it saves memfds and deleted files on tmpfs and hugetlbfs)")
        }
        guard let mode = UInt32(file.mode, radix: 8) else {
            throw ImagePlan.reject(pid, "fd \(file.fd) has the mode \(Escape.text(file.mode)), which is not octal")
        }
        let runs = saved.runs.map { (fileOffset: $0.fileOffset, length: $0.length, offset: headerSize + $0.offset) }
        var plan = SavedFilePlan(identity: "\(saved.device):\(saved.inode)", kind: .deleted(path: ""), size: saved.size,
                                 mode: mode & 0o7777, position: file.position, runs: runs, pagesFile: pagesFile)
        if file.path.hasPrefix("/memfd:") {
            plan.kind = try memfdKind(file, image: image)
        } else {
            plan.kind = .deleted(path: try deletedPath(file, pid: pid))
        }
        let flags = OpenFlags.value(file.flags.filter { $0 != "O_CLOEXEC" })
        return FilePlan(fd: file.fd, flags: flags, closeOnExec: file.closeOnExec, source: .saved(plan))
    }

    /// Marks the new inodes of recreated files as expected verify differences.
    static func expectNewInodes(_ files: [FilePlan], in settings: inout SettingsPlan) {
        let reason = "a file recreated from its saved content has a new inode"
        for file in files {
            guard case .saved(let saved) = file.source else { continue }
            settings.expect(kind: "files", key: "fd \(file.fd)", field: "inode", reason: reason)
            if case .memfd = saved.kind { settings.expect(kind: "memfd", key: "fd \(file.fd)", field: "inode", reason: reason) }
        }
    }

    private static func memfdKind(_ file: OpenFile, image: ProcessImage) throws -> SavedFilePlan.Kind {
        guard let memfd = try image.items("memfd", as: MemfdFile.self).first(where: { $0.fd == file.fd }) else {
            throw ImagePlan.reject(image.pid, "fd \(file.fd) is the memfd \(file.path), but the image has no memfd item for it")
        }
        if memfd.hugetlb {
            throw ImagePlan.reject(image.pid, "fd \(file.fd) is the hugetlb memfd \(file.path); restore of hugetlb memfds is not supported")
        }
        var seals: UInt32 = 0
        for name in memfd.seals {
            guard let bit = (0..<6).first(where: { MemfdFile.sealNames(UInt32(1) << UInt32($0)) == [name] }) else {
                throw ImagePlan.reject(image.pid, "fd \(file.fd) is the memfd \(file.path) with the unknown seal \(Escape.text(name))")
            }
            seals |= UInt32(1) << UInt32(bit)
        }
        // A memfd created without MFD_ALLOW_SEALING starts with F_SEAL_SEAL alone.
        if seals == sealSeal {
            return .memfd(name: Escape.unescape(memfd.name), flags: mfdExec, seals: 0)
        }
        return .memfd(name: Escape.unescape(memfd.name), flags: mfdExec | mfdAllowSealing, seals: seals)
    }

    /// Returns the path a deleted file had, where restore creates it again
    /// before unlinking it. Another file there now would be replaced, so it is rejected.
    private static func deletedPath(_ file: OpenFile, pid: Int32) throws -> String {
        // The files kind stores the path without the " (deleted)" that /proc adds, and the fallback keeps it.
        let suffix = " (deleted)"
        var path = String(decoding: Escape.unescape(file.path), as: UTF8.self)
        if path.hasSuffix(suffix) { path = String(path.dropLast(suffix.count)) }
        guard path.hasPrefix("/") else {
            throw ImagePlan.reject(pid, "fd \(file.fd) is the deleted file \(file.path), whose original path is unknown")
        }
        var info = stat()
        if lstat(path, &info) == 0 {
            throw ImagePlan.reject(pid, "fd \(file.fd) is the deleted file \(file.path), and another file has its path now; restore would need that path to recreate it")
        }
        let parent = (path as NSString).deletingLastPathComponent
        guard stat(parent, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw ImagePlan.reject(pid, "fd \(file.fd) is the deleted file \(file.path), whose directory \(Escape.text(parent)) is missing now")
        }
        return path
    }
}
