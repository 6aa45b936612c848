import Foundation

/// Reads epoll watches from the "tfd:" lines of /proc/PID/fdinfo, the
/// fallback and the oracle of the BPF collector. The target type comes from
/// the target fd when it still refers to the watched inode.
public enum EpollProc {
    public static func collect(pid: Int32) throws -> [EpollWatch] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else {
            throw BpfcpError.noSuchProcess(pid)
        }
        var watches: [EpollWatch] = []
        for fd in names.compactMap({ Int32($0) }) {
            guard let link = ProcFS.readLink("/proc/\(pid)/fd/\(fd)"),
                  String(decoding: link, as: UTF8.self) == "anon_inode:[eventpoll]",
                  let info = try? ProcFS.readText("/proc/\(pid)/fdinfo/\(fd)") else { continue }
            let parsed = info.split(separator: "\n").filter { $0.hasPrefix("tfd:") }.compactMap { parse($0, epollFd: fd, pid: pid) }
            watches += parsed.isEmpty ? [EpollWatch(epollFd: fd, events: [])] : parsed
        }
        return EpollKind.sorted(watches)
    }

    /// Parses "tfd: 5 events: 19 data: 7 pos:0 ino:40e sdev:f"; every number but tfd is hex.
    static func parse(_ line: Substring, epollFd: Int32, pid: Int32) -> EpollWatch? {
        let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" })
        var values: [String: String] = [:]
        for i in stride(from: 0, to: tokens.count - 1, by: 2) {
            values[String(tokens[i])] = String(tokens[i + 1])
        }
        guard let tfd = Int32(values["tfd"] ?? ""), let events = UInt32(values["events"] ?? "", radix: 16),
              let data = UInt64(values["data"] ?? "", radix: 16), let ino = UInt64(values["ino"] ?? "", radix: 16),
              let sdev = UInt32(values["sdev"] ?? "", radix: 16) else { return nil }
        return EpollWatch(epollFd: epollFd, targetFd: tfd, targetInode: ino, targetDevice: Format.kernelDev(sdev),
                          targetType: targetType(pid: pid, fd: tfd, inode: ino),
                          events: EpollWatch.names(events: events), data: data)
    }

    private static func targetType(pid: Int32, fd: Int32, inode: UInt64) -> String? {
        guard let file = FilesProc.file(pid: pid, fd: fd), file.inode == inode else { return nil }
        return file.type.rawValue
    }
}
