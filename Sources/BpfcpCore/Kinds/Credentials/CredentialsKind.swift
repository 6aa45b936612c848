import CBpfcpShim
import Foundation

/// Credentials of one thread.
public struct ThreadCredentials: Codable, Sendable, Equatable {
    public var tid: Int32
    /// Real, effective, saved and file-system uid, in that order; the same for `gids`.
    public var uids: [UInt32]
    public var gids: [UInt32]
    public var groups: [UInt32]
    /// True when the kernel has more supplementary groups than the collector copied.
    public var groupsTruncated: Bool
    public var capEffective: [String]
    public var capPermitted: [String]
    public var capInheritable: [String]
    public var capBounding: [String]
    public var capAmbient: [String]
    public var noNewPrivs: Bool
    /// SECBIT_* names; nil from /proc, which does not show them.
    public var securebits: [String]?
    /// "disabled", "strict" or "filter".
    public var seccompMode: String
    public var seccompFilters: Int
    /// Instructions in each filter, newest first; nil from /proc.
    public var seccompFilterLengths: [UInt32]?
}

/// Credentials (iter/task): ids, groups, capability sets, securebits, no_new_privs and seccomp, per thread.
public enum CredentialsKind: ResourceKind {
    public static let name = "credentials"
    public static let title = "Thread credentials"
    public static let columns = [
        Column("TID", width: 8, alignRight: true), Column("UID r/e/s/fs", width: 22), Column("GID r/e/s/fs", width: 22),
        Column("GROUPS", width: 16), Column("CAPEFF", width: 10), Column("NNP", width: 4), Column("SECCOMP", width: 16),
    ]

    public static func collect(_ target: Target, source: CollectorSource) throws -> [ThreadCredentials] {
        switch source {
        case .bpf: try collectBPF(pid: target.pid)
        case .proc: try CredentialsProc.collect(pid: target.pid)
        }
    }

    public static func collectBPF(pid: Int32) throws -> [ThreadCredentials] {
        let bytes = try BPFRuntime.shared.object("cred").iterate("dump_creds", pid: pid)
        let reader = RecordReader(bytes)
        let items = try reader.records().filter { Int($0.kind) == Int(BPFCP_REC_CRED.rawValue) }.map { record in
            let rec = try reader.load(record, as: bpfcp_cred.self)
            let raw = reader.trailing(record, after: bpfcp_cred.self, count: Int(rec.groups_len) * 4)
            let groups = stride(from: raw.startIndex, to: raw.endIndex - 3, by: 4).map { i in
                UInt32(raw[i]) | UInt32(raw[i + 1]) << 8 | UInt32(raw[i + 2]) << 16 | UInt32(raw[i + 3]) << 24
            }
            return credentials(rec, groups: groups)
        }
        guard !items.isEmpty else { throw BpfcpError.noSuchProcess(pid) }
        return items.sorted { $0.tid < $1.tid }
    }

    private static func credentials(_ rec: bpfcp_cred, groups: [UInt32]) -> ThreadCredentials {
        let lengths = withUnsafeBytes(of: rec.filter_len) { Array($0.bindMemory(to: UInt32.self)) }
        return ThreadCredentials(
            tid: rec.tid,
            uids: [rec.uid, rec.euid, rec.suid, rec.fsuid], gids: [rec.gid, rec.egid, rec.sgid, rec.fsgid],
            groups: groups, groupsTruncated: Int(rec.ngroups) > groups.count,
            capEffective: CredentialNames.capabilityNames(rec.cap_effective),
            capPermitted: CredentialNames.capabilityNames(rec.cap_permitted),
            capInheritable: CredentialNames.capabilityNames(rec.cap_inheritable),
            capBounding: CredentialNames.capabilityNames(rec.cap_bset),
            capAmbient: CredentialNames.capabilityNames(rec.cap_ambient),
            noNewPrivs: rec.no_new_privs != 0,
            securebits: CredentialNames.securebitNames(rec.securebits),
            seccompMode: CredentialNames.seccompMode(rec.seccomp_mode),
            seccompFilters: Int(rec.seccomp_filter_count),
            seccompFilterLengths: Array(lengths.prefix(Int(rec.seccomp_listed)))
        )
    }

    public static func entry(_ c: ThreadCredentials) -> Entry {
        let ids = { (v: [UInt32]) in v.map(String.init).joined(separator: "/") }
        let caps = { (v: [String]) in v.count == CredentialNames.capabilities.count ? "all" : v.joined(separator: "|").ifEmpty("none") }
        let seccomp = c.seccompMode == "filter" ? "filter (\(c.seccompFilters))" : c.seccompMode
        let groups = c.groups.map(String.init).joined(separator: ",").ifEmpty("none") + (c.groupsTruncated ? ",..." : "")
        let fields = [
            Field("tid", "\(c.tid)"), Field("uid (real/effective/saved/fs)", ids(c.uids)),
            Field("gid (real/effective/saved/fs)", ids(c.gids)), Field("supplementary groups", groups),
            Field("effective capabilities", caps(c.capEffective)), Field("permitted capabilities", caps(c.capPermitted)),
            Field("inheritable capabilities", caps(c.capInheritable)), Field("bounding set", caps(c.capBounding)),
            Field("ambient capabilities", caps(c.capAmbient)), Field("no_new_privs", c.noNewPrivs ? "yes" : "no"),
            Field("securebits", c.securebits.map { $0.joined(separator: "|").ifEmpty("none") } ?? "unknown"),
            Field("seccomp mode", c.seccompMode), Field("seccomp filters", "\(c.seccompFilters)"),
            Field("seccomp filter lengths", c.seccompFilterLengths.map { $0.map { "\($0) insns" }.joined(separator: ", ").ifEmpty("none") } ?? "unknown"),
        ]
        let capCell = c.capEffective.count == CredentialNames.capabilities.count ? "all" : "\(c.capEffective.count) caps"
        return Entry(key: "thread \(c.tid)", cells: ["\(c.tid)", ids(c.uids), ids(c.gids), groups, capCell,
                                                     c.noNewPrivs ? "yes" : "no", seccomp], fields: fields)
    }
}

/// Reads credentials from /proc/PID/task/TID/status.
enum CredentialsProc {
    static func collect(pid: Int32) throws -> [ThreadCredentials] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else {
            throw BpfcpError.noSuchProcess(pid)
        }
        return names.compactMap { Int32($0) }.sorted().compactMap { tid in
            guard let text = try? ProcFS.readText("/proc/\(pid)/task/\(tid)/status") else { return nil }
            return credentials(tid: tid, status: ProcFS.keyValues(text))
        }
    }

    static func credentials(tid: Int32, status: [String: String]) -> ThreadCredentials {
        let numbers = { (key: String) in (status[key] ?? "").split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { UInt32($0) } }
        let caps = { (key: String) in CredentialNames.capabilityNames(UInt64(status[key] ?? "0", radix: 16) ?? 0) }
        return ThreadCredentials(
            tid: tid, uids: numbers("Uid"), gids: numbers("Gid"), groups: numbers("Groups"), groupsTruncated: false,
            capEffective: caps("CapEff"), capPermitted: caps("CapPrm"), capInheritable: caps("CapInh"),
            capBounding: caps("CapBnd"), capAmbient: caps("CapAmb"),
            noNewPrivs: status["NoNewPrivs"] == "1", securebits: nil,
            seccompMode: CredentialNames.seccompMode(Int32(status["Seccomp"] ?? "0") ?? 0),
            seccompFilters: Int(status["Seccomp_filters"] ?? "0") ?? 0, seccompFilterLengths: nil
        )
    }
}
