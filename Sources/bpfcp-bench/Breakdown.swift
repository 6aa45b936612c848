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
        let described = try median(runs) { _ = try descriptor("files").collect(try target(pid), .bpf) }
        return Breakdown(name: "files, 10,000 fds", steps: [
            ("iterator run and read (kernel)", iterate),
            ("record parsing into OpenFile values (Swift)", whole > iterate ? whole - iterate : 0),
            ("JSON items and rendered entries added by KindDescriptor, as dump and the TUI call it (not in the ratio)",
             described > whole ? described - whole : 0),
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
        let listing = try median(runs) { _ = try MemoryKind.collectBPF(pid: pid, pageCounts: false) }
        let whole = try median(runs) { _ = try MemoryKind.collectBPF(pid: pid) }
        let parsing = listing > iterate ? listing - iterate : 0
        let dirty = whole > listing + scan ? whole - listing - scan : 0
        let described = try median(runs) { _ = try descriptor("memory").collect(try target(pid), .bpf) }
        return Breakdown(name: "memory areas, 20,000 areas", steps: [
            ("iterator run and read (kernel)", iterate),
            ("PAGEMAP_SCAN page counts", scan),
            ("record parsing and path lookup (Swift)", parsing),
            ("dirty page counts from the vmapages page-table walk (not in the same-fields ratio)", dirty),
            ("JSON items and rendered entries added by KindDescriptor, as dump and the TUI call it (not in the ratio)",
             described > whole ? described - whole : 0),
        ])
    }

    private static func descriptor(_ name: String) throws -> KindDescriptor {
        guard let kind = KindRegistry.named(name) else { throw BenchError("no kind named \(name)") }
        return kind
    }

    private static func target(_ pid: Int32) throws -> Target {
        guard let process = try ProcessListBPF.collect(pid: pid).first else { throw BenchError("process \(pid) not found") }
        return Target(pid: pid, process: process)
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
