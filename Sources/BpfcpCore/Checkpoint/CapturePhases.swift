import Foundation

/// Wall-clock time of each step of one checkpoint, in nanoseconds, measured
/// on the thread that runs the checkpoint. The steps follow one another, so
/// their sum is at most `CaptureStats.totalNs`. Work that other threads do
/// meanwhile (the kind collectors, fsync of finished files) counts in the
/// step during which this thread waits for it.
public struct CapturePhases: Codable, Sendable, Equatable {
    /// Checking the target and setting up the page store, before the first thread is held.
    public var prepareNs: UInt64 = 0
    /// Holding every thread, and with `--tree` finding and holding each descendant.
    public var freezeNs: UInt64 = 0
    /// While held: registers, the list of pages to save, shared memory,
    /// saved files, queued bytes, the snapshot copy, and the release.
    public var heldNs: UInt64 = 0
    /// While held, waiting for the kind collectors once the rest was read.
    public var kindsNs: UInt64 = 0
    /// After the release: the private pages of the snapshot copies written
    /// to the page store (by the copies or by bpfcp), and the rest of the page store written.
    public var memoryNs: UInt64 = 0
    /// Waiting for the kind sections, built (and for an image encoded) on other threads while the pages were written.
    public var sectionsNs: UInt64 = 0
    /// Creating the hidden image directory, linking the page store into it and writing hashes.img.
    public var stagingNs: UInt64 = 0
    /// Encoding the JSON sections not encoded while the pages were written, and the manifest.
    public var encodeNs: UInt64 = 0
    /// Writing the section files, checksums included.
    public var writeNs: UInt64 = 0
    /// Waiting for fsync of the image files and directories.
    public var syncNs: UInt64 = 0
    /// Renaming the image directory into place.
    public var renameNs: UInt64 = 0

    public init() {}

    /// The sum of every phase.
    public var sumNs: UInt64 {
        [prepareNs, freezeNs, heldNs, kindsNs, memoryNs, sectionsNs, stagingNs, encodeNs, writeNs, syncNs, renameNs].reduce(0, +)
    }
}

/// Splits the time of one checkpoint into `CapturePhases`: each `lap`
/// adds the time since the previous lap to one phase.
final class CapturePhaseClock {
    let start: UInt64
    private var last: UInt64
    private(set) var phases = CapturePhases()

    init() {
        start = Clock.now()
        last = start
    }

    func lap(_ phase: WritableKeyPath<CapturePhases, UInt64>) {
        let now = Clock.now()
        phases[keyPath: phase] += now - last
        last = now
    }

    /// Nanoseconds from the start until now.
    func elapsedNs() -> UInt64 {
        Clock.now() - start
    }
}
