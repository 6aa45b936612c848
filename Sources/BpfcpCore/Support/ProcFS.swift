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

    /// Parses "Key:\tvalue" lines such as /proc/PID/status and fdinfo.
    public static func keyValues(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            result[key] = value
        }
        return result
    }

    public static func readLink(_ path: String) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 4097)
        let n = readlink(path, &buf, buf.count - 1)
        return n >= 0 ? Array(buf[0..<n]) : nil
    }
}
