import Foundation

/// Reads event files from /proc/PID/fdinfo, the fallback and the oracle of
/// the BPF collector.
public enum EventFilesProc {
    public static func collect(pid: Int32) throws -> [EventFile] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else {
            throw BpfcpError.noSuchProcess(pid)
        }
        return names.compactMap { Int32($0) }.sorted().compactMap { eventFile(pid: pid, fd: $0) }
    }

    static func eventFile(pid: Int32, fd: Int32) -> EventFile? {
        let types = ["anon_inode:[eventfd]": "eventfd", "anon_inode:[timerfd]": "timerfd",
                     "anon_inode:[signalfd]": "signalfd", "anon_inode:[pidfd]": "pidfd"]
        guard let link = ProcFS.readLink("/proc/\(pid)/fd/\(fd)"),
              let type = types[String(decoding: link, as: UTF8.self)],
              let info = try? ProcFS.readText("/proc/\(pid)/fdinfo/\(fd)") else { return nil }
        let fields = ProcFS.keyValues(info)
        let flags = UInt32(fields["flags"] ?? "0", radix: 8) ?? 0
        var file = EventFile(fd: fd, type: type,
                             flags: EventNames.flags(type: type, fileFlags: flags, semaphore: fields["eventfd-semaphore"] == "1"),
                             closeOnExec: flags & 0o2000000 != 0)

        switch type {
        case "eventfd":
            file.count = UInt64(fields["eventfd-count"] ?? "", radix: 16)
            file.eventfdId = Int32(fields["eventfd-id"] ?? "")
        case "timerfd":
            fillTimer(&file, fields)
        case "signalfd":
            file.signals = UInt64(fields["sigmask"] ?? "", radix: 16).map { SignalName.names(mask: $0) }
        default:
            file.targetPid = Int32(fields["Pid"] ?? "")
        }
        return file
    }

    /// fdinfo shows it_value clamped to zero once the timer expired, so a
    /// zero value with an interval fits two states. With expirations not
    /// yet read (ticks > 0) the periodic timer is armed and waits for a read
    /// to restart it, because timerfd_settime() resets ticks. With none, the
    /// timer was set with a zero value, which disarms it, or it is at the
    /// instant of an expiry whose handler has not run yet. fdinfo shows no
    /// field that separates these, so `armed` is nil (unknown) there.
    private static func fillTimer(_ file: inout EventFile, _ fields: [String: String]) {
        let value = nanoseconds(fields["it_value"])
        let interval = nanoseconds(fields["it_interval"])
        let ticks = UInt64(fields["ticks"] ?? "")
        let armed: Bool?
        if value != 0 {
            armed = true
        } else if interval == 0 {
            armed = false
        } else {
            armed = (ticks ?? 0) > 0 ? true : nil
        }

        file.clock = Int32(fields["clockid"] ?? "").map(EventNames.clock)
        file.intervalNs = interval
        file.armed = armed
        file.nextExpiryNs = armed == true ? value : nil
        file.ticks = ticks
        file.settimeFlags = EventNames.settimeFlags(UInt32(fields["settime flags"] ?? "0", radix: 8) ?? 0)
    }

    /// Parses "(seconds, nanoseconds)".
    static func nanoseconds(_ text: String?) -> Int64 {
        let digits = (text ?? "").split { !$0.isNumber }.compactMap { Int64($0) }
        return digits.count == 2 ? digits[0] * 1_000_000_000 + digits[1] : 0
    }
}
