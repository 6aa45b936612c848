import Foundation

/// The snapshot stages of `Checkpointer`: copies made while held, pages
/// read from them after the release.
extension Checkpointer {
    /// Makes a copy of each held process that has private pages left to
    /// read. Where no copy can be made, those pages are read now, from the
    /// held process, and the reason goes to `stats`.
    static func makeSnapshots(_ captured: inout [HeldProcess], freezer: Freezer, memory: MemoryCapture,
                              guardian: SnapshotGuardian?, obstacles: [Int32: String], snapshots: inout [(index: Int, snapshot: Snapshot)],
                              stats: inout CaptureStats) throws {
        var fallbacks: [String] = []
        for index in captured.indices {
            guard var pages = captured[index].pages else { continue }
            let pid = pages.pid
            if let obstacle = obstacles[pid] { fallbacks.append("process \(pid): \(obstacle)") }
            guard !pages.pending.isEmpty else { continue }
            try freezer.checkInterrupted()

            let (snapshot, reason) = Snapshot.make(pid: pid, freezer: freezer, guardian: guardian)
            if let snapshot {
                snapshots.append((index, snapshot))
                continue
            }
            fallbacks.append("process \(pid): \(reason)")
            let start = Clock.now()
            captured[index].image.memory = try memory.finish(&pages, from: pid)
            captured[index].pages = pages
            stats.memoryNs += Clock.now() - start
        }
        let copied = snapshots.count
        let members = captured.filter { $0.pages != nil }.count
        if copied == 0 {
            stats.memorySource = "held"
        } else {
            stats.memorySource = copied == members ? "snapshot" : "mixed"
        }
        stats.snapshotFallback = fallbacks.isEmpty ? nil : fallbacks.joined(separator: "; ")
    }

    /// Has each snapshot copy write its private pages, now that the targets
    /// run again, or reads them from it where it cannot (`CopyPageWriter`),
    /// and removes the copy as soon as its pages are saved.
    static func readCopies(_ captured: inout [HeldProcess], snapshots: [(index: Int, snapshot: Snapshot)], memory: MemoryCapture,
                           freezer: Freezer, stats: inout CaptureStats) throws {
        guard !snapshots.isEmpty else { return }
        let start = Clock.now()
        // The pages read while held go first, so the copies write at the end of the file.
        try memory.sink.stream()
        stats.memoryNs += Clock.now() - start

        var fallbacks: [String] = []
        for (index, snapshot) in snapshots {
            guard var pages = captured[index].pages else { continue }
            let start = Clock.now()
            let (writer, reason) = CopyPageWriter.open(snapshot, path: memory.sink.writer.path)
            if writer == nil { fallbacks.append("process \(snapshot.pid): \(reason)") }
            let read = memory.pagesReadFromCopies
            captured[index].image.memory = try memory.finish(&pages, from: snapshot.copy, writer: writer)
            if let failure = writer?.failure {
                fallbacks.append("process \(snapshot.pid): \(failure)")
            } else if writer != nil && memory.pagesReadFromCopies > read {
                fallbacks.append("process \(snapshot.pid): \(memory.pagesReadFromCopies - read) pages the copy cannot read")
            }
            captured[index].pages = pages
            stats.memoryNs += Clock.now() - start
            stats.reapNs = (stats.reapNs ?? 0) + snapshot.dispose(freezer: freezer)
        }

        if memory.pagesReadFromCopies == 0 {
            stats.pageWriter = "copy"
        } else {
            stats.pageWriter = memory.pagesByCopies == 0 ? "bpfcp" : "mixed"
        }
        stats.pageWriterFallback = fallbacks.isEmpty ? nil : fallbacks.joined(separator: "; ")
    }
}
