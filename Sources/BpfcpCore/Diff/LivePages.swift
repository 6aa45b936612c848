import CBpfcpShim
import Foundation

extension PageSnapshot {
    /// Hashes the present pages of the running process `pid`. PAGEMAP_SCAN
    /// finds them by the rules a capture uses to pick the pages it saves,
    /// so an unchanged process compares equal to its image, and an empty
    /// reservation costs nothing. The process keeps running: a page that it
    /// writes during the read may hash as before or after the write.
    public static func live(pid: Int32) throws -> PageSnapshot {
        let areas = try MemoryProc.collect(pid: pid, pageCounts: false)
        let pagemap = open("/proc/\(pid)/pagemap", O_RDONLY | O_CLOEXEC)
        guard pagemap >= 0 else { throw BpfcpError.system("opening /proc/\(pid)/pagemap", errno) }
        defer { close(pagemap) }
        let mem = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC)
        guard mem >= 0 else { throw BpfcpError.system("opening /proc/\(pid)/mem", errno) }
        defer { close(mem) }

        let pageSize = Checkpointer.pageSize()
        let bufferSize = UInt64(4 << 20)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Int(bufferSize), alignment: Int(pageSize))
        defer { buffer.deallocate() }
        var pageHashes = [UInt64](repeating: 0, count: Int(bufferSize / pageSize))
        var hashes: [UInt64: UInt64] = [:]

        for area in areas {
            let contents = MemoryCapture.classify(area, pid: pid)
            guard contents == .privatePages || contents == .sharedPages else { continue }
            for region in try MemoryCapture.scan(pagemap, area) {
                var address = region.start
                while address < region.end {
                    let count = min(bufferSize, region.end - address)
                    let pages = Int(count / pageSize)
                    try MemoryCapture.readRemote(pid: pid, mem: mem, into: buffer, address: address, count: Int(count))
                    pageHashes.withUnsafeMutableBufferPointer { bpfcp_page_hashes(buffer, pages, Int(pageSize), $0.baseAddress) }
                    for index in 0..<pages {
                        hashes[address + UInt64(index) * pageSize] = pageHashes[index]
                    }
                    address += count
                }
            }
        }
        return PageSnapshot(areas: areas, hashes: hashes) { address in
            readLivePage(pid: pid, address: address, pageSize: pageSize)
        }
    }

    private static func readLivePage(pid: Int32, address: UInt64, pageSize: UInt64) -> [UInt8]? {
        let mem = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC)
        guard mem >= 0 else { return nil }
        defer { close(mem) }
        var page = [UInt8](repeating: 0, count: Int(pageSize))
        let read: Bool = page.withUnsafeMutableBytes { buffer in
            (try? MemoryCapture.readRemote(pid: pid, mem: mem, into: buffer.baseAddress!, address: address, count: buffer.count)) != nil
        }
        return read ? page : nil
    }
}
