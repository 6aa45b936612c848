import Foundation

/// One resource limit.
public struct ResourceLimit: Codable, Sendable, Equatable {
    public var resource: String
    /// Decimal value, or "unlimited" for RLIM_INFINITY.
    public var soft: String
    public var hard: String
    public var unit: String
}

extension ResourceLimit: TreeBuildable {
    /// Builds an item of the limits kind, which restore reads while planning (see `TreeBuildable`).
    init?(tree: JSONValue) {
        guard var object = TreeObject(tree), let resource = object.string("resource"), let soft = object.string("soft"),
              let hard = object.string("hard"), let unit = object.string("unit"), object.isComplete else { return nil }
        self.init(resource: resource, soft: soft, hard: hard, unit: unit)
    }
}

/// Resource limits (signal->rlim through iter/task): every RLIMIT_* with soft and hard values.
public enum LimitsKind: ResourceKind {
    public static let name = "limits"
    public static let title = "Limits"
    public static let columns = [Column("RESOURCE", width: 18), Column("SOFT", width: 20, alignRight: true),
                                 Column("HARD", width: 20, alignRight: true), Column("UNIT", width: 24)]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [ResourceLimit] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid)
        case .proc: try collectProc(pid: target.pid)
        }
    }

    static func value(_ v: UInt64) -> String {
        v == UInt64.max ? "unlimited" : "\(v)"
    }

    public static func collectBPF(pid: Int32) throws -> [ResourceLimit] {
        let limits = try ContextSnapshot.collect(pid: pid).limits
        return zip(ContextNames.rlimits, limits).map { names, limit in
            ResourceLimit(resource: names.name, soft: value(limit.cur), hard: value(limit.max), unit: names.unit)
        }
    }

    /// Parses /proc/PID/limits, whose rows follow the RLIMIT_* numbering.
    public static func collectProc(pid: Int32) throws -> [ResourceLimit] {
        let lines = try ProcFS.readText("/proc/\(pid)/limits").split(separator: "\n").dropFirst()
        return zip(ContextNames.rlimits, lines).map { names, line in
            // Columns: a 26-character name, then soft, hard and units separated by spaces.
            let parts = line.dropFirst(26).split(separator: " ", omittingEmptySubsequences: true)
            return ResourceLimit(resource: names.name, soft: parts.count > 0 ? String(parts[0]) : "",
                                 hard: parts.count > 1 ? String(parts[1]) : "", unit: names.unit)
        }
    }

    public static func entry(_ l: ResourceLimit) -> Entry {
        Entry(key: l.resource, cells: [l.resource, l.soft, l.hard, l.unit],
              fields: [Field("resource", l.resource), Field("soft", l.soft), Field("hard", l.hard), Field("unit", l.unit)])
    }
}
