/// One side of a diff, loaded: the process rendered like a live dump, and
/// the content hashes of its pages when the side has them.
public struct LoadedCapture: Sendable {
    /// Name of this side in the diff: an image path, "live:PID", "capture #2".
    public var label: String
    public var dump: Dump
    /// Saved pages of a capture, or present pages of a live process; nil when not available.
    public var pages: PageSnapshot?
    /// Why `pages` is nil, as a clause: "img was written in image format 1, which stores no page hashes".
    public var pagesMissing: String?
    /// A running process, which has no registers, saved memory or saved files sections.
    public var isLive: Bool

    public init(label: String, dump: Dump, pages: PageSnapshot?, pagesMissing: String?, isLive: Bool) {
        self.label = label
        self.dump = dump
        self.pages = pages
        self.pagesMissing = pagesMissing
        self.isLive = isLive
    }

    /// Loads the root process of `checkpoint`, with its page hashes.
    public init(checkpoint: Checkpoint, label: String) throws {
        guard let root = checkpoint.process(checkpoint.info.rootPid) else {
            throw ImageError.section("manifest", "does not list the root process \(checkpoint.info.rootPid)")
        }
        let pages = checkpoint.pageHashes.map { PageSnapshot(image: root, pageHashes: $0, store: checkpoint.pages) }
        self.init(label: label, dump: CheckpointView.dump(root, info: checkpoint.info), pages: pages,
                  pagesMissing: pages == nil ? "\(label) was written in image format 1, which stores no page hashes" : nil,
                  isLive: false)
    }

    /// Dumps the live process `pid`; with `pages`, its present pages are read and hashed too.
    public static func live(pid: Int32, label: String, pages: Bool) throws -> LoadedCapture {
        let dump = try Dumper.dump(pid: pid)
        guard pages else {
            return LoadedCapture(label: label, dump: dump, pages: nil, pagesMissing: "pages were not read", isLive: true)
        }
        do {
            return LoadedCapture(label: label, dump: dump, pages: try PageSnapshot.live(pid: pid), pagesMissing: nil, isLive: true)
        } catch let error as BpfcpError {
            return LoadedCapture(label: label, dump: dump, pages: nil,
                                 pagesMissing: "reading the pages of \(label) failed: \(error.message)", isLive: true)
        }
    }
}

/// Loads either side of a diff.
public enum CaptureLoader {
    /// The root process of an image, or a live dump, for browsing.
    public static func load(_ ref: CaptureRef) throws -> Dump {
        switch ref {
        case .live(let pid):
            return try Dumper.dump(pid: pid)
        case .image(let path):
            return try LoadedCapture(checkpoint: try CheckpointImage.open(path), label: ref.description).dump
        }
    }

    /// Loads `ref` for a diff; with `pages`, a live process's pages are hashed too.
    public static func capture(_ ref: CaptureRef, pages: Bool) throws -> LoadedCapture {
        switch ref {
        case .live(let pid):
            return try LoadedCapture.live(pid: pid, label: ref.description, pages: pages)
        case .image(let path):
            return try LoadedCapture(checkpoint: try CheckpointImage.open(path), label: ref.description)
        }
    }
}
