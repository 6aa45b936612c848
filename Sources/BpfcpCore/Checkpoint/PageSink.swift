import Foundation

/// Destination of page contents during a capture.
///
/// While the target is held, pages are read straight into a staging area
/// in memory, so the target can be released before any disk write. The
/// staging area has a fixed budget. Once it is full, its contents are
/// written out and later pages stream through a 4 MiB buffer to the page
/// section while the target is still held, so memory use never exceeds the
/// budget whatever the image size.
final class PageSink {
    let writer: SectionWriter
    private let staging: UnsafeMutableRawPointer?
    private let budget: Int
    private var staged = 0
    private var streaming = false
    private let bounce: UnsafeMutableRawPointer
    private let bounceSize = 4 << 20

    /// Creates a sink that stages up to `budget` bytes and prefaults
    /// `expected` bytes of it now, before the target is held.
    init(writer: SectionWriter, budget: Int, expected: Int) {
        self.writer = writer
        self.budget = budget
        bounce = UnsafeMutableRawPointer.allocate(byteCount: bounceSize, alignment: 4096)
        let area = budget > 0 ? mmap(nil, budget, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) : nil
        staging = area == MAP_FAILED ? nil : area
        if let staging {
            let hugePage: Int32 = 14 // MADV_HUGEPAGE: fewer page faults while the target is held.
            let populateWrite: Int32 = 23 // MADV_POPULATE_WRITE (Linux 5.14): fault the pages in now.
            _ = madvise(staging, budget, hugePage)
            let prefault = min(budget, (expected + 0xFFFFF) & ~0xFFFFF)
            if prefault > 0 { _ = madvise(staging, prefault, populateWrite) }
        }
    }

    deinit {
        if let staging { munmap(staging, budget) }
        bounce.deallocate()
    }

    /// Byte offset in the pages payload where the next reserved bytes will land.
    var offset: UInt64 { writer.length + UInt64(staged) }

    /// Largest count one `reserve` call accepts.
    var chunkSize: Int { bounceSize }

    /// Returns memory for `count` bytes (at most `chunkSize`), to be filled and then passed to `commit`.
    func reserve(_ count: Int) throws -> UnsafeMutableRawPointer {
        if !streaming, let staging, staged + count <= budget {
            return staging + staged
        }
        if !streaming {
            try flush()
            streaming = true
        }
        return bounce
    }

    /// Keeps the `count` bytes just written into the memory `reserve` returned.
    func commit(_ count: Int) throws {
        if streaming {
            // The checksum and hashes are computed on the writer's digest thread, off this one, which may hold the target.
            try writer.appendDeferred(bounce, count: count)
        } else {
            staged += count
        }
    }

    /// Writes the staged pages, and from then on sends every page straight
    /// to the section. Called once the targets are released: staging pages
    /// read after that only adds a copy.
    func stream() throws {
        try flush()
        streaming = true
    }

    /// Has `copy` write `count` bytes of its memory at `address` to the end
    /// of the section, and returns how many it wrote (see `CopyPageWriter.write`).
    func appendFromCopy(_ copy: CopyPageWriter, address: UInt64, count: Int) throws -> Int {
        precondition(streaming, "a copy writes only to a streaming sink")
        let written = try copy.write(address: address, count: count, at: writer.endOffset)
        writer.adoptWritten(count: written)
        return written
    }

    /// Writes the staged pages to the page section. Called once the target is released.
    func flush() throws {
        guard let staging, staged > 0 else { return }
        var done = 0
        while done < staged {
            // Chunks of the bounce size, which the digest thread checksums while the next one is written.
            let count = min(staged - done, bounceSize)
            try writer.appendDeferred(staging + done, count: count)
            done += count
        }
        staged = 0
        _ = madvise(staging, budget, MADV_DONTNEED)
    }
}
