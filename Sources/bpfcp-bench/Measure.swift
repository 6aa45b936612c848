import BpfcpCore
import Foundation

/// Median times of one workload read by both collectors: wall time, and the
/// CPU time of the calling thread (user and kernel), which other load on the
/// machine disturbs less.
struct Comparison {
    let name: String
    let items: Int
    let bpfNs: UInt64
    let procNs: UInt64
    let bpfCpuNs: UInt64
    let procCpuNs: UInt64

    var ratio: Double { Double(procNs) / Double(max(bpfNs, 1)) }
    var cpuRatio: Double { Double(procCpuNs) / Double(max(bpfCpuNs, 1)) }
}

/// One timed call: wall and thread CPU nanoseconds.
struct Sample {
    let wallNs: UInt64
    let cpuNs: UInt64
}

enum Measure {
    /// Runs `bpf` and `proc` alternately `runs` times after one warm-up call of
    /// each, and returns the median of each. The warm-up call also loads the
    /// BPF object, whose cost is reported separately.
    static func compare(_ name: String, runs: Int, bpf: () throws -> Int, proc: () throws -> Int) throws -> Comparison {
        let items = try bpf()
        _ = try proc()
        var bpfTimes: [Sample] = []
        var procTimes: [Sample] = []

        for _ in 0..<runs {
            bpfTimes.append(try time(bpf))
            procTimes.append(try time(proc))
        }
        return Comparison(name: name, items: items,
                          bpfNs: median(bpfTimes.map(\.wallNs)), procNs: median(procTimes.map(\.wallNs)),
                          bpfCpuNs: median(bpfTimes.map(\.cpuNs)), procCpuNs: median(procTimes.map(\.cpuNs)))
    }

    static func time(_ body: () throws -> Int) throws -> Sample {
        let start = Clock.now()
        let cpuStart = threadCPU()
        _ = try body()
        return Sample(wallNs: Clock.now() - start, cpuNs: threadCPU() - cpuStart)
    }

    static func threadCPU() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func median(_ values: [UInt64]) -> UInt64 {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }
}
