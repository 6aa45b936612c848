import Foundation

/// Small readers for /proc files, which report a size of 0 and must be read to the end.
public enum ProcFS {
    public static func readBytes(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BpfcpError.system("opening \(path)", errno) }
        defer { close(fd) }

        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw BpfcpError.system("reading \(path)", errno) }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    public static func readText(_ path: String) throws -> String {
        String(decoding: try readBytes(path), as: UTF8.self)
    }

    /// Parses "Key:\tvalue" lines such as /proc/PID/status and fdinfo. The
    /// value has the whitespace around it removed, as
    /// `trimmingCharacters(in: .whitespaces)` removes it. The lines are
    /// split as bytes, which is faster than splitting Characters.
    public static func keyValues(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in Array(text.utf8).split(separator: UInt8(ascii: "\n")) {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let key = String(decoding: line[..<colon], as: UTF8.self)
            var value = line[(colon + 1)...]
            while let first = value.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { value = value.dropFirst() }
            while let last = value.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { value = value.dropLast() }
            // Non-ASCII whitespace such as U+00A0 at either end is left to Foundation.
            let text = String(decoding: value, as: UTF8.self)
            let plain = (value.first ?? 0) < 0x80 && (value.last ?? 0) < 0x80
            result[key] = plain ? text : text.trimmingCharacters(in: .whitespaces)
        }
        return result
    }

    /// Returns the numeric names in directory `path`, such as the fds in
    /// /proc/PID/fd or the tids in /proc/PID/task, in ascending order. Empty
    /// when the directory cannot be read. Reads with readdir, because
    /// FileManager builds a String for every entry.
    public static func numericEntries(_ path: String) -> [Int32] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        return numericEntries(dir)
    }

    private static func numericEntries(_ dir: OpaquePointer) -> [Int32] {
        var numbers: [Int32] = []
        while let entry = readdir(dir) {
            let number = withUnsafeBytes(of: entry.pointee.d_name) { name in
                decimal(name.prefix { $0 != 0 })
            }
            if let number { numbers.append(number) }
        }
        return numbers.sorted()
    }

    /// Returns the link text of every fd of `pid`, in fd order. An fd closed while
    /// the list is read is left out. Each link is read relative to the open
    /// directory, so the kernel looks up one path component per fd instead of four.
    static func fdLinks(_ pid: Int32) -> [(fd: Int32, link: [UInt8])] {
        guard let dir = opendir("/proc/\(pid)/fd") else { return [] }
        defer { closedir(dir) }
        let dirFd = dirfd(dir)
        var buffer = [UInt8](repeating: 0, count: 4097)
        return numericEntries(dir).compactMap { fd in
            let n = readlinkat(dirFd, String(fd), &buffer, buffer.count - 1)
            return n >= 0 ? (fd, Array(buffer[0..<n])) : nil
        }
    }

    /// Parses a name made only of decimal digits that fits Int32, as `Int32(_:)` would.
    private static func decimal(_ digits: Slice<UnsafeRawBufferPointer>) -> Int32? {
        guard !digits.isEmpty else { return nil }
        var value: Int32 = 0
        for byte in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = shifted.addingReportingOverflow(Int32(byte - UInt8(ascii: "0")))
            guard !overflow, !carry else { return nil }
            value = sum
        }
        return value
    }

    public static func readLink(_ path: String) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 4097)
        let n = readlink(path, &buf, buf.count - 1)
        return n >= 0 ? Array(buf[0..<n]) : nil
    }
}
