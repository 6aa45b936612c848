import Foundation

/// The payload checksum of pages.img, computed on a thread of its own.
///
/// The pages are nearly all the bytes of an image, so restore checks them
/// while it decodes the other sections, plans, spawns the new process and
/// loads its memory. It waits for the result before the process gets
/// anything else (fds, threads, registers). A corrupt section then fails the
/// restore with the same refusal `CheckpointImage.open` gives, after the
/// half-made process is killed: it never ran an instruction of its own, and
/// nothing outside it was created yet.
final class PagesCheck: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    // Written by the thread before it signals `done`, read only after waiting on it.
    private var result: Result<Void, Error> = .success(())
    private var elapsed: UInt64 = 0
    private var joined = false

    /// Starts checking the pages section at `path` against its own header,
    /// which the caller has compared with the manifest.
    init(path: String) {
        Thread.detachNewThread { [self] in
            let start = Clock.now()
            result = Result { _ = try SectionReader.verify(path: path, section: "pages", expected: .pages) }
                .mapError { ImageError.located($0, in: CheckpointImage.parentDirectory(of: path)) }
            elapsed = Clock.now() - start
            done.signal()
        }
    }

    /// Waits for the check and throws its refusal. Returns the nanoseconds
    /// waited; later calls return at once.
    @discardableResult
    func wait() throws -> UInt64 {
        let start = Clock.now()
        if !joined {
            done.wait()
            joined = true
        }
        try result.get()
        return Clock.now() - start
    }

    /// The time the check took on its thread, once `wait` has returned.
    var checkNs: UInt64 { joined ? elapsed : 0 }
}
