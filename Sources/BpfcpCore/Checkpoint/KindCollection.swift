import Foundation

/// The resource-kind collectors of one held process, on a background thread.
///
/// The thread reads every kind while the target is held (`waitGathered()`),
/// then waits for `build()`, called once the target runs again, to turn the
/// items into sections while the caller writes the pages. `sections()`
/// returns them or rethrows the first error.
final class KindCollection: @unchecked Sendable {
    private let gathered = DispatchSemaphore(value: 0)
    private let released = DispatchSemaphore(value: 0)
    private let built = DispatchSemaphore(value: 0)
    // Each result is written by the background thread before it signals the
    // matching semaphore, and read by the caller only after waiting on it.
    private var builders: Result<[@Sendable () throws -> Section], Error> = .success([])
    private var result: Result<[Section], Error> = .success([])
    private var abandoned = false
    private(set) var elapsedNs: UInt64 = 0

    init(_ process: ProcessEntry, kinds: [KindDescriptor]) {
        Thread.detachNewThread { [self] in
            let gatherStart = Clock.now()
            builders = Result { try Checkpointer.gatherKinds(process, kinds: kinds) }
            elapsedNs = Clock.now() - gatherStart
            gathered.signal()

            released.wait()
            guard !abandoned, case .success(let steps) = builders else {
                built.signal()
                return
            }
            let buildStart = Clock.now()
            result = Result { try Checkpointer.buildKinds(process, steps) }
            elapsedNs += Clock.now() - buildStart
            built.signal()
        }
    }

    /// Waits until every collector has read the held process. Rethrows a collector's error.
    func waitGathered() throws {
        gathered.wait()
        _ = try builders.get()
    }

    /// Lets the thread build the sections. Call once the target is released.
    func build() {
        released.signal()
    }

    /// Stops the thread after gathering without building anything, for a capture that failed.
    func abandon() {
        abandoned = true
        released.signal()
    }

    /// Returns the sections once `build()` has run them. Rethrows the first error.
    func sections() throws -> [Section] {
        built.wait()
        _ = try builders.get()
        return try result.get()
    }
}
