import Foundation

/// The resource-kind collectors of one held process, on a background thread.
///
/// The thread reads every kind while the target is held (`waitGathered()`).
/// Once `targetReleased()` is called, it turns the items into sections
/// while the caller writes the pages. The steps that read other processes
/// (`ResourceKind.completesFromOtherProcesses`) wait for `copiesRemoved()`,
/// because a snapshot copy shares the target's fd table and would show up
/// among them. Each section gets the thread states read before the freeze
/// and, for an image, is encoded as soon as it is built. `sections()`
/// returns the result or rethrows the first error.
final class KindCollection: @unchecked Sendable {
    /// The sections of one process and, when requested, its process section encoded for the image.
    struct Finished {
        let sections: [Section]
        let encoded: [UInt8]?
    }

    private let gathered = DispatchSemaphore(value: 0)
    private let released = DispatchSemaphore(value: 0)
    private let copiesGone = DispatchSemaphore(value: 0)
    private let built = DispatchSemaphore(value: 0)
    // Each result is written by the background thread before it signals the
    // matching semaphore, and read by the caller only after waiting on it.
    private var steps: Result<[KindStep], Error> = .success([])
    private var result: Result<Finished, Error> = .success(Finished(sections: [], encoded: nil))
    private var abandoned = false
    private(set) var elapsedNs: UInt64 = 0

    /// Starts the collectors of the held `process`. `preFreeze` replaces held
    /// thread states in the sections, and `encoder`, when given, encodes the
    /// process section of the image.
    init(_ process: ProcessEntry, kinds: [KindDescriptor], preFreeze: PreFreezeState?, encoder: ProcessSectionEncoder?) {
        Thread.detachNewThread { [self] in
            let gatherStart = Clock.now()
            steps = Result { try Self.gather(process, kinds: kinds) }
            elapsedNs = Clock.now() - gatherStart
            gathered.signal()

            released.wait()
            guard case .success(let steps) = steps else { return }
            result = Result { try build(process, steps, preFreeze: preFreeze, encoder: encoder) }
            built.signal()
        }
    }

    /// Waits until every collector has read the held process. Rethrows a collector's error.
    func waitGathered() throws {
        gathered.wait()
        _ = try steps.get()
    }

    /// Lets the thread build the sections that need nothing more from other
    /// processes. Call once the target is released.
    func targetReleased() {
        released.signal()
    }

    /// Lets the thread run the steps that read other processes. Call once
    /// every snapshot copy is removed.
    func copiesRemoved() {
        copiesGone.signal()
    }

    /// Stops the thread without building anything more, for a capture that failed.
    func abandon() {
        abandoned = true
        released.signal()
        copiesGone.signal()
    }

    /// Returns the finished sections. Call after `targetReleased()` and
    /// `copiesRemoved()`. Rethrows the first error.
    func sections() throws -> Finished {
        _ = try steps.get()
        built.wait()
        return try result.get()
    }

    /// Runs the steps that read nothing more from other processes, then, once
    /// the copies are gone, the others. Returns the sections in kind order.
    private func build(_ process: ProcessEntry, _ steps: [KindStep], preFreeze: PreFreezeState?,
                       encoder: ProcessSectionEncoder?) throws -> Finished {
        var sections = [Section?](repeating: nil, count: steps.count)
        var encoded = [[UInt8]](repeating: [], count: steps.count)
        for waiting in [false, true] {
            if waiting { copiesGone.wait() }
            for (index, step) in steps.enumerated() where step.fromOtherProcesses == waiting {
                if abandoned { throw CancellationError() }
                let start = Clock.now()
                let built = try Self.run(step, of: process)
                elapsedNs += Clock.now() - start
                let section = preFreeze?.apply(to: [built])[0] ?? built
                sections[index] = section
                if let encoder { encoded[index] = try encoder.encode(section) }
            }
        }
        return Finished(sections: sections.map { $0! }, encoded: try encoder?.payload(encoded))
    }

    /// The step that builds one kind's section, as its collector returned it.
    struct KindStep {
        let fromOtherProcesses: Bool
        let build: @Sendable () throws -> Section
    }

    /// Reads every kind of the held process, so kinds added to
    /// `KindRegistry` are part of every image without changes here.
    /// Returns the steps that build their sections once it is released.
    static func gather(_ process: ProcessEntry, kinds: [KindDescriptor]) throws -> [KindStep] {
        let target = Target(pid: process.pid, process: process)
        return try kinds.map { kind in
            do {
                return KindStep(fromOtherProcesses: kind.completesFromOtherProcesses, build: try kind.gather(target, .bpf))
            } catch let error as BpfcpError {
                throw BpfcpError(error.code, "collecting \(kind.name) of process \(process.pid) failed: \(error.message)")
            }
        }
    }

    private static func run(_ step: KindStep, of process: ProcessEntry) throws -> Section {
        do {
            return try step.build()
        } catch let error as BpfcpError {
            throw BpfcpError(error.code, "building the sections of process \(process.pid) failed: \(error.message)")
        }
    }
}
