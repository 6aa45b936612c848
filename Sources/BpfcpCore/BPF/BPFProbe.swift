import CBpfcpShim
import Foundation

/// One program of an embedded BPF object, read from the ELF without loading it.
public struct BPFProgramInfo: Sendable, Equatable {
    public let object: String
    public let name: String
    /// ELF section, which names the program type: "iter/task_file", "iter.s/task".
    public let section: String
    /// Helper ids (enum bpf_func_id) the program calls.
    public let helperIDs: [Int32]

    /// Iterator target ("task", "tcp"...) for iterator programs, nil otherwise.
    public var iteratorTarget: String? {
        for prefix in ["iter/", "iter.s/"] where section.hasPrefix(prefix) {
            return String(section.dropFirst(prefix.count))
        }
        return nil
    }

    public var isSleepable: Bool { section.hasPrefix("iter.s/") }
}

/// Feature probes over the embedded objects, used by `bpfcp check`.
public enum BPFProbe {
    /// Lists the programs of embedded object `object` and the helpers each calls.
    /// Needs no privileges, because the object is only parsed.
    public static func programs(of object: String) throws -> [BPFProgramInfo] {
        var infos = [bpfcp_program_info](repeating: bpfcp_program_info(), count: 64)
        var err = [CChar](repeating: 0, count: 512)
        let n = bpfcp_object_programs(object, &infos, Int32(infos.count), &err, err.count)
        guard n >= 0 else { throw BpfcpError("bpf_object", cString(err)) }

        return infos.prefix(Int(n)).map { info in
            let helpers = withUnsafeBytes(of: info.helpers) { Array($0.bindMemory(to: Int32.self)) }
            return BPFProgramInfo(object: object, name: String(decoding: cStringBytes(info.name), as: UTF8.self),
                                  section: String(decoding: cStringBytes(info.section), as: UTF8.self),
                                  helperIDs: Array(helpers.prefix(Int(info.helper_count))))
        }
    }

    /// The enum bpf_func_id value of a helper such as "bpf_d_path", when this build knows it.
    public static func helperID(_ name: String) -> Int32? {
        let id = bpfcp_helper_id(name)
        return id >= 0 ? id : nil
    }

    /// Asks the kernel through libbpf whether tracing programs may call helper `id`.
    /// Returns nil when the probe cannot tell, as for helpers limited to some attach points.
    public static func tracingHelperSupported(_ id: Int32) -> Bool? {
        let rc = bpfcp_probe_tracing_helper(id)
        return rc < 0 ? nil : rc == 1
    }
}
