import Foundation

/// The resource-kind collectors of one held process, running on a
/// background thread; `wait()` returns their sections or rethrows their error.
final class KindCollection: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    // Written once by the background thread before it signals `done`, read only after `wait()`.
    private var result: Result<[Section], Error> = .success([])
    private(set) var elapsedNs: UInt64?

    init(_ process: ProcessEntry, kinds: [KindDescriptor]) {
        Thread.detachNewThread { [self] in
            let start = Clock.now()
            result = Result { try Checkpointer.collectKinds(process, kinds: kinds) }
            elapsedNs = Clock.now() - start
            done.signal()
        }
    }

    func wait() throws -> [Section] {
        done.wait()
        return try result.get()
    }
}
