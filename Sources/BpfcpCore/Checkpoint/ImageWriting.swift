import Foundation

/// Writing images: every file goes into a hidden staging directory beside
/// the image, is synced, and the directory is renamed into place last.
extension CheckpointImage {
    /// Writes `checkpoint` to the new directory `dir`. The files go to a
    /// hidden temporary directory beside it, are synced, and the directory is
    /// renamed into place last, so a crash or a full disk never leaves
    /// anything at `dir` that looks complete.
    public static func write(_ checkpoint: Checkpoint, to dir: String) throws {
        _ = try write(checkpoint, to: dir, totalSince: nil)
    }

    /// Writes like `write(_:to:)`. With `totalSince`, the returned total time
    /// runs from that instant to the image renamed into place and synced, and
    /// the one stored in the manifest to just before the manifest is written.
    /// The returned sync time is all the time spent waiting in fsync.
    /// Returns the image-wide facts as written.
    static func write(_ checkpoint: Checkpoint, to dir: String, totalSince start: UInt64?) throws -> CheckpointInfo {
        let target = (dir as NSString).standardizingPath
        try checkFree(target)
        let staging = try makeStaging(beside: target)
        do {
            var info = try writeFiles(checkpoint, into: staging, totalSince: start)
            let syncStart = Clock.now()
            try syncFile(staging)
            guard rename(staging, target) == 0 else { throw BpfcpError.system("renaming \(Escape.text(staging)) to \(Escape.text(target))", errno) }
            try syncFile(parentDirectory(of: target))
            if let start {
                info.stats.syncNs = (info.stats.syncNs ?? 0) + Clock.now() - syncStart
                info.stats.totalNs = Clock.now() - start
            }
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
    /// pages, the process sections, then the manifest, whose stats include
    /// the time spent waiting for the others.
    private static func writeFiles(_ checkpoint: Checkpoint, into staging: String, totalSince start: UInt64?) throws -> CheckpointInfo {
        let pageSize = checkpoint.info.pageSize
        let pagesHeader = try placePages(checkpoint.pages, at: staging + "/" + pagesFile)
        // The pages are nearly all the bytes, so they sync on another thread while the JSON sections are encoded here.
        let pagesSync = BackgroundSync(path: staging + "/" + pagesFile)
        defer { _ = try? pagesSync.wait() }
        var sections = [ManifestSection(name: "pages", file: pagesFile, type: SectionType.pages.label,
                                        payloadLength: pagesHeader.payloadLength, crc32c: CRC32C.hex(pagesHeader.payloadCrc))]
        sections.append(try writeHashes(checkpoint, pagesLength: pagesHeader.payloadLength, into: staging))

        for image in checkpoint.processes {
            var payloads: [(SectionType, [UInt8])] = [
                (.process, try encode(ProcessPayload(pid: image.pid, process: image.process, stopSignal: image.stopSignal, sections: image.sections))),
                (.threads, try encode(ThreadsPayload(pid: image.pid, threads: image.threads))),
                (.memory, try encode(MemoryPayload(pid: image.pid, pageSize: pageSize, areas: image.memory,
                                                   files: image.files.isEmpty ? nil : image.files))),
            ]
            if !image.queues.isEmpty {
                payloads.append((.queues, try encode(QueuesPayload(pid: image.pid, queues: image.queues))))
            }
            for (type, payload) in payloads {
                let file = "\(type.label)-\(image.pid).img"
                let header = try SectionWriter.write(payload, type: type, to: staging + "/" + file)
                sections.append(ManifestSection(name: "\(type.label)-\(image.pid)", file: file, type: type.label,
                                                payloadLength: header.payloadLength, crc32c: CRC32C.hex(header.payloadCrc)))
            }
        }

        // Only the wait counts as sync time, not the part of the pages sync
        // that overlapped the encoding. An image written again keeps the
        // timings of its capture.
        var info = checkpoint.info
        let syncStart = Clock.now()
        try pagesSync.wait()
        for section in sections.dropFirst() {
            try syncFile(staging + "/" + section.file)
        }
        if let start {
            info.stats.syncNs = Clock.now() - syncStart
            info.stats.totalNs = Clock.now() - start
        }
        let manifest = Manifest(formatVersion: ImageFormat.version, info: info,
                                processes: checkpoint.processes.map { ManifestProcess(pid: $0.pid) }, sections: sections)
        let manifestPath = staging + "/" + manifestFile
        _ = try SectionWriter.write(try encode(manifest), type: .manifest, to: manifestPath)
        let manifestSyncStart = Clock.now()
        try syncFile(manifestPath)
        if start != nil { info.stats.syncNs = (info.stats.syncNs ?? 0) + Clock.now() - manifestSyncStart }
        return info
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

    private static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        Array(try JSONCoding.encoder.encode(value))
    }
}
