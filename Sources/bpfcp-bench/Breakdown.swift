import BpfcpCore
import Foundation

/// Splits one eBPF collection into its steps, to show where the time goes.
struct Breakdown {
    let name: String
    let steps: [(String, UInt64)]

    static func files(pid: Int32, runs: Int) throws -> Breakdown {
        let object = try BPFRuntime.shared.object("file")
        let iterate = try median(runs) { _ = try object.iterate("dump_files", pid: pid) }
        let whole = try median(runs) { _ = try FilesKind.collectBPF(pid: pid) }
        return Breakdown(name: "files, 10,000 fds", steps: [
            ("iterator run and read (kernel)", iterate),
            ("record parsing into OpenFile values (Swift)", whole > iterate ? whole - iterate : 0),
        ])
    }

    static func memory(pid: Int32, runs: Int) throws -> Breakdown {
        let object = try BPFRuntime.shared.object("vma")
        let iterate = try median(runs) { _ = try object.iterate("dump_vmas", pid: pid) }
        let areas = try MemoryProc.collect(pid: pid)
        let scan = try median(runs) {
            var copy = areas
            PageCounts.fill(&copy, pid: pid)
        }
        let whole = try median(runs) { _ = try MemoryKind.collectBPF(pid: pid) }
        let rest = whole > iterate + scan ? whole - iterate - scan : 0
        return Breakdown(name: "memory areas, 20,000 areas", steps: [
            ("iterator run and read (kernel)", iterate),
            ("PAGEMAP_SCAN page counts", scan),
            ("record parsing and path lookup (Swift)", rest),
        ])
    }

    private static func median(_ runs: Int, _ body: () throws -> Void) throws -> UInt64 {
        var times: [UInt64] = []
        for _ in 0..<runs {
            let start = Clock.now()
            try body()
            times.append(Clock.now() - start)
        }
        return Measure.median(times)
    }
}
