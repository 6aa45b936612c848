import Foundation

/// Runs fsync of finished files on a few threads of its own, so the caller
/// can encode and write the next files meanwhile, and the file system can
/// commit several files' fsyncs together.
final class FileSyncer: @unchecked Sendable {
    private let condition = NSCondition()
    private let maxThreads: Int
    // Guarded by `condition`.
    private var pending: [String] = []
    private var threads = 0
    private var idle = 0
    private var closed = false
    private var failure: Error?

    init(maxThreads: Int = 4) {
        self.maxThreads = maxThreads
    }

    /// Queues an fsync of `path`.
    func add(_ path: String) {
        condition.lock()
        defer { condition.unlock() }
        precondition(!closed, "FileSyncer.add after finish")
        pending.append(path)
        if idle == 0 && threads < maxThreads {
            threads += 1
            Thread.detachNewThread { [self] in work() }
        }
        condition.signal()
    }

    /// Waits until every queued fsync has run and stops the threads.
    /// Rethrows the first failure. Later calls return at once.
    func finish() throws {
        condition.lock()
        closed = true
        condition.broadcast()
        while threads > 0 { condition.wait() }
        let failure = failure
        condition.unlock()
        if let failure { throw failure }
    }

    private func work() {
        condition.lock()
        while true {
            while pending.isEmpty && !closed {
                idle += 1
                condition.wait()
                idle -= 1
            }
            guard !pending.isEmpty else { break }
            let path = pending.removeFirst()
            condition.unlock()
            let result = Result { try syncFile(path) }
            condition.lock()
            if case .failure(let error) = result, failure == nil { failure = error }
        }
        threads -= 1
        condition.broadcast()
        condition.unlock()
    }
}
