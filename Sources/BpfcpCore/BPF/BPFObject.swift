import CBpfcpShim
import Foundation

/// One loaded BPF object from the set embedded in the binary. Closed in `deinit`.
public final class BPFObject: @unchecked Sendable {
    public let name: String
    /// Wall time that opening and loading took (BTF parse and verification).
    public let loadNanoseconds: UInt64
    private let raw: OpaquePointer

    init(name: String) throws {
        var err = [CChar](repeating: 0, count: 512)
        let start = Clock.now()
        guard let obj = bpfcp_object_load(name, &err, err.count) else {
            let reason = cString(err)
            throw BpfcpError.bpfUnavailable(reason.isEmpty ? "loading \(name) failed" : reason)
        }
        self.raw = obj
        self.name = name
        self.loadNanoseconds = Clock.now() - start
    }

    deinit {
        bpfcp_object_close(raw)
    }

    public func hasProgram(_ program: String) -> Bool {
        bpfcp_object_has_program(raw, program) == 1
    }

    /// Runs iterator `program` once, limited to process `pid` when given, and returns its output.
    public func iterate(_ program: String, pid: Int32? = nil) throws -> [UInt8] {
        var err = [CChar](repeating: 0, count: 512)
        var out: UnsafeMutableRawPointer?
        let n = bpfcp_iter_run(raw, program, pid ?? 0, &out, &err, err.count)
        guard n >= 0, let out else {
            throw BpfcpError("bpf_iterator", cString(err))
        }
        defer { free(out) }
        return Array(UnsafeRawBufferPointer(start: out, count: n))
    }

    /// Stores `value` under `key` in map `map` of this object, to pass settings to the next iterator run.
    public func updateMap<Key: BitwiseCopyable, Value: BitwiseCopyable>(_ map: String, key: Key, value: Value) throws {
        let result = withUnsafeBytes(of: key) { keyBytes in
            withUnsafeBytes(of: value) { valueBytes in
                bpfcp_object_map_update(raw, map, keyBytes.baseAddress, valueBytes.baseAddress)
            }
        }
        guard result == 0 else {
            throw BpfcpError.system("updating BPF map \(map) of object \(name)", -result)
        }
    }

    /// Stores every key of `keys` in hash map `map` with the same `value`, in one batch.
    public func fillMap<Key: BitwiseCopyable, Value: BitwiseCopyable>(_ map: String, keys: [Key], value: Value) throws {
        let result = keys.withUnsafeBytes { bytes in
            withUnsafeBytes(of: value) { valueBytes in
                bpfcp_object_map_fill(raw, map, bytes.baseAddress, UInt32(keys.count), valueBytes.baseAddress)
            }
        }
        guard result == 0 else {
            throw BpfcpError.system("filling BPF map \(map) of object \(name) with \(keys.count) keys", -result)
        }
    }

    /// Deletes every key of `keys` from hash map `map`, in one batch.
    public func deleteKeys<Key>(_ map: String, keys: [Key]) throws {
        let result = keys.withUnsafeBytes { bytes in
            bpfcp_object_map_delete(raw, map, bytes.baseAddress, UInt32(keys.count))
        }
        guard result == 0 else {
            throw BpfcpError.system("deleting \(keys.count) keys from BPF map \(map) of object \(name)", -result)
        }
    }

    /// Removes `key` from map `map` of this object. A missing key is no error.
    public func deleteMapEntry<Key>(_ map: String, key: Key) throws {
        let result = [key].withUnsafeBytes { bytes in
            bpfcp_object_map_delete(raw, map, bytes.baseAddress, 1)
        }
        guard result == 0 || result == -ENOENT else {
            throw BpfcpError.system("deleting from BPF map \(map) of object \(name)", -result)
        }
    }

    /// Attaches iterator `program` and creates one iterator without reading it,
    /// which shows that the kernel supports the program's iterator target.
    public func probeIterator(_ program: String, pid: Int32? = nil) throws {
        var err = [CChar](repeating: 0, count: 512)
        guard bpfcp_iter_probe(raw, program, pid ?? 0, &err, err.count) == 0 else {
            throw BpfcpError("bpf_iterator", cString(err))
        }
    }
}

/// Loads each embedded object on first use and keeps it for the life of the
/// process, since a load costs 75-150 ms and an iterator run microseconds.
/// Each object has its own lock, so different objects load in parallel.
public final class BPFRuntime: @unchecked Sendable {
    public static let shared = BPFRuntime()

    private final class Slot: @unchecked Sendable {
        let lock = NSLock()
        var result: Result<BPFObject, BpfcpError>?
    }

    private let lock = NSLock()
    private var slots: [String: Slot] = [:]

    private init() {
        // libbpf's debug level (2) writes hundreds of lines per object load,
        // so it reaches the log only when BPFCP_DEBUG is set.
        let debug = ProcessInfo.processInfo.environment["BPFCP_DEBUG"] != nil
        bpfcp_set_log(debug ? BPFRuntime.logAll : BPFRuntime.logWarnings)
    }

    private static let logAll: bpfcp_log_fn = { level, message in
        guard let message else { return }
        Log.shared.write("libbpf[\(level)]: " + String(cString: message).trimmingCharacters(in: .newlines))
    }

    /// Keeps libbpf's warnings (0) and information (1), the levels of enum libbpf_print_level below debug.
    private static let logWarnings: bpfcp_log_fn = { level, message in
        guard level < 2, let message else { return }
        Log.shared.write("libbpf[\(level)]: " + String(cString: message).trimmingCharacters(in: .newlines))
    }

    /// Names of all BPF objects built into this binary.
    public static var embeddedObjects: [String] {
        (0..<bpfcp_object_count()).compactMap { bpfcp_object_name($0).map { String(cString: $0) } }
    }

    public func object(_ name: String) throws -> BPFObject {
        let slot = self.slot(name)
        slot.lock.lock()
        defer { slot.lock.unlock() }
        if let cached = slot.result {
            return try cached.get()
        }
        let result: Result<BPFObject, BpfcpError>
        do {
            result = .success(try BPFObject(name: name))
        } catch let error as BpfcpError {
            result = .failure(error)
        } catch {
            result = .failure(BpfcpError.bpfUnavailable("\(error)"))
        }
        slot.result = result
        return try result.get()
    }

    /// Loads `names` on parallel threads, so that the first dump does not
    /// pay each load in turn. Failures are kept and reported on first use.
    public func preload(_ names: [String] = BPFRuntime.embeddedObjects) {
        DispatchQueue.concurrentPerform(iterations: names.count) { i in
            _ = try? object(names[i])
        }
    }

    /// Load times of the objects loaded so far, in nanoseconds. Objects still
    /// loading are left out rather than waited for, so a UI thread never blocks here.
    public var loadTimes: [String: UInt64] {
        lock.lock()
        let current = slots
        lock.unlock()
        return current.compactMapValues { slot in
            guard slot.lock.try() else { return nil }
            defer { slot.lock.unlock() }
            return try? slot.result?.get().loadNanoseconds
        }
    }

    private func slot(_ name: String) -> Slot {
        lock.lock()
        defer { lock.unlock() }
        if let existing = slots[name] { return existing }
        let created = Slot()
        slots[name] = created
        return created
    }
}

/// Converts a NUL-terminated C buffer to a String.
func cString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
