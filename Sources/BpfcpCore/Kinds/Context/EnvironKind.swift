import CBpfcpShim
import Foundation

/// One environment variable, escaped.
public struct EnvironmentVariable: Codable, Sendable, Equatable {
    public var name: String
    public var value: String
    /// False for the last variable when the environment was longer than the collector reads.
    public var complete: Bool
}

/// Environment variables (mm->env_start..env_end through iter.s/task). They
/// often contain secrets, so this kind is opt-in: `KindRegistry.optIn`, never in the default dump.
public enum EnvironKind: ResourceKind {
    public static let name = "environ"
    public static let title = "Environ"
    public static let columns = [Column("NAME", width: 28), Column("VALUE", width: 60)]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [EnvironmentVariable] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid)
        case .proc: parse(try ProcFS.readBytes("/proc/\(target.pid)/environ"), complete: true)
        }
    }

    public static func collectBPF(pid: Int32) throws -> [EnvironmentVariable] {
        let bytes = try BPFRuntime.shared.object("procctx").iterate("dump_environ", pid: pid)
        let reader = RecordReader(bytes)
        var block: [UInt8] = []
        var total: UInt64 = 0
        for record in try reader.records() where Int(record.kind) == Int(BPFCP_REC_ENV_CHUNK.rawValue) {
            let rec = try reader.load(record, as: bpfcp_env_chunk.self)
            guard rec.err == 0, Int(rec.offset) == block.count else { break }
            block += reader.trailing(record, after: bpfcp_env_chunk.self, count: Int(rec.len))
            total = rec.total
        }
        return parse(block, complete: UInt64(block.count) >= total)
    }

    /// Splits a NUL-separated environment block at the first '=' of each entry.
    static func parse(_ block: [UInt8], complete: Bool) -> [EnvironmentVariable] {
        let entries = block.split(separator: 0, omittingEmptySubsequences: true)
        return entries.enumerated().map { index, entry in
            let equals = entry.firstIndex(of: UInt8(ascii: "=")) ?? entry.endIndex
            let value = equals < entry.endIndex ? Array(entry[(equals + 1)...]) : []
            return EnvironmentVariable(name: Escape.bytes(Array(entry[..<equals])), value: Escape.bytes(value),
                                       complete: complete || index < entries.count - 1)
        }
    }

    public static func entry(_ v: EnvironmentVariable) -> Entry {
        let value = v.complete ? v.value : v.value + " [truncated]"
        return Entry(key: "env \(v.name)", cells: [v.name, value], fields: [Field("name", v.name), Field("value", value)])
    }
}
