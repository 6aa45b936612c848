import Foundation

/// Writing images: every file goes into a hidden staging directory beside
/// the image, is synced, and the directory is renamed into place last.
extension CheckpointImage {
    /// Writes `checkpoint` to the new directory `dir`. The files go to a
    /// hidden temporary directory beside it, are synced, and the directory is
    /// renamed into place last, so a crash or a full disk never leaves
    /// anything at `dir` that looks complete.
    public static func write(_ checkpoint: Checkpoint, to dir: String) throws {
        _ = try write(checkpoint, to: dir, clock: nil)
    }

    /// Writes like `write(_:to:)`. With a `clock`, the returned stats end
    /// with the image renamed into place and its parent synced: total time,
    /// phases, and the sync time, which is all the time spent waiting for
    /// fsync. The manifest stores them as they were just before it was
    /// written. Without one, the stats stay as the checkpoint has them.
    /// Returns the image-wide facts as written.
    static func write(_ checkpoint: Checkpoint, to dir: String, clock: CapturePhaseClock?) throws -> CheckpointInfo {
        let target = (dir as NSString).standardizingPath
        try checkFree(target)
        let staging = try makeStaging(beside: target)
        do {
            var info = try writeFiles(checkpoint, into: staging, clock: clock)
            try syncFile(staging)
            clock?.lap(\.syncNs)
            guard rename(staging, target) == 0 else { throw BpfcpError.system("renaming \(Escape.text(staging)) to \(Escape.text(target))", errno) }
            clock?.lap(\.renameNs)
            try syncFile(parentDirectory(of: target))
            clock?.lap(\.syncNs)
            if let clock { record(clock, in: &info.stats) }
            return info
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
    }

    private static func checkFree(_ target: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: target, isDirectory: &isDir) else { return }
        let contents = isDir.boolValue ? ((try? FileManager.default.contentsOfDirectory(atPath: target)) ?? ["?"]) : ["?"]
        guard contents.isEmpty else {
            throw BpfcpError("image_exists", "\(Escape.text(target)) already exists: choose a new image directory or remove the old one")
        }
        rmdir(target)
    }

    /// Returns the directory that contains `path`: "." for a bare name and "/" for a top-level entry.
    /// (NSString.deletingLastPathComponent traps on some one-character names in swift-corelibs-foundation 6.3.)
    public static func parentDirectory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        let parent = trimmed[..<slash]
        return parent.isEmpty ? "/" : String(parent)
    }

    private static func makeStaging(beside target: String) throws -> String {
        let parent = parentDirectory(of: target)
        let base = String(target.split(separator: "/").last ?? Substring(target))
        PartialDirectory.removeStale(in: parent)
        let staging = parent + "/.\(base).partial" + PartialDirectory.writerSuffix()
        guard mkdir(staging, 0o700) == 0 else { throw BpfcpError.system("creating \(Escape.text(staging))", errno) }
        return staging
    }

    /// Writes every section file into `staging` and syncs them all: the
    /// pages and their hashes, the JSON sections, then the manifest, whose
    /// stats include the time spent waiting for the others. Each file is
    /// synced on a `FileSyncer` thread as soon as it is written. Only the
    /// wait for them counts as sync time, not the part that overlapped
    /// the encoding.
    private static func writeFiles(_ checkpoint: Checkpoint, into staging: String, clock: CapturePhaseClock?) throws -> CheckpointInfo {
        let syncer = FileSyncer()
        // On an error, the syncs end before the caller removes the directory.
        defer { _ = try? syncer.finish() }
        let pagesHeader = try placePages(checkpoint.pages, at: staging + "/" + pagesFile)
        // The pages are nearly all the bytes, so their sync starts first.
        syncer.add(staging + "/" + pagesFile)
        var sections = [ManifestSection(name: "pages", file: pagesFile, type: SectionType.pages.label,
                                        payloadLength: pagesHeader.payloadLength, crc32c: CRC32C.hex(pagesHeader.payloadCrc))]
        sections.append(try writeHashes(checkpoint, pagesLength: pagesHeader.payloadLength, into: staging))
        syncer.add(staging + "/" + hashesFile)
        clock?.lap(\.stagingNs)

        let encoded = try encodeSections(checkpoint)
        clock?.lap(\.encodeNs)
        for section in encoded {
            let file = "\(section.name).img"
            let header = try SectionWriter.write(section.payload, type: section.type, to: staging + "/" + file)
            syncer.add(staging + "/" + file)
            sections.append(ManifestSection(name: section.name, file: file, type: section.type.label,
                                            payloadLength: header.payloadLength, crc32c: CRC32C.hex(header.payloadCrc)))
        }
        clock?.lap(\.writeNs)
        try syncer.finish()
        clock?.lap(\.syncNs)

        // An image written again keeps the timings of its capture.
        var info = checkpoint.info
        if let clock { record(clock, in: &info.stats) }
        let manifest = Manifest(formatVersion: ImageFormat.version, info: info,
                                processes: checkpoint.processes.map { ManifestProcess(pid: $0.pid) }, sections: sections)
        let manifestPath = staging + "/" + manifestFile
        let payload = try encode(manifest)
        clock?.lap(\.encodeNs)
        _ = try SectionWriter.write(payload, type: .manifest, to: manifestPath)
        clock?.lap(\.writeNs)
        try syncFile(manifestPath)
        clock?.lap(\.syncNs)
        return info
    }

    /// Stores the phases measured so far, with the sync and total times they give.
    private static func record(_ clock: CapturePhaseClock, in stats: inout CaptureStats) {
        stats.phases = clock.phases
        stats.syncNs = clock.phases.syncNs
        stats.totalNs = clock.elapsedNs()
    }

    /// One encoded JSON section, named like its file without ".img".
    private struct EncodedSection: Sendable {
        let name: String
        let type: SectionType
        let payload: [UInt8]
    }

    /// Encodes the process, threads, memory and queues sections of every
    /// process, several at a time, and returns them in that order. A section
    /// that the capture already encoded is taken as it is.
    private static func encodeSections(_ checkpoint: Checkpoint) throws -> [EncodedSection] {
        let pageSize = checkpoint.info.pageSize
        var jobs: [(name: String, type: SectionType, encode: @Sendable () throws -> [UInt8])] = []
        for image in checkpoint.processes {
            let process = checkpoint.encodedSections["process-\(image.pid)"]
            jobs.append(("process-\(image.pid)", .process, {
                try process ?? encode(ProcessPayload(pid: image.pid, process: image.process, stopSignal: image.stopSignal, sections: image.sections))
            }))
            let threads = checkpoint.encodedSections["threads-\(image.pid)"]
            jobs.append(("threads-\(image.pid)", .threads, { try threads ?? encode(ThreadsPayload(pid: image.pid, threads: image.threads)) }))
            jobs.append(("memory-\(image.pid)", .memory, {
                try encode(MemoryPayload(pid: image.pid, pageSize: pageSize, areas: image.memory, files: image.files.isEmpty ? nil : image.files))
            }))
            if !image.queues.isEmpty {
                let queues = checkpoint.encodedSections["queues-\(image.pid)"]
                jobs.append(("queues-\(image.pid)", .queues, { try queues ?? encode(QueuesPayload(pid: image.pid, queues: image.queues)) }))
            }
        }

        let results = ParallelResults<[UInt8]>(count: jobs.count)
        let encoders = jobs.map(\.encode)
        DispatchQueue.concurrentPerform(iterations: encoders.count) { index in
            results.set(index, Result { try encoders[index]() })
        }
        return try zip(jobs, results.values()).map { job, payload in
            EncodedSection(name: job.name, type: job.type, payload: try payload.get())
        }
    }

    /// Hard-links the page store into the image when both sit on one file
    /// system, and copies it otherwise. Returns the header. A linked store
    /// is one this process wrote, or opened and verified, so only its header
    /// and length are checked. A copy is verified in full.
    private static func placePages(_ store: PageStore, at path: String) throws -> SectionHeader {
        if link(store.path, path) == 0 {
            return try SectionReader.header(path: path, section: "pages", expected: .pages)
        }
        try copyFile(from: store.path, to: path)
        return try SectionReader.verify(path: path, section: "pages", expected: .pages)
    }

    /// Writes hashes.img. A checkpoint read from a format 1 image has no
    /// hashes, so they are computed from its pages here.
    private static func writeHashes(_ checkpoint: Checkpoint, pagesLength: UInt64, into staging: String) throws -> ManifestSection {
        let pageSize = checkpoint.info.pageSize
        var hashes = checkpoint.pageHashes
        if hashes?.values.count != Int(pagesLength / pageSize) {
            hashes = try PageHashes.compute(checkpoint.pages, pageSize: pageSize, payloadLength: pagesLength)
        }
        let payload = hashes?.encoded() ?? []
        let header = try SectionWriter.write(payload, type: .hashes, to: staging + "/" + hashesFile)
        return ManifestSection(name: "hashes", file: hashesFile, type: SectionType.hashes.label,
                               payloadLength: header.payloadLength, crc32c: CRC32C.hex(header.payloadCrc))
    }

    /// Copies `source` to the new file `path`, not yet synced.
    private static func copyFile(from source: String, to path: String) throws {
        let input = Glibc.open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw BpfcpError.system("opening \(Escape.text(source))", errno) }
        defer { close(input) }
        let output = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw BpfcpError.system("creating \(Escape.text(path))", errno) }
        defer { close(output) }

        var buffer = [UInt8](repeating: 0, count: 4 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw BpfcpError.system("reading \(Escape.text(source))", errno) }
            if n == 0 { break }
            try buffer.withUnsafeBytes { try writeAll(output, UnsafeRawBufferPointer(rebasing: $0[0..<n]), path: path) }
        }
    }

    /// Encodes a section payload, byte for byte as `JSONCoding.encoder` would.
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        try JSONBytesEncoder.encode(value)
    }
}

/// Results of work run on several threads, one slot per job.
private final class ParallelResults<Value>: @unchecked Sendable {
    private let lock = NSLock()
    // Guarded by `lock`.
    private var slots: [Result<Value, Error>?]

    init(count: Int) {
        slots = Array(repeating: nil, count: count)
    }

    func set(_ index: Int, _ result: Result<Value, Error>) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    /// Returns every result; call once all jobs have run.
    func values() -> [Result<Value, Error>] {
        lock.lock()
        defer { lock.unlock() }
        return slots.map { $0! }
    }
}
