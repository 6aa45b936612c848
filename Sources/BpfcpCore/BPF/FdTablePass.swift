import CBpfcpShim
import Foundation

/// The records of one run of bpf/fdtable.bpf.c, which visits each open file
/// of a process once for every fd kind (files, pipes, sockets...), split by
/// record kind. A dump of several fd kinds runs it once and hands it to each
/// kind in `Target.fdTable`, instead of walking the fd table once per kind.
public final class FdTablePass: Sendable {
    public let reader: RecordReader
    private let byKind: [UInt16: [RawRecord]]

    init(_ bytes: [UInt8]) throws {
        reader = RecordReader(bytes)
        byKind = Dictionary(grouping: try reader.records(), by: \.kind)
    }

    /// Runs the shared pass over the fd table of `pid`.
    public static func run(pid: Int32) throws -> FdTablePass {
        try FdTablePass(try BPFRuntime.shared.object("fdtable").iterate("dump_fd_table", pid: pid))
    }

    /// Returns the records of `kinds`, in the order the pass wrote them.
    public func records(_ kinds: [UInt32]) -> [RawRecord] {
        if kinds.count == 1 { return byKind[UInt16(kinds[0])] ?? [] }
        return kinds.flatMap { byKind[UInt16($0)] ?? [] }.sorted { $0.offset < $1.offset }
    }
}

/// The source of an fd kind's BPF records: the dump's shared pass when
/// there is one, otherwise the kind's own iter/task_file program.
enum FdRecords {
    /// Returns a reader and the records of `kinds`, from `shared` or from
    /// running `program` of BPF object `object` for `pid`.
    static func read(_ kinds: [UInt32], pid: Int32, shared: FdTablePass?, object: String,
                     program: String) throws -> (RecordReader, [RawRecord]) {
        if let shared { return (shared.reader, shared.records(kinds)) }
        let reader = RecordReader(try BPFRuntime.shared.object(object).iterate(program, pid: pid))
        let requested = Set(kinds.map { UInt16($0) })
        return (reader, try reader.records().filter { requested.contains($0.kind) })
    }
}
