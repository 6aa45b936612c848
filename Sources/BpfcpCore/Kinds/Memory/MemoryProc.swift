import CBpfcpShim
import Foundation

/// Reads /proc/PID/maps, the fallback and the oracle for memory areas.
public enum MemoryProc {
    /// Lists the areas of `pid`; `pageCounts` as in `MemoryKind.collectBPF`,
    /// with dirty counts read from /proc/PID/smaps.
    public static func collect(pid: Int32, pageCounts: Bool = true) throws -> [MemoryArea] {
        let bytes: [UInt8]
        do {
            bytes = try ProcFS.readBytes("/proc/\(pid)/maps")
        } catch {
            // /proc lists a process whose maps it denies (EACCES), so only a missing directory means it is gone.
            guard access("/proc/\(pid)", F_OK) == 0 else { throw BpfcpError.noSuchProcess(pid) }
            throw error
        }
        var areas = bytes.split(separator: 0x0A).compactMap(parse)
        if pageCounts {
            PageCounts.fill(&areas, pid: pid)
            fillDirtyPages(&areas, pid: pid)
        }
        return areas
    }

    /// Fills `dirtyPages` from /proc/PID/smaps (Private_Dirty plus
    /// Shared_Dirty), leaving hugetlb areas and the [vsyscall] gate area
    /// nil as the eBPF walk does, and `swappedPages` from its Swap line,
    /// which counts swap entries only, where PAGEMAP_SCAN also counts
    /// migration entries and guard markers.
    static func fillDirtyPages(_ areas: inout [MemoryArea], pid: Int32) {
        // Parsed as bytes: splitting the text into Characters took most of the held time of a checkpoint's memory scan.
        guard let bytes = try? ProcFS.readBytes("/proc/\(pid)/smaps") else {
            Log.shared.write("dirty pages of \(pid): /proc/\(pid)/smaps could not be read")
            return
        }
        let pageKiB = UInt64(sysconf(Int32(_SC_PAGESIZE))) / 1024
        var dirtyByStart: [UInt64: UInt64] = [:]
        var swapByStart: [UInt64: UInt64] = [:]
        var start: UInt64?
        var dirtyKiB: UInt64 = 0
        var swapKiB: UInt64 = 0

        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            if line.starts(with: "Shared_Dirty:".utf8) || line.starts(with: "Private_Dirty:".utf8) {
                dirtyKiB += kibibytes(line)
            } else if line.starts(with: "Swap:".utf8) {
                swapKiB = kibibytes(line)
            } else if line.starts(with: "VmFlags:".utf8) {
                let hugetlb = line.split(separator: UInt8(ascii: " ")).contains { $0.elementsEqual("ht".utf8) }
                if let start, !hugetlb {
                    dirtyByStart[start] = dirtyKiB / pageKiB
                    swapByStart[start] = swapKiB / pageKiB
                }
                dirtyKiB = 0
                swapKiB = 0
            } else if let dash = line.firstIndex(of: UInt8(ascii: "-")), let value = number(line[..<dash], radix: 16) {
                start = value
            }
        }
        for i in areas.indices where areas[i].path != "[vsyscall]" {
            areas[i].dirtyPages = dirtyByStart[areas[i].start]
            if let swap = swapByStart[areas[i].start] { areas[i].swappedPages = swap }
        }
    }

    /// Parses the number of an smaps line such as "Swap:   12 kB".
    private static func kibibytes(_ line: ArraySlice<UInt8>) -> UInt64 {
        line.split(separator: UInt8(ascii: " ")).dropFirst().first.flatMap { number($0, radix: 10) } ?? 0
    }

    /// Parses unsigned digits in `radix` (10 or 16). Returns nil for an empty
    /// field, any other byte, or a value above UInt64.max.
    private static func number(_ digits: ArraySlice<UInt8>, radix: UInt64) -> UInt64? {
        guard !digits.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in digits {
            let digit: UInt64
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt64(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f") where radix == 16: digit = UInt64(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F") where radix == 16: digit = UInt64(byte - UInt8(ascii: "A")) + 10
            default: return nil
            }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: radix)
            guard !overflow else { return nil }
            let (sum, carry) = shifted.addingReportingOverflow(digit)
            guard !carry else { return nil }
            value = sum
        }
        return value
    }

    /// Parses "start-end perms offset major:minor inode path".
    static func parse(_ line: ArraySlice<UInt8>) -> MemoryArea? {
        var parts: [ArraySlice<UInt8>] = []
        var rest = line[...]
        for _ in 0..<4 {
            guard let space = rest.firstIndex(of: 0x20) else { return nil }
            parts.append(rest[rest.startIndex..<space])
            rest = rest[(space + 1)...]
        }
        let inodeEnd = rest.firstIndex(of: 0x20) ?? rest.endIndex
        parts.append(rest[rest.startIndex..<inodeEnd])
        let path = Array(rest[inodeEnd...].drop { $0 == 0x20 })

        let text = parts.map { String(decoding: $0, as: UTF8.self) }
        let range = text[0].split(separator: "-")
        guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16) else { return nil }
        let devParts = text[3].split(separator: ":")
        let device = devParts.count == 2 ? "\(UInt32(devParts[0], radix: 16) ?? 0):\(UInt32(devParts[1], radix: 16) ?? 0)" : "0:0"
        let inode = UInt64(text[4]) ?? 0
        let escaped = Escape.bytes(path)
        let hasFile = inode != 0 || device != "0:0"

        return MemoryArea(
            start: start, end: end, permissions: text[1], shared: text[1].hasSuffix("s"),
            offset: UInt64(text[2], radix: 16) ?? 0, device: device, inode: inode,
            path: escaped, backing: AreaBacking.classify(path: escaped, hasFile: hasFile, device: device),
            residentPages: nil, swappedPages: nil, flags: nil
        )
    }
}

/// Resident and swapped page counts of areas from ioctl(PAGEMAP_SCAN).
public enum PageCounts {
    /// Highest user address on x86_64 with 5-level paging. The [vsyscall]
    /// gate area lies above it, contains no process pages and is not scanned.
    private static let userAddressLimit: UInt64 = 1 << 56

    /// Fills `residentPages` and `swappedPages` of sorted `areas`. Leaves them
    /// nil and logs why when the scan fails (kernels before 6.7, or the
    /// process exited).
    public static func fill(_ areas: inout [MemoryArea], pid: Int32) {
        let user = areas.prefix { $0.end <= userAddressLimit }
        let starts = user.map(\.start)
        let ends = user.map(\.end)
        var resident = [UInt64](repeating: 0, count: areas.count)
        var swapped = [UInt64](repeating: 0, count: areas.count)
        var err = [CChar](repeating: 0, count: 256)

        let rc = bpfcp_pagemap_counts(pid, starts.count, starts, ends, &resident, &swapped, &err, err.count)
        guard rc == 0 else {
            Log.shared.write("memory areas of \(pid): \(cString(err))")
            return
        }
        for i in areas.indices {
            areas[i].residentPages = i < user.count ? resident[i] : 0
            areas[i].swappedPages = i < user.count ? swapped[i] : 0
        }
    }
}
