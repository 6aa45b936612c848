/// One open file descriptor.
public struct OpenFile: Codable, Sendable, Equatable {
    public var fd: Int32
    public var type: FileType
    /// Anonymous-inode kind ("eventfd", "timerfd", "eventpoll", "pidfd"...), or "memfd" for a memfd.
    public var anonKind: String?
    /// Path, escaped; for pipes and sockets the kernel's "pipe:[ino]" form.
    public var path: String
    public var deleted: Bool
    /// Device of the inode's file system as "major:minor".
    public var device: String
    public var inode: UInt64
    public var mountId: Int32
    public var position: Int64
    /// Open flags by name, access mode first, O_CLOEXEC included when set in the fd table.
    public var flags: [String]
    public var closeOnExec: Bool
    /// Mode bits of the inode, octal ("0644").
    public var mode: String
    public var size: UInt64
    /// Names the open file description: fds with the same value, in one
    /// process or in several processes of one image, share one (dup(),
    /// fork()). A keyed hash of the kernel's `struct file` address, with a
    /// key that is new in every bpfcp run, so it can be compared within
    /// one image only and reveals no kernel address. Nil when read from /proc.
    /// Equality leaves it out, so a BPF and a /proc read of one fd are equal.
    public var openFileId: String? = nil

    public static func == (a: OpenFile, b: OpenFile) -> Bool {
        a.fd == b.fd && a.type == b.type && a.anonKind == b.anonKind && a.path == b.path && a.deleted == b.deleted
            && a.device == b.device && a.inode == b.inode && a.mountId == b.mountId && a.position == b.position
            && a.flags == b.flags && a.closeOnExec == b.closeOnExec && a.mode == b.mode && a.size == b.size
    }
}

/// What a file descriptor refers to.
public enum FileType: String, Codable, Sendable {
    case regular, directory, pipe, fifo, socket
    case charDevice = "char-device"
    case blockDevice = "block-device"
    case symlink
    case anonInode = "anon-inode"
    case unknown

    /// Classifies by the inode mode and, for FIFOs and anonymous inodes, the file system magic.
    public static func classify(mode: UInt32, magic: UInt32) -> FileType {
        let pipeFSMagic: UInt32 = 0x5049_5045
        let anonInodeMagic: UInt32 = 0x0904_1934
        let pidFSMagic: UInt32 = 0x5049_4446
        // pidfs inodes carry S_IFREG on Linux 6.18, yet a pidfd is no regular file.
        if magic == anonInodeMagic || magic == pidFSMagic { return .anonInode }
        switch mode & 0o170000 {
        case 0o100000: return .regular
        case 0o040000: return .directory
        case 0o010000: return magic == pipeFSMagic ? .pipe : .fifo
        case 0o140000: return .socket
        case 0o020000: return .charDevice
        case 0o060000: return .blockDevice
        case 0o120000: return .symlink
        default: return magic == 0x5049_4446 ? .anonInode : .unknown
        }
    }
}

/// Names of open(2) flags on x86_64.
public enum OpenFlags {
    private static let bits: [(UInt32, String)] = [
        (0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"), (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"), (0o10000, "O_DSYNC"), (0o20000, "O_ASYNC"), (0o40000, "O_DIRECT"),
        (0o100000, "O_LARGEFILE"), (0o200000, "O_DIRECTORY"), (0o400000, "O_NOFOLLOW"), (0o1000000, "O_NOATIME"),
        (0o2000000, "O_CLOEXEC"), (0o4000000, "__O_SYNC"), (0o10000000, "O_PATH"), (0o20000000, "__O_TMPFILE"),
    ]

    /// Names of `flags`; O_PATH files carry no access mode, so none is named for them.
    public static func names(_ flags: UInt32) -> [String] {
        var result: [String] = []
        if flags & 0o10000000 == 0 {
            switch flags & 3 {
            case 0: result.append("O_RDONLY")
            case 1: result.append("O_WRONLY")
            default: result.append("O_RDWR")
            }
        }
        for (bit, name) in bits where flags & bit != 0 {
            result.append(name)
        }
        let known = bits.reduce(UInt32(3)) { $0 | $1.0 }
        if flags & ~known != 0 { result.append(Format.octal(flags & ~known)) }
        return result
    }
}

/// Kind names of anonymous inodes, from the dentry name ("[eventfd]", "inotify").
enum AnonInode {
    static func kind(dname: String, path: String) -> String? {
        // pidfs names every pidfd's dentry "/", so its d_path form "anon_inode:[pidfd]" is used instead.
        var name = dname.isEmpty || dname == "/" ? path : dname
        if name.hasPrefix("anon_inode:") { name.removeFirst("anon_inode:".count) }
        if name.hasPrefix("[") && name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        return name.isEmpty ? nil : name
    }

    /// Labels a memfd: an unlinked file named "/memfd:NAME" on tmpfs or hugetlbfs.
    static func memfdKind(path: [UInt8], magic: UInt32, deleted: Bool) -> String? {
        let onMemoryFS = magic == 0x0102_1994 || magic == 0x9584_58F6
        return onMemoryFS && deleted && path.starts(with: Array("/memfd:".utf8)) ? "memfd" : nil
    }
}

extension OpenFile: TreeBuildable {
    /// Builds an item of the files kind, which restore plans for every fd (see `TreeBuildable`).
    init?(tree: JSONValue) {
        guard var object = TreeObject(tree),
              let fd = object.integer("fd", as: Int32.self),
              let type = object.string("type").flatMap(FileType.init(rawValue:)),
              let anonKind = object.optionalString("anon_kind"),
              let path = object.string("path"),
              let deleted = object.bool("deleted"),
              let device = object.string("device"),
              let inode = object.integer("inode", as: UInt64.self),
              let mountId = object.integer("mount_id", as: Int32.self),
              let position = object.integer("position", as: Int64.self),
              let flags = object.strings("flags"),
              let closeOnExec = object.bool("close_on_exec"),
              let mode = object.string("mode"),
              let size = object.integer("size", as: UInt64.self),
              let openFileId = object.optionalString("open_file_id"), object.isComplete else { return nil }
        self.init(fd: fd, type: type, anonKind: anonKind, path: path, deleted: deleted, device: device, inode: inode,
                  mountId: mountId, position: position, flags: flags, closeOnExec: closeOnExec, mode: mode, size: size,
                  openFileId: openFileId)
    }
}
