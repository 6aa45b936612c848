import Foundation
import XCTest

/// The scratch directories of the running test, removed once it has
/// finished. Restore tests keep whole images in them, with up to 128 MiB
/// of pages each, so a full run used to leave gigabytes under /tmp.
final class ScratchDirectories: NSObject, XCTestObservation, @unchecked Sendable {
    private static let shared = ScratchDirectories()
    /// Guards `registered` and `paths`.
    private let lock = NSLock()
    private var registered = false
    private var paths: [String] = []

    /// Adds `path` to the directories removed when the current test ends.
    static func removeAfterTest(_ path: String) {
        shared.add(path)
    }

    private func add(_ path: String) {
        lock.lock()
        defer { lock.unlock() }

        if !registered {
            XCTestObservationCenter.shared.addTestObserver(self)
            registered = true
        }
        paths.append(path)
    }

    func testCaseDidFinish(_ testCase: XCTestCase) {
        lock.lock()
        let finished = paths
        paths = []
        lock.unlock()

        for path in finished {
            try? FileManager.default.removeItem(atPath: path)
        }
    }
}
