import Foundation

/// Time spent in each phase of one restore, in nanoseconds, for
/// `restore --json` and the restore benchmark. For a family image, each
/// phase from `sharedNs` to `registersNs` is the sum over its processes.
public struct RestorePhases: Codable, Sendable, Equatable {
    /// Opening the image: headers, checksums of the small sections, JSON decoding.
    public var openNs: UInt64 = 0
    /// Building the restore plan, with every rejection.
    public var planNs: UInt64 = 0
    /// Creating in restore's own process what the restored processes copy:
    /// shared pipes, socket pairs, objects and open file descriptions.
    public var sharedNs: UInt64 = 0
    /// Finding a free range for the trampoline, clone3 of the child and its
    /// first stop. For a family also the fork of every other process, their
    /// process groups and the pidfds restore opens for them.
    public var spawnNs: UInt64 = 0
    /// The address space: unmapping what the child inherited, mapping the
    /// areas, loading the pages, madvise and mprotect.
    public var memoryNs: UInt64 = 0
    /// Of `memoryNs`, loading the saved pages.
    public var pagesNs: UInt64 = 0
    /// Checking the checksum of the pages section on a thread of its own,
    /// alongside the JSON decoding, the plan, the spawn and the memory.
    public var pagesCheckNs: UInt64 = 0
    /// Time the restore waited for that check once the memory was rebuilt.
    public var pagesWaitNs: UInt64 = 0
    /// Session, comm, signal actions, rseq area, robust list, cwd, umask,
    /// nice value, scheduling policy, CPU affinity and personality.
    public var processNs: UInt64 = 0
    /// Reopening and creating every fd.
    public var filesNs: UInt64 = 0
    /// Creating the other threads, with their own settings and registers.
    public var threadsNs: UInt64 = 0
    /// Resource limits, root directory and credentials.
    public var settingsNs: UInt64 = 0
    /// Queuing the pending signals again.
    public var signalsNs: UInt64 = 0
    /// Creating the POSIX timers, and arming them and the interval timers.
    public var timersNs: UInt64 = 0
    /// Unmapping the trampoline and loading the main thread's registers.
    public var registersNs: UInt64 = 0
    /// Dumping the restored process and comparing it with the image (not part of `elapsed_ns`).
    public var verifyNs: UInt64 = 0

    public init() {}
}

/// Adds the time of each step to one field of `RestorePhases`.
final class PhaseTimer {
    private(set) var phases = RestorePhases()

    @discardableResult
    func measure<T>(_ field: WritableKeyPath<RestorePhases, UInt64>, _ body: () throws -> T) rethrows -> T {
        let start = Clock.now()
        defer { phases[keyPath: field] += Clock.now() - start }
        return try body()
    }

    func add(_ field: WritableKeyPath<RestorePhases, UInt64>, _ ns: UInt64) {
        phases[keyPath: field] += ns
    }
}
