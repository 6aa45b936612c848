/// One inotify watch or fanotify mark.
public struct NotifyMark: Codable, Sendable, Equatable {
    public var fd: Int32
    /// "inotify" or "fanotify".
    public var api: String
    /// inotify watch descriptor; nil for fanotify.
    public var wd: Int32?
    /// Events by name as the API's user calls them (IN_CREATE, FAN_OPEN...).
    public var mask: [String]
    /// fanotify ignore mask by name; nil for inotify.
    public var ignoredMask: [String]?
    /// fanotify mark flags (FAN_MARK_EVICTABLE...); nil for inotify.
    public var markFlags: [String]?
    /// "inode", "mount", "filesystem", "mount namespace" or "detached".
    public var target: String
    /// Device of the inode, mount or file system as "major:minor"; "0:0" for a mount namespace.
    public var device: String
    public var inode: UInt64?
    public var mountId: Int32?
    /// Where the watched inode resolves in the process's mount namespace (escaped); empty when unknown.
    public var path: String
}

/// Names of inotify and fanotify bits.
enum NotifyNames {
    static let inotifyBits: [(UInt32, String)] = [
        (0x1, "IN_ACCESS"), (0x2, "IN_MODIFY"), (0x4, "IN_ATTRIB"), (0x8, "IN_CLOSE_WRITE"), (0x10, "IN_CLOSE_NOWRITE"),
        (0x20, "IN_OPEN"), (0x40, "IN_MOVED_FROM"), (0x80, "IN_MOVED_TO"), (0x100, "IN_CREATE"), (0x200, "IN_DELETE"),
        (0x400, "IN_DELETE_SELF"), (0x800, "IN_MOVE_SELF"), (0x2000, "IN_UNMOUNT"), (0x4000, "IN_Q_OVERFLOW"),
        (0x8000, "IN_IGNORED"), (0x100_0000, "IN_ONLYDIR"), (0x200_0000, "IN_DONT_FOLLOW"),
        (0x400_0000, "IN_EXCL_UNLINK"), (0x1000_0000, "IN_MASK_CREATE"), (0x2000_0000, "IN_MASK_ADD"),
        (0x4000_0000, "IN_ISDIR"), (0x8000_0000, "IN_ONESHOT"),
    ]

    static let fanotifyBits: [(UInt32, String)] = [
        (0x1, "FAN_ACCESS"), (0x2, "FAN_MODIFY"), (0x4, "FAN_ATTRIB"), (0x8, "FAN_CLOSE_WRITE"),
        (0x10, "FAN_CLOSE_NOWRITE"), (0x20, "FAN_OPEN"), (0x40, "FAN_MOVED_FROM"), (0x80, "FAN_MOVED_TO"),
        (0x100, "FAN_CREATE"), (0x200, "FAN_DELETE"), (0x400, "FAN_DELETE_SELF"), (0x800, "FAN_MOVE_SELF"),
        (0x1000, "FAN_OPEN_EXEC"), (0x4000, "FAN_Q_OVERFLOW"), (0x8000, "FAN_FS_ERROR"), (0x1_0000, "FAN_OPEN_PERM"),
        (0x2_0000, "FAN_ACCESS_PERM"), (0x4_0000, "FAN_OPEN_EXEC_PERM"), (0x10_0000, "FAN_PRE_ACCESS"),
        (0x100_0000, "FAN_MNT_ATTACH"), (0x200_0000, "FAN_MNT_DETACH"), (0x800_0000, "FAN_EVENT_ON_CHILD"),
        (0x1000_0000, "FAN_RENAME"), (0x4000_0000, "FAN_ONDIR"),
    ]

    static func names(_ value: UInt32, _ bits: [(UInt32, String)]) -> [String] {
        var names = bits.filter { value & $0.0 != 0 }.map(\.1)
        let unknown = value & ~bits.reduce(UInt32(0)) { $0 | $1.0 }
        if unknown != 0 { names.append(Format.hex(UInt64(unknown))) }
        return names
    }

    /// The mask inotify_add_watch() was given, from a mark's kernel mask and
    /// flags. The kernel keeps IN_EXCL_UNLINK and IN_ONESHOT as mark flags
    /// (FSNOTIFY_MARK_FLAG_EXCL_UNLINK 0x10, FSNOTIFY_MARK_FLAG_IN_ONESHOT 0x20 in Linux 6.x).
    static func inotifyUserMask(mask: UInt32, markFlags: UInt32) -> UInt32 {
        var user = mask & 0xFFF
        if markFlags & 0x10 != 0 { user |= 0x400_0000 }
        if markFlags & 0x20 != 0 { user |= 0x8000_0000 }
        return user
    }

    /// FAN_MARK_* flags fanotify reports for a mark, from FSNOTIFY_MARK_FLAG_* (Linux 6.x values).
    static func fanotifyMarkFlags(_ markFlags: UInt32) -> [String] {
        var names: [String] = []
        if markFlags & 0x100 != 0 { names.append("FAN_MARK_IGNORED_SURV_MODIFY") }
        if markFlags & 0x200 != 0 { names.append("FAN_MARK_EVICTABLE") }
        if markFlags & 0x400 != 0 { names.append("FAN_MARK_IGNORE") }
        return names
    }

    static func target(_ type: UInt32) -> String {
        ["inode", "mount", "filesystem", "mount namespace"].indices.contains(Int(type))
            ? ["inode", "mount", "filesystem", "mount namespace"][Int(type)] : "detached"
    }
}
