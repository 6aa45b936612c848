import Foundation

/// Writes checkpoints as image directories and reads them back.
///
/// An image is a directory of section files (see `ImageFormat`):
/// manifest.img, then process-PID.img, threads-PID.img and memory-PID.img for
/// each captured process, one pages.img and its hashes.img. docs/IMAGE-FORMAT.md describes them.
public enum CheckpointImage {
    static let manifestFile = "manifest.img"
    static let pagesFile = "pages.img"
    static let hashesFile = "hashes.img"

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

    /// Opens the image at `dir` and verifies every section: header, length,
    /// checksum, and that page runs point inside pages.img.
    public static func open(_ dir: String) throws -> Checkpoint {
        try open(dir, deferPages: false).0
    }

    /// Opens the image at `dir` like `open(_:)`, except for the checksum of
    /// the pages payload, which the returned `PagesCheck` computes on a thread
    /// of its own. The caller must wait for it before using the pages for
    /// anything that outlives a failure (restore does, see `PagesCheck`).
    static func openDeferringPages(_ dir: String) throws -> (Checkpoint, PagesCheck) {
        let (checkpoint, check) = try open(dir, deferPages: true)
        return (checkpoint, check!)
    }

    private static func open(_ dir: String, deferPages: Bool) throws -> (Checkpoint, PagesCheck?) {
        do {
            return try openChecked(dir, deferPages: deferPages)
        } catch {
            throw ImageError.located(error, in: dir)
        }
    }

    private static func openChecked(_ dir: String, deferPages: Bool) throws -> (Checkpoint, PagesCheck?) {
        try checkReadable(dir)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) else {
            throw ImageError.notImage(dir, "directory not found; " + PartialDirectory.adviceForMissing(dir))
        }
        guard isDir.boolValue else {
            let parent = parentDirectory(of: dir)
            let fix = FileManager.default.fileExists(atPath: parent + "/" + manifestFile)
                ? "give its directory \(Escape.text(parent))" : "give the directory that `bpfcp dump PID -D DIR` wrote"
            throw ImageError.notImage(dir, "it is a file, not an image directory; \(fix)")
        }
        if let why = PartialDirectory.describeUnfinished(dir) {
            throw ImageError.notImage(dir, "it is an unfinished image: \(why)")
        }
        guard FileManager.default.fileExists(atPath: dir + "/" + manifestFile) else {
            throw ImageError.notImage(dir, "\(manifestFile) not found; give the directory that `bpfcp dump PID -D DIR` wrote")
        }

        let manifest: Manifest = try decodeSection(dir: dir, file: manifestFile, name: "manifest", type: .manifest)
        guard manifest.formatVersion <= ImageFormat.version else {
            throw ImageError.section("manifest", "describes image format \(manifest.formatVersion), newer than this bpfcp reads",
                                     fix: ImageError.newerFormat(manifest.formatVersion))
        }
        let (pages, pagesCheck) = try verifyPages(dir: dir, manifest: manifest, deferred: deferPages)
        let hashes = try readHashes(dir: dir, manifest: manifest, pagesLength: pages.payloadLength)

        // Every checksum is checked before any large JSON is decoded, so damage is found early and cheaply.
        let payloads = try manifest.processes.map { try readPayloads(dir: dir, pid: $0.pid, manifest: manifest) }
        let queuePayloads = try manifest.processes.map { try readQueuesPayload(dir: dir, pid: $0.pid, manifest: manifest) }
        var processes = try zip(manifest.processes, payloads).map { entry, payloads in
            try decodeProcess(pid: entry.pid, payloads: payloads, manifest: manifest, pagesLength: pages.payloadLength)
        }
        for (index, payload) in queuePayloads.enumerated() {
            guard let payload else { continue }
            processes[index].queues = try decodeQueues(payload, pid: processes[index].pid)
        }
        let store = PageStore(path: dir + "/" + pagesFile, temporaryDirectory: nil)
        let checkpoint = Checkpoint(info: manifest.info, processes: processes, pages: store, pageHashes: hashes,
                                    formatVersion: manifest.formatVersion)
        return (checkpoint, pagesCheck)
    }

    /// Rejects an image this user may not read with a permission error,
    /// where the checks below would only find no manifest.
    private static func checkReadable(_ dir: String) throws {
        var info = stat()
        if stat(dir, &info) != 0 {
            guard errno == EACCES else { return }
        } else {
            guard info.st_mode & S_IFMT == S_IFDIR else { return }
            let directoryDenied = access(dir, R_OK | X_OK) != 0 && errno == EACCES
            let manifestDenied = !directoryDenied && access(dir + "/" + manifestFile, R_OK) != 0 && errno == EACCES
            guard directoryDenied || manifestDenied else { return }
        }
        throw BpfcpError("permission_denied", "cannot read the image \(Escape.text(dir)): permission denied, because images are readable only by the user who wrote them (mode 0700): run bpfcp as that user or as root, e.g. with sudo")
    }

    // MARK: - writing

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

    // MARK: - reading

    /// Checks the pages section; `deferred` leaves its payload checksum to
    /// the returned `PagesCheck` and checks only its header and length here.
    private static func verifyPages(dir: String, manifest: Manifest, deferred: Bool) throws -> (SectionHeader, PagesCheck?) {
        guard let listed = manifest.sections.first(where: { $0.name == "pages" }) else {
            throw ImageError.section("pages", "is not listed in the manifest")
        }
        let path = dir + "/" + pagesFile
        guard deferred else {
            let header = try SectionReader.verify(path: path, section: "pages", expected: .pages)
            try checkListed(listed, header)
            return (header, nil)
        }
        let header = try SectionReader.header(path: path, section: "pages", expected: .pages)
        try checkListed(listed, header)
        return (header, PagesCheck(path: path))
    }

    /// Reads the page hashes; images of format 1 have none and give nil.
    private static func readHashes(dir: String, manifest: Manifest, pagesLength: UInt64) throws -> PageHashes? {
        guard manifest.formatVersion >= 2 else { return nil }
        guard let listed = manifest.sections.first(where: { $0.name == "hashes" }) else {
            throw ImageError.section("hashes", "is not listed in the manifest")
        }
        let payload = try SectionReader.read(path: dir + "/" + hashesFile, section: "hashes", expected: .hashes)
        try checkListed(listed, SectionHeader(version: ImageFormat.version, type: SectionType.hashes.rawValue,
                                              payloadLength: UInt64(payload.count), payloadCrc: CRC32C.checksum(payload)))
        let pageSize = manifest.info.pageSize
        guard pageSize >= 4096, pageSize & (pageSize - 1) == 0 else {
            throw ImageError.section("manifest", "has an invalid page size \(pageSize)")
        }
        return try PageHashes.decode(payload, pageSize: pageSize, pagesLength: pagesLength, section: "hashes")
    }

    private static let processSections: [SectionType] = [.process, .threads, .memory]

    /// Reads and checks the raw payloads of the process, threads and memory sections of `pid`.
    private static func readPayloads(dir: String, pid: Int32, manifest: Manifest) throws -> [[UInt8]] {
        try processSections.map { type in
            let name = "\(type.label)-\(pid)"
            guard let listed = manifest.sections.first(where: { $0.name == name }) else {
                throw ImageError.section(name, "is not listed in the manifest")
            }
            guard listed.file == "\(name).img" else {
                throw ImageError.section(name, "has an invalid file name in the manifest")
            }
            let payload = try SectionReader.read(path: dir + "/" + listed.file, section: name, expected: type)
            let header = SectionHeader(version: ImageFormat.version, type: type.rawValue,
                                       payloadLength: UInt64(payload.count), payloadCrc: CRC32C.checksum(payload))
            try checkListed(listed, header)
            return payload
        }
    }

    /// Reads and checks the queues section of `pid`, which images of
    /// processes without queued bytes do not have.
    private static func readQueuesPayload(dir: String, pid: Int32, manifest: Manifest) throws -> [UInt8]? {
        let name = "\(SectionType.queues.label)-\(pid)"
        guard let listed = manifest.sections.first(where: { $0.name == name }) else { return nil }
        guard listed.file == "\(name).img" else {
            throw ImageError.section(name, "has an invalid file name in the manifest")
        }
        let payload = try SectionReader.read(path: dir + "/" + listed.file, section: name, expected: .queues)
        let header = SectionHeader(version: ImageFormat.version, type: SectionType.queues.rawValue,
                                   payloadLength: UInt64(payload.count), payloadCrc: CRC32C.checksum(payload))
        try checkListed(listed, header)
        return payload
    }

    private static func decodeQueues(_ payload: [UInt8], pid: Int32) throws -> [QueuedData] {
        let queues: QueuesPayload = try decode(payload, name: "queues-\(pid)")
        guard queues.pid == pid else {
            throw ImageError.section("queues-\(pid)", "belongs to another process than the manifest lists")
        }
        return queues.queues
    }

    private static func decodeProcess(pid: Int32, payloads: [[UInt8]], manifest: Manifest, pagesLength: UInt64) throws -> ProcessImage {
        let process: ProcessPayload = try decode(payloads[0], name: "process-\(pid)")
        let threads: ThreadsPayload = try decode(payloads[1], name: "threads-\(pid)")
        let memory: MemoryPayload = try decode(payloads[2], name: "memory-\(pid)")
        guard process.pid == pid, threads.pid == pid, memory.pid == pid else {
            throw ImageError.section("process-\(pid)", "belongs to another process than the manifest lists")
        }
        try ImageValidation.checkRuns(memory, pagesLength: pagesLength, pageSize: manifest.info.pageSize, section: "memory-\(pid)")
        return ProcessImage(pid: pid, process: process.process, stopSignal: process.stopSignal, sections: process.sections,
                            threads: threads.threads, memory: memory.areas, files: memory.files ?? [])
    }

    private static func decodeSection<T: Decodable>(dir: String, file: String, name: String, type: SectionType) throws -> T {
        try decode(try SectionReader.read(path: dir + "/" + file, section: name, expected: type), name: name)
    }

    private static func decode<T: Decodable>(_ payload: [UInt8], name: String) throws -> T {
        do {
            return try JSONCoding.decoder.decode(T.self, from: Data(payload))
        } catch let error as DecodingError {
            throw ImageError.section(name, "has invalid content: \(ImageValidation.describe(error))")
        } catch {
            throw ImageError.section(name, "has invalid content: not valid JSON")
        }
    }

    private static func checkListed(_ listed: ManifestSection, _ header: SectionHeader) throws {
        guard listed.payloadLength == header.payloadLength, listed.crc32c == CRC32C.hex(header.payloadCrc) else {
            throw ImageError.section(listed.name, "does not match the manifest: it was replaced or mixed in from another image")
        }
    }
}

// MARK: - section payloads

struct Manifest: Codable {
    var formatVersion: UInt32
    var info: CheckpointInfo
    var processes: [ManifestProcess]
    var sections: [ManifestSection]
}

struct ManifestProcess: Codable {
    var pid: Int32
}

struct ManifestSection: Codable {
    var name: String
    var file: String
    var type: String
    var payloadLength: UInt64
    var crc32c: String
}

struct ProcessPayload: Codable {
    var pid: Int32
    var process: ProcessEntry
    var stopSignal: String?
    var sections: [Section]
}

struct ThreadsPayload: Codable {
    var pid: Int32
    var threads: [ThreadState]
}

struct QueuesPayload: Codable {
    var pid: Int32
    var queues: [QueuedData]
}

struct MemoryPayload: Codable {
    var pid: Int32
    var pageSize: UInt64
    var areas: [MemoryAreaImage]
    /// Omitted when the process has no saved files.
    var files: [SavedFile]?
}
