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

    /// Returns the error for a directory without a manifest: a damaged image
    /// when other section files are there, else not an image at all.
    private static func missingManifest(_ dir: String) -> Error {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        let sections = files.filter { $0.hasSuffix(".img") }.count
        guard sections > 0 else {
            return ImageError.notImage(dir, "\(manifestFile) not found; give the directory that `bpfcp dump PID -D DIR` wrote")
        }
        let why = "is missing: \(manifestFile) not found, but \(sections) other section \(sections == 1 ? "file is" : "files are") there"
        return ImageError.located(ImageError.section("manifest", why), in: dir)
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
            throw missingManifest(dir)
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
        let process = try decodeProcessPayload(payloads[0], name: "process-\(pid)")
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

    /// Decodes a section payload with `JSONParser` and `JSONValueDecoder`,
    /// which give the values JSONDecoder gives, in a fraction of its time.
    static func decode<T: Decodable>(_ payload: [UInt8], name: String) throws -> T {
        let tree: JSONValue
        do {
            tree = try JSONParser.parse(payload)
        } catch let failure as JSONParser.Failure {
            throw ImageError.section(name, "has invalid content: not valid JSON (\(failure))")
        }
        do {
            return try JSONValueDecoder.decode(T.self, from: tree)
        } catch let error as DecodingError {
            throw ImageError.section(name, "has invalid content: \(ImageValidation.describe(error))")
        }
    }

    /// Decodes a process section like `decode`, but reads it with
    /// `ProcessPayloadScanner`, which skips the tree and Codable for its entries.
    /// A payload that the scanner rejects goes through `decode`, which
    /// decodes it or throws the error that names the invalid value.
    static func decodeProcessPayload(_ payload: [UInt8], name: String) throws -> ProcessPayload {
        if let scanned = ProcessPayloadScanner.scan(payload) { return scanned }
        return try decode(payload, name: name)
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
