import CBpfcpShim

/// One record in an iterator's output: its kind and where its bytes are.
public struct RawRecord: Sendable {
    public let kind: UInt16
    public let offset: Int
    public let size: Int
}

/// Splits iterator output into records and reads their fixed and trailing parts.
public struct RecordReader: Sendable {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Walks the records by their header sizes. A size that is too small or
    /// runs past the end means the stream is corrupt, and reading stops with an error.
    public func records() throws -> [RawRecord] {
        let headerSize = MemoryLayout<bpfcp_rec_hdr>.size
        var result: [RawRecord] = []
        var offset = 0

        try bytes.withUnsafeBytes { buf in
            while offset < buf.count {
                guard buf.count - offset >= headerSize else {
                    throw BpfcpError("bpf_record", "BPF output ends inside a record header at byte \(offset)")
                }
                let hdr = buf.loadUnaligned(fromByteOffset: offset, as: bpfcp_rec_hdr.self)
                let size = Int(hdr.size)
                guard size >= headerSize, size <= buf.count - offset else {
                    throw BpfcpError("bpf_record", "BPF record at byte \(offset) has invalid size \(size)")
                }
                result.append(RawRecord(kind: hdr.kind, offset: offset, size: size))
                offset += size
            }
        }
        return result
    }

    /// Reads the fixed part of a record as `T`, checking that it is long enough.
    public func load<T>(_ record: RawRecord, as type: T.Type) throws -> T {
        guard record.size >= MemoryLayout<T>.size else {
            throw BpfcpError("bpf_record", "BPF record of kind \(record.kind) is \(record.size) bytes, shorter than \(MemoryLayout<T>.size)")
        }
        return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: record.offset, as: T.self) }
    }

    /// Returns up to `count` bytes stored after the fixed part `T` of a record.
    public func trailing<T>(_ record: RawRecord, after type: T.Type, count: Int) -> ArraySlice<UInt8> {
        let start = record.offset + MemoryLayout<T>.size
        let end = min(record.offset + record.size, start + max(0, count))
        return start < end ? bytes[start..<end] : []
    }
}

/// Reads a fixed C `char[N]` field, imported as a tuple, up to its first NUL.
public func cStringBytes<T>(_ tuple: T) -> [UInt8] {
    withUnsafeBytes(of: tuple) { raw in
        let bytes = Array(raw)
        return Array(bytes.prefix { $0 != 0 })
    }
}
