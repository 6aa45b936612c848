import CBpfcpShim
import Foundation

/// Content hashes of a pages section: one 64-bit hash per page of its
/// payload, in payload order, so hash N covers payload bytes
/// N × pageSize ..< (N + 1) × pageSize. Diffs compare pages through these
/// hashes without reading the pages again.
public struct PageHashes: Sendable, Equatable {
    public var pageSize: UInt64
    public var values: [UInt64]

    public init(pageSize: UInt64, values: [UInt64]) {
        self.pageSize = pageSize
        self.values = values
    }

    /// Returns the hash of the stored page at payload byte `offset`, or nil past the end.
    public func hash(atPayloadOffset offset: UInt64) -> UInt64? {
        let index = offset / pageSize
        return index < UInt64(values.count) ? values[Int(index)] : nil
    }

    /// Encodes the payload of the hashes section: each hash as 8 little-endian bytes.
    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 8)
        for value in values { appendLE(&bytes, value) }
        return bytes
    }

    /// Decodes a hashes payload and checks that it has one hash per page of `pagesLength` payload bytes.
    static func decode(_ payload: [UInt8], pageSize: UInt64, pagesLength: UInt64, section: String) throws -> PageHashes {
        let expected = pagesLength / pageSize
        guard payload.count % 8 == 0, UInt64(payload.count / 8) == expected else {
            throw ImageError.section(section, "has an invalid length of \(payload.count) bytes: the pages section needs \(expected) hashes of 8 bytes")
        }
        let values = payload.withUnsafeBytes { raw in
            (0..<payload.count / 8).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self)) }
        }
        return PageHashes(pageSize: pageSize, values: values)
    }

    /// Hashes every page of `store`, for checkpoints that came without hashes (images of format 1).
    static func compute(_ store: PageStore, pageSize: UInt64, payloadLength: UInt64) throws -> PageHashes {
        let hasher = PageHasher(pageSize: Int(pageSize))
        let chunk = UInt64(4 << 20)
        var offset: UInt64 = 0
        while offset < payloadLength {
            let bytes = try store.read(offset: offset, count: Int(min(chunk, payloadLength - offset)))
            bytes.withUnsafeBytes { hasher.add($0.baseAddress!, count: $0.count) }
            offset += UInt64(bytes.count)
        }
        return hasher.finish()
    }
}

/// Hashes a page payload while it is written, page by page. Chunks may
/// end inside a page: the bytes of that page wait until it is complete.
final class PageHasher {
    let pageSize: Int
    private var values: [UInt64] = []
    private var partial: [UInt8] = []

    init(pageSize: Int) {
        self.pageSize = pageSize
    }

    func add(_ pointer: UnsafeRawPointer, count: Int) {
        var start = 0
        if !partial.isEmpty {
            let take = min(pageSize - partial.count, count)
            partial.append(contentsOf: UnsafeRawBufferPointer(start: pointer, count: take))
            start = take
            if partial.count == pageSize {
                values.append(partial.withUnsafeBytes { bpfcp_page_hash($0.baseAddress, pageSize) })
                partial.removeAll(keepingCapacity: true)
            }
        }

        let whole = (count - start) / pageSize
        if whole > 0 {
            let first = values.count
            values.append(contentsOf: repeatElement(0, count: whole))
            values.withUnsafeMutableBufferPointer {
                bpfcp_page_hashes(pointer + start, whole, pageSize, $0.baseAddress! + first)
            }
            start += whole * pageSize
        }
        if start < count {
            partial.append(contentsOf: UnsafeRawBufferPointer(start: pointer + start, count: count - start))
        }
    }

    /// Returns the hashes; a last incomplete page is hashed as if padded with zeros.
    func finish() -> PageHashes {
        if !partial.isEmpty {
            partial.append(contentsOf: repeatElement(0, count: pageSize - partial.count))
            values.append(partial.withUnsafeBytes { bpfcp_page_hash($0.baseAddress, pageSize) })
            partial.removeAll()
        }
        return PageHashes(pageSize: UInt64(pageSize), values: values)
    }
}
