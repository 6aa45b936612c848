import CBpfcpShim
import Foundation

/// The on-disk framing shared by every file of an image: a 32-byte header
/// followed by the payload. All integers are little-endian.
///
///     0  8  magic "BPFCPIMG"
///     8  4  format version
///    12  4  section type
///    16  8  payload length in bytes
///    24  4  CRC32C of the payload
///    28  4  CRC32C of header bytes 0..<28
public enum ImageFormat {
    public static let magic: [UInt8] = Array("BPFCPIMG".utf8)
    /// The format this build writes and the newest it reads.
    /// Version 2 added the hashes section; version 1 images are read without page hashes.
    public static let version: UInt32 = 2
    public static let headerSize = 32
}

/// What a section file contains. Numbers are stored in the header and never reused.
public enum SectionType: UInt32, Sendable, CaseIterable {
    case manifest = 1
    case process = 2
    case threads = 3
    case memory = 4
    case pages = 5
    case queues = 6
    case hashes = 7

    public var label: String {
        switch self {
        case .manifest: "manifest"
        case .process: "process"
        case .threads: "threads"
        case .memory: "memory"
        case .pages: "pages"
        case .queues: "queues"
        case .hashes: "hashes"
        }
    }
}

/// A decoded section header.
public struct SectionHeader: Equatable, Sendable {
    public var version: UInt32
    public var type: UInt32
    public var payloadLength: UInt64
    public var payloadCrc: UInt32

    public func encoded() -> [UInt8] {
        var bytes = ImageFormat.magic
        append(&bytes, version)
        append(&bytes, type)
        append(&bytes, payloadLength)
        append(&bytes, payloadCrc)
        append(&bytes, CRC32C.checksum(bytes))
        return bytes
    }

    /// Parses and checks a header; `name` is the section named in errors.
    public static func decode(_ bytes: [UInt8], section name: String) throws -> SectionHeader {
        guard bytes.count >= ImageFormat.headerSize else {
            throw ImageError.section(name, "is truncated: \(bytes.count) of \(ImageFormat.headerSize) header bytes")
        }
        guard Array(bytes[0..<8]) == ImageFormat.magic else {
            throw ImageError.section(name, "has no bpfcp image magic: the file is not a bpfcp section")
        }
        let stored = readLE32(bytes, 28)
        guard CRC32C.checksum(bytes[0..<28]) == stored else {
            throw ImageError.section(name, "has a corrupt header: its checksum does not match")
        }
        let header = SectionHeader(version: readLE32(bytes, 8), type: readLE32(bytes, 12),
                                   payloadLength: readLE64(bytes, 16), payloadCrc: readLE32(bytes, 24))
        guard header.version <= ImageFormat.version else {
            throw ImageError.section(name, "was written in image format \(header.version), newer than this bpfcp reads",
                                     fix: ImageError.newerFormat(header.version))
        }
        guard header.version >= 1 else {
            throw ImageError.section(name, "has invalid format version 0")
        }
        return header
    }
}

/// CRC32C (Castagnoli), computed in the C shim.
public enum CRC32C {
    public static func checksum<C: Collection>(_ bytes: C, continuing crc: UInt32 = 0) -> UInt32 where C.Element == UInt8 {
        let contiguous = bytes.withContiguousStorageIfAvailable { buffer in
            bpfcp_crc32c(crc, buffer.baseAddress, buffer.count)
        }
        if let contiguous { return contiguous }
        return Array(bytes).withUnsafeBufferPointer { bpfcp_crc32c(crc, $0.baseAddress, $0.count) }
    }

    public static func checksum(_ pointer: UnsafeRawPointer, count: Int, continuing crc: UInt32) -> UInt32 {
        bpfcp_crc32c(crc, pointer, count)
    }

    public static func hex(_ crc: UInt32) -> String {
        let digits = String(crc, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// A failure to read an image, always naming the section, the reason and what to do.
public enum ImageError {
    /// The fix for an image whose bytes are damaged, truncated or mixed up.
    public static let damaged = "the image is damaged: take the checkpoint again into a new directory"

    /// Returns the error for section `name`. `CheckpointImage` adds the image
    /// directory in front with `located(_:in:)`.
    public static func section(_ name: String, _ why: String, fix: String = damaged) -> BpfcpError {
        BpfcpError("bad_image", "section '\(name)' \(why); \(fix)")
    }

    /// Returns the fix for an image written in a newer format than this build reads.
    static func newerFormat(_ version: UInt32) -> String {
        "use a bpfcp version that reads image format \(version) (this one reads formats 1 to \(ImageFormat.version))"
    }

    public static func notImage(_ dir: String, _ why: String) -> BpfcpError {
        BpfcpError("not_an_image", "\(Escape.text(dir)) is not a bpfcp image: \(why)")
    }

    /// Returns `error` with the image directory `dir` in front when it is a
    /// `section` error that does not name a directory yet, and `error` unchanged otherwise.
    static func located(_ error: Error, in dir: String) -> Error {
        guard let error = error as? BpfcpError, error.code == "bad_image", error.message.hasPrefix("section '") else { return error }
        return BpfcpError(error.code, "image \(Escape.text(dir)): \(error.message)")
    }
}

/// Writes one section file: the header is reserved first and filled in by
/// `finish()`, so payloads of any size stream through without being held in memory.
///
/// Bytes written with `appendDeferred`, or by another process
/// (`adoptWritten`), are checksummed on a serial queue. `append`, `finish` and `crc` wait for that queue first,
/// so one thread at a time may call them.
final class SectionWriter: @unchecked Sendable {
    let path: String
    let type: SectionType
    let fd: Int32
    private(set) var length: UInt64 = 0
    private var payloadCrc: UInt32 = 0
    private var finished = false
    /// Set on the pages section, to hash each page as it is appended.
    var hasher: PageHasher?
    /// Start the writeback of each appended range at once (sync_file_range),
    /// so that the final fsync of a large section waits for less.
    var startsWriteback = false
    /// Checksums adopted bytes in order, off the thread that writes.
    private let digests = DispatchQueue(label: "bpfcp.section-digest")
    /// The first error of a digest on `digests`, thrown by the next `append` or `finish`.
    private var digestError: BpfcpError?

    /// CRC32C of the payload so far.
    var crc: UInt32 {
        digests.sync {}
        return payloadCrc
    }

    /// File offset where the next payload byte goes.
    var endOffset: UInt64 { UInt64(ImageFormat.headerSize) + length }

    init(path: String, type: SectionType) throws {
        self.path = path
        self.type = type
        // Readable too, so that `adoptWritten` can map the bytes another process wrote.
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BpfcpError.system("creating \(Escape.text(path))", errno) }
        try writeAll(fd, [UInt8](repeating: 0, count: ImageFormat.headerSize), path: path)
    }

    deinit {
        close(fd)
    }

    func append(_ bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { return }
        try bytes.withUnsafeBytes { try append($0.baseAddress!, count: $0.count) }
    }

    func append(_ pointer: UnsafeRawPointer, count: Int) throws {
        guard count > 0 else { return }
        try waitDigests()
        payloadCrc = CRC32C.checksum(pointer, count: count, continuing: payloadCrc)
        hasher?.add(pointer, count: count)
        // At an explicit offset, since `adoptWritten` moves the end without moving this file position.
        try pwriteAll(fd, UnsafeRawBufferPointer(start: pointer, count: count), at: endOffset, path: path)
        if startsWriteback { startWriteback(at: endOffset, count: count) }
        length += UInt64(count)
    }

    /// Writes `count` bytes at the end of the payload and leaves their
    /// checksum and page hashes to the thread of `adoptWritten`, which reads
    /// them back from the file. `pointer` may be reused on return.
    func appendDeferred(_ pointer: UnsafeRawPointer, count: Int) throws {
        guard count > 0 else { return }
        try pwriteAll(fd, UnsafeRawBufferPointer(start: pointer, count: count), at: endOffset, path: path)
        adoptWritten(count: count)
    }

    /// Starts writing `count` bytes at file offset `offset` to disk, without waiting for them.
    private func startWriteback(at offset: UInt64, count: Int) {
        let syncFileRange = 277
        let syncFileRangeWrite = 2
        _ = bpfcp_syscall6(syncFileRange, Int(fd), Int(offset), count, syncFileRangeWrite, 0, 0)
    }

    /// Takes in `count` bytes that another process has written at
    /// `endOffset` through its own descriptor of this file. Their checksum
    /// and page hashes are computed from the file on another thread, which
    /// also starts their writeback with `startsWriteback`.
    func adoptWritten(count: Int) {
        guard count > 0 else { return }
        let offset = endOffset
        let writeback = startsWriteback
        length += UInt64(count)
        digests.async { [self] in
            do {
                try digestFile(at: offset, count: count, writeback: writeback)
            } catch let error as BpfcpError {
                if digestError == nil { digestError = error }
            } catch {}
        }
    }

    private func waitDigests() throws {
        digests.sync {}
        if let digestError { throw digestError }
    }

    /// Checksums and hashes file bytes `offset..<offset + count`, reading them through a mapping of the file.
    private func digestFile(at offset: UInt64, count: Int, writeback: Bool) throws {
        let pageSize = UInt64(sysconf(Int32(_SC_PAGESIZE)))
        let mapStart = offset & ~(pageSize - 1)
        let skip = Int(offset - mapStart)
        guard let mapped = mmap(nil, skip + count, PROT_READ, MAP_SHARED, fd, off_t(mapStart)), mapped != MAP_FAILED else {
            throw BpfcpError.system("mapping \(count) bytes of \(Escape.text(path)) at \(offset)", errno)
        }
        defer { munmap(mapped, skip + count) }
        _ = madvise(mapped, skip + count, MADV_SEQUENTIAL)

        // Slices small enough that the hash reads from the cache what the checksum just brought in.
        let slice = 256 << 10
        var done = 0
        while done < count {
            let bytes = mapped + skip + done
            let n = min(slice, count - done)
            payloadCrc = CRC32C.checksum(bytes, count: n, continuing: payloadCrc)
            hasher?.add(bytes, count: n)
            done += n
        }
        if writeback { startWriteback(at: offset, count: count) }
    }

    /// Writes the header. Nothing is durable until `syncFile(_:)` runs on
    /// the path. Returns the header written.
    @discardableResult
    func finish() throws -> SectionHeader {
        try waitDigests()
        let header = SectionHeader(version: ImageFormat.version, type: type.rawValue, payloadLength: length, payloadCrc: payloadCrc)
        guard !finished else { return header }
        let bytes = header.encoded()
        let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard written == bytes.count else { throw BpfcpError.system("writing the header of \(Escape.text(path))", errno) }
        finished = true
        return header
    }

    /// Writes a whole section holding `payload` in one go, not yet synced.
    static func write(_ payload: [UInt8], type: SectionType, to path: String) throws -> SectionHeader {
        let writer = try SectionWriter(path: path, type: type)
        try writer.append(payload)
        return try writer.finish()
    }
}

/// Flushes the file at `path` to disk with fsync. For a directory, this makes its entries durable.
func syncFile(_ path: String) throws {
    let fd = open(path.isEmpty ? "." : path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw BpfcpError.system("opening \(Escape.text(path)) to sync it", errno) }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw BpfcpError.system("syncing \(Escape.text(path))", errno) }
}

/// Reads and verifies section files. Never trusts a length before comparing it with the file size.
enum SectionReader {
    /// Reads the header of `path` and checks type, length and payload checksum.
    /// The payload is mapped rather than copied, since it can be gigabytes of pages.
    /// NOTE: a file truncated by someone else while it is checked raises SIGBUS.
    static func verify(path: String, section name: String, expected: SectionType) throws -> SectionHeader {
        let fd = try openSection(path, section: name)
        defer { close(fd) }
        let header = try readHeader(fd, path: path, section: name, expected: expected)
        let fileLength = ImageFormat.headerSize + Int(header.payloadLength)
        guard header.payloadLength > 0 else { return try checkPayload(header, crc: 0, section: name) }

        guard let mapped = mmap(nil, fileLength, PROT_READ, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
            throw ImageError.section(name, "could not be read: \(String(cString: strerror(errno)))")
        }
        defer { munmap(mapped, fileLength) }
        _ = madvise(mapped, fileLength, MADV_SEQUENTIAL)
        let crc = CRC32C.checksum(mapped + ImageFormat.headerSize, count: Int(header.payloadLength), continuing: 0)
        return try checkPayload(header, crc: crc, section: name)
    }

    private static func checkPayload(_ header: SectionHeader, crc: UInt32, section name: String) throws -> SectionHeader {
        guard crc == header.payloadCrc else {
            throw ImageError.section(name, "is corrupt: payload checksum \(CRC32C.hex(crc)) does not match the stored \(CRC32C.hex(header.payloadCrc))")
        }
        return header
    }

    /// Reads the header of `path` and checks its type and that the file
    /// length matches it, without reading the payload. For a section this
    /// process wrote itself, whose payload checksum it computed while writing.
    static func header(path: String, section name: String, expected: SectionType) throws -> SectionHeader {
        let fd = try openSection(path, section: name)
        defer { close(fd) }
        return try readHeader(fd, path: path, section: name, expected: expected)
    }

    /// Reads a whole section into memory, for the small JSON sections.
    static func read(path: String, section name: String, expected: SectionType, maxLength: UInt64 = 1 << 31) throws -> [UInt8] {
        let fd = try openSection(path, section: name)
        defer { close(fd) }
        let header = try readHeader(fd, path: path, section: name, expected: expected)
        guard header.payloadLength <= maxLength else {
            throw ImageError.section(name, "is too large to load: \(header.payloadLength) bytes")
        }
        var payload = [UInt8](repeating: 0, count: Int(header.payloadLength))
        var done = 0
        while done < payload.count {
            let n = payload.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(ImageFormat.headerSize + done)) }
            guard n > 0 else { throw ImageError.section(name, "is truncated: \(done) of \(payload.count) payload bytes") }
            done += n
        }
        let crc = CRC32C.checksum(payload)
        guard crc == header.payloadCrc else {
            throw ImageError.section(name, "is corrupt: payload checksum \(CRC32C.hex(crc)) does not match the stored \(CRC32C.hex(header.payloadCrc))")
        }
        return payload
    }

    private static func openSection(_ path: String, section name: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            let file = (path as NSString).lastPathComponent
            guard code != ENOENT else { throw ImageError.section(name, "is missing: \(file) not found") }
            let fix = code == EACCES ? "run bpfcp as the user who wrote the image, or as root" : ImageError.damaged
            throw ImageError.section(name, "could not be opened: \(file): \(String(cString: strerror(code)))", fix: fix)
        }
        return fd
    }

    private static func readHeader(_ fd: Int32, path: String, section name: String, expected: SectionType) throws -> SectionHeader {
        var bytes = [UInt8](repeating: 0, count: ImageFormat.headerSize)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        let header = try SectionHeader.decode(Array(bytes[0..<max(0, n)]), section: name)
        guard header.type == expected.rawValue else {
            let actual = SectionType(rawValue: header.type)?.label ?? "unknown type \(header.type)"
            throw ImageError.section(name, "holds a \(actual) section where a \(expected.label) section belongs")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw BpfcpError.system("stat of \(Escape.text(path))", errno) }
        let actual = UInt64(max(0, Int64(info.st_size) - Int64(ImageFormat.headerSize)))
        guard actual == header.payloadLength else {
            let why = actual < header.payloadLength ? "is truncated" : "has trailing bytes"
            throw ImageError.section(name, "\(why): the header gives \(header.payloadLength) payload bytes, the file holds \(actual)")
        }
        return header
    }
}

func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
    var done = 0
    while done < buffer.count {
        let n = write(fd, buffer.baseAddress! + done, buffer.count - done)
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw BpfcpError.system("writing \(Escape.text(path))", n < 0 ? errno : EIO) }
        done += n
    }
}

func pwriteAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, at offset: UInt64, path: String) throws {
    var done = 0
    while done < buffer.count {
        let n = pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + UInt64(done)))
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw BpfcpError.system("writing \(Escape.text(path))", n < 0 ? errno : EIO) }
        done += n
    }
}

func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
    try bytes.withUnsafeBytes { try writeAll(fd, $0, path: path) }
}

func appendLE<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ value: T) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
}

private func append<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ value: T) {
    appendLE(&bytes, value)
}

private func readLE32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * $1) }
}

private func readLE64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
    (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * $1) }
}
