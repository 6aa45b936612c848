import CBpfcpShim
import Foundation

/// Reads inotify watches and fanotify marks from /proc/PID/fdinfo, the
/// fallback and the oracle of the BPF collector. Paths come from the file
/// handle fdinfo prints, opened with open_by_handle_at(2), which needs
/// CAP_DAC_READ_SEARCH; without it the path stays empty.
public enum NotifyProc {
    public static func collect(pid: Int32) throws -> [NotifyMark] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else {
            throw BpfcpError.noSuchProcess(pid)
        }
        let ownMounts = MountTable(pid: getpid())
        let targetMounts = MountTable(pid: pid)
        var marks: [NotifyMark] = []
        for fd in names.compactMap({ Int32($0) }) {
            guard let link = ProcFS.readLink("/proc/\(pid)/fd/\(fd)"),
                  ["anon_inode:inotify", "anon_inode:[fanotify]"].contains(String(decoding: link, as: UTF8.self)),
                  let info = try? ProcFS.readText("/proc/\(pid)/fdinfo/\(fd)") else { continue }
            // "fanotify flags:0 event-flags:0" describes the group, not a mark.
            for line in info.split(separator: "\n") where line.hasPrefix("inotify ") || line.hasPrefix("fanotify ") {
                guard !line.hasPrefix("fanotify flags:") else { continue }
                marks.append(parse(line, fd: fd, ownMounts: ownMounts, targetMounts: targetMounts))
            }
        }
        return NotifyKind.sorted(marks)
    }

    /// Parses "inotify wd:1 ino:2 sdev:fd00001 mask:100 ..." or a "fanotify" line; all numbers are hex.
    static func parse(_ line: Substring, fd: Int32, ownMounts: MountTable, targetMounts: MountTable) -> NotifyMark {
        var values: [String: String] = [:]
        for token in line.split(separator: " ").dropFirst() {
            let parts = token.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        func hex(_ key: String) -> UInt64? { values[key].flatMap { UInt64($0, radix: 16) } }

        let inotify = line.hasPrefix("inotify ")
        let mountId = hex("mnt_id").map { Int32(truncatingIfNeeded: $0) }
        let mountDevice = mountId.flatMap { id in targetMounts.mounts.first { $0.id == id }?.device }
        let device = hex("sdev").map { Format.kernelDev(UInt32(truncatingIfNeeded: $0)) } ?? mountDevice ?? "0:0"
        let target = values["ino"] != nil ? "inode" : values["mnt_id"] != nil ? "mount" : values["mntns"] != nil ? "mount namespace" : "filesystem"
        let mask = UInt32(truncatingIfNeeded: hex("mask") ?? 0)
        let ignored = UInt32(truncatingIfNeeded: hex("ignored_mask") ?? 0)

        return NotifyMark(
            fd: fd, api: inotify ? "inotify" : "fanotify", wd: inotify ? hex("wd").map { Int32(truncatingIfNeeded: $0) } : nil,
            mask: NotifyNames.names(mask, inotify ? NotifyNames.inotifyBits : NotifyNames.fanotifyBits),
            ignoredMask: inotify ? nil : NotifyNames.names(ignored, NotifyNames.fanotifyBits),
            markFlags: inotify ? nil : markFlags(UInt32(truncatingIfNeeded: hex("mflags") ?? 0)),
            target: target, device: device, inode: hex("ino"),
            mountId: mountId,
            path: target == "inode" ? path(values, device: device, mounts: ownMounts) : ""
        )
    }

    /// FAN_MARK_* values as fdinfo's mflags prints them.
    private static func markFlags(_ flags: UInt32) -> [String] {
        var names: [String] = []
        if flags & 0x20 != 0 { names.append("FAN_MARK_IGNORED_SURV_MODIFY") }
        if flags & 0x200 != 0 { names.append("FAN_MARK_EVICTABLE") }
        if flags & 0x400 != 0 { names.append("FAN_MARK_IGNORE") }
        return names
    }

    /// O_PATH on x86_64; Glibc does not export it to Swift.
    private static let openPath: Int32 = 0o10000000

    /// Opens the file handle from fdinfo on a mount of the same device and reads back its path.
    private static func path(_ values: [String: String], device: String, mounts: MountTable) -> String {
        guard let type = values["fhandle-type"].flatMap({ Int32($0, radix: 16) }),
              let handleHex = values["f_handle"],
              let mount = mounts.mounts.first(where: { $0.device == device && $0.root == [0x2F] }) else { return "" }
        let handle = stride(from: 0, to: handleHex.count - 1, by: 2).compactMap { i -> UInt8? in
            let start = handleHex.index(handleHex.startIndex, offsetBy: i)
            return UInt8(handleHex[start..<handleHex.index(start, offsetBy: 2)], radix: 16)
        }
        // open_by_handle_at() rejects an O_PATH mount fd with EBADF.
        let mountFd = open(String(decoding: mount.mountPoint, as: UTF8.self), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard mountFd >= 0 else { return "" }
        defer { close(mountFd) }

        var buffer = withUnsafeBytes(of: UInt32(handle.count)) { Array($0) } + withUnsafeBytes(of: type) { Array($0) } + handle
        let openByHandleAt = 304
        let fd = buffer.withUnsafeMutableBytes { raw in
            Int32(truncatingIfNeeded: bpfcp_syscall6(openByHandleAt, Int(mountFd), Int(bitPattern: raw.baseAddress), Int(openPath | O_CLOEXEC), 0, 0, 0))
        }
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        return ProcFS.readLink("/proc/self/fd/\(fd)").map { Escape.bytes($0) } ?? ""
    }
}
