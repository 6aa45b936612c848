import CBpfcpShim
import Foundation

/// Repeated reads of the whole process list, as bpfcp-top refreshes it.
/// Copying each process's argv out of its memory is most of the cost of a
/// read. So argv is copied only for processes whose command line this cache
/// does not store yet, or whose start time, exec count or argv bounds changed.
/// The `dump_procs_cached` program learns which ones through the
/// `bpfcp_args_held` map, which only this class writes. So that argv
/// rewritten in place (setproctitle) still shows, every read also copies the
/// argv of one pid in `rotationSlices`, in turn.
public final class ProcessListCache: @unchecked Sendable {
    /// The cache of this process. There is one because the map belongs to the
    /// task object, which BPFRuntime loads once per process.
    public static let shared = ProcessListCache()
    public static let program = "dump_procs_cached"
    /// Reads within which every held command line is copied again.
    public static let rotationSlices: UInt32 = 10

    private struct Held {
        let key: bpfcp_args_held
        let commandLine: HeldCommandLine
    }

    private let lock = NSLock()
    private var held: [Int32: Held] = [:]
    private var reads: UInt32 = 0
    private var loggedMapError = false

    private init() {}

    /// Lists every process, as `ProcessListBPF.collect()` does.
    public func collect() throws -> [ProcessEntry] {
        lock.lock()
        defer { lock.unlock() }
        let object = try BPFRuntime.shared.object(ProcessListBPF.object)
        let rotation = bpfcp_args_rotation(slices: Self.rotationSlices, slice: reads % Self.rotationSlices)
        reads &+= 1
        try object.updateMap("bpfcp_args_rotation", key: UInt32(0), value: rotation)
        let bytes = try object.iterate(Self.program)

        var missing: [Int32] = []
        var copied: [(bpfcp_proc, HeldCommandLine)] = []
        var entries = try ProcessListBPF.parse(bytes, heldCommandLine: { rec in
            if let known = self.held[rec.pid] { return known.commandLine }
            missing.append(rec.pid)
            return nil
        }, copied: { copied.append(($0, $1)) })

        for (rec, commandLine) in copied {
            store(rec, commandLine, object: object)
        }
        try refetch(missing, into: &entries, object: object)
        forgetExited(listed: entries, object: object)
        return entries
    }

    /// Stores a copied command line and, unless the copy failed, adds its key to the bpfcp_args_held map.
    private func store(_ rec: bpfcp_proc, _ commandLine: HeldCommandLine, object: BPFObject) {
        let key = bpfcp_args_held(start_boottime_ns: rec.start_boottime_ns, self_exec_id: rec.self_exec_id,
                                  arg_start: rec.arg_start, arg_end: rec.arg_end)
        let known = held[rec.pid].map { Self.same($0.key, key) } ?? false
        held[rec.pid] = Held(key: key, commandLine: commandLine)
        guard !known, rec.args_err == 0 else { return }
        do {
            try object.updateMap("bpfcp_args_held", key: rec.pid, value: key)
        } catch {
            // A full map (65,536 entries) only means more copying.
            if !loggedMapError { Log.shared.write("process list: command line of \(rec.pid) stays uncached: \(error)") }
            loggedMapError = true
        }
    }

    /// Reads again, one by one, the processes that the program found in the
    /// map but this cache does not store. No path here leaves the two
    /// disagreeing, so this is a safety net, and it also drops the map entry.
    private func refetch(_ pids: [Int32], into entries: inout [ProcessEntry], object: BPFObject) throws {
        for pid in pids {
            try? object.deleteMapEntry("bpfcp_args_held", key: pid)
            guard let fresh = try ProcessListBPF.collect(pid: pid).first(where: { $0.pid == pid }),
                  let index = entries.firstIndex(where: { $0.pid == pid }) else { continue }
            entries[index].commandLine = fresh.commandLine
            entries[index].argvTruncated = fresh.argvTruncated
        }
    }

    /// Drops the command lines of processes that are no longer listed.
    private func forgetExited(listed: [ProcessEntry], object: BPFObject) {
        let alive = Set(listed.map(\.pid))
        for pid in held.keys where !alive.contains(pid) {
            held[pid] = nil
            try? object.deleteMapEntry("bpfcp_args_held", key: pid)
        }
    }

    private static func same(_ a: bpfcp_args_held, _ b: bpfcp_args_held) -> Bool {
        a.start_boottime_ns == b.start_boottime_ns && a.self_exec_id == b.self_exec_id
            && a.arg_start == b.arg_start && a.arg_end == b.arg_end
    }
}
