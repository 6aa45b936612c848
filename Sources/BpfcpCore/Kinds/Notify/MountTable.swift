import Foundation

/// The mounts of a process's mount namespace, read from /proc/PID/mountinfo,
/// to turn a path inside a file system into the path a process sees.
struct MountTable {
    struct Mount {
        let id: Int32
        let device: String
        /// Directory of the file system that is mounted, relative to its root.
        let root: [UInt8]
        let mountPoint: [UInt8]
    }

    let mounts: [Mount]

    init(pid: Int32) {
        let bytes = (try? ProcFS.readBytes("/proc/\(pid)/mountinfo")) ?? []
        mounts = bytes.split(separator: 0x0A).compactMap(MountTable.parse)
    }

    /// Parses "36 35 98:0 /root /mnt ..." and undoes the octal escapes (\040).
    private static func parse(_ line: ArraySlice<UInt8>) -> Mount? {
        let fields = line.split(separator: 0x20, maxSplits: 5)
        guard fields.count >= 5, let id = Int32(String(decoding: fields[0], as: UTF8.self)) else { return nil }
        return Mount(id: id, device: String(decoding: fields[2], as: UTF8.self),
                     root: unescape(fields[3]), mountPoint: unescape(fields[4]))
    }

    private static func unescape(_ field: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        var i = field.startIndex
        while i < field.endIndex {
            if field[i] == 0x5C, i + 3 < field.endIndex,
               let value = UInt8(String(decoding: field[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(value)
                i += 4
            } else {
                out.append(field[i])
                i += 1
            }
        }
        return out
    }

    /// Maps `relative` (from the root of the file system on `device`) through
    /// the mount whose root contains it, preferring the deepest root.
    func resolve(device: String, relative: [UInt8]) -> [UInt8]? {
        let candidates = mounts.filter { $0.device == device && MountTable.contains($0.root, relative) }
        guard let mount = candidates.max(by: { $0.root.count < $1.root.count }) else { return nil }
        let rest = mount.root == [0x2F] ? relative : Array(relative.dropFirst(mount.root.count))
        if rest.isEmpty || rest == [0x2F] { return mount.mountPoint }
        return mount.mountPoint == [0x2F] ? rest : mount.mountPoint + rest
    }

    private static func contains(_ root: [UInt8], _ path: [UInt8]) -> Bool {
        if root == [0x2F] { return true }
        return path.starts(with: root) && (path.count == root.count || path[root.count] == 0x2F)
    }
}
