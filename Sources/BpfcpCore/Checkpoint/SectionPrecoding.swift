import Foundation

/// Encodes image sections on a background thread while the pages are
/// written, so that writing the image after them has less to do.
///
/// The threads and queues sections are final once the targets are
/// released, so they are encoded for the image. A memory section and a
/// manifest are encoded once and dropped, because the pages are not all
/// written yet. The first encode of each type makes the Swift runtime look
/// up the protocol conformances of its coding keys. Each lookup scans the
/// conformance tables of the binary, about 0.1-0.3 ms per type in `perf`
/// profiles of tools/bench/checkpoint.sh on a 2-core VM.
final class SectionPrecoding: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    // Written by the background thread before it signals `done`, read only after waiting on it.
    private var encoded: [String: [UInt8]] = [:]

    init(_ images: [ProcessImage], stats: CaptureStats) {
        Thread.detachNewThread { [self] in
            for image in images {
                encoded["threads-\(image.pid)"] = try? CheckpointImage.encode(ThreadsPayload(pid: image.pid, threads: image.threads))
                if !image.queues.isEmpty {
                    encoded["queues-\(image.pid)"] = try? CheckpointImage.encode(QueuesPayload(pid: image.pid, queues: image.queues))
                }
            }
            Self.warmUp(images, stats: stats)
            done.signal()
        }
    }

    /// Returns the sections encoded for the image, by section name ("threads-PID").
    /// A section whose encoding failed is left out, for the image writer to encode and report.
    func sections() -> [String: [UInt8]] {
        done.wait()
        return encoded
    }

    /// Encodes the memory section of the first process, and a manifest, and drops the bytes.
    private static func warmUp(_ images: [ProcessImage], stats: CaptureStats) {
        guard let image = images.first else { return }
        let memory = MemoryPayload(pid: image.pid, pageSize: Checkpointer.pageSize(), areas: image.memory,
                                   files: image.files.isEmpty ? nil : image.files)
        _ = try? CheckpointImage.encode(memory)

        var sample = stats
        sample.phases = CapturePhases()
        let info = CheckpointInfo(rootPid: image.pid, tree: false, takenAt: 0, toolVersion: bpfcpVersion, kernelRelease: "",
                                  pageSize: Checkpointer.pageSize(), stats: sample)
        let section = ManifestSection(name: "", file: "", type: "", payloadLength: 0, crc32c: "")
        let manifest = Manifest(formatVersion: ImageFormat.version, info: info, processes: [ManifestProcess(pid: image.pid)],
                                sections: [section])
        _ = try? CheckpointImage.encode(manifest)
    }
}
