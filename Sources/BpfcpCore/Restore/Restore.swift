import Foundation

/// The result of `bpfcp restore`.
public struct RestoreReport: Codable, Sendable {
    /// Pid of the process in the image.
    public var imagePid: Int32
    public var pid: Int32
    /// System calls injected into the new process, the final munmap included.
    public var syscalls: Int
    /// From opening the image to the final registers loaded.
    public var elapsedNs: UInt64
    public var verified: Bool
    public var verifyNs: UInt64
    /// Time spent opening and checking the image, and planning the restore, in nanoseconds.
    public var openNs: UInt64
    public var planNs: UInt64
    public var differences: [VerifyDifference]
    /// Settings restored lower than the image holds, each with the reason (resource limits, capabilities).
    public var lowered: [String] = []
    /// The time of each phase of the restore.
    public var phases = RestorePhases()

    /// Every process of a family image with its restored pid; empty for a single process.
    public var members: [RestoredMember] = []

    public var unexpected: [VerifyDifference] { differences.filter { !$0.expected } }
}

/// Restores a process from a checkpoint image.
public enum Restore {
    /// Runs the checks that `run` makes on an image before it creates any
    /// process, and creates nothing. Throws the rejection `run` would throw,
    /// which names the resource.
    public static func check(_ checkpoint: Checkpoint, imageDirectory dir: String) throws {
        guard let image = checkpoint.process(checkpoint.info.rootPid) else {
            throw BpfcpError("image_invalid", "image \(Escape.text(dir)) does not hold its root process \(checkpoint.info.rootPid); \(ImageError.damaged)")
        }
        if checkpoint.processes.count > 1 {
            _ = try FamilyPlanning.build(checkpoint)
        } else {
            _ = try plan(image, checkpoint: checkpoint)
        }
    }

    /// Opens the image at `dir` (checksums and format version are checked
    /// there, the pages' alongside the restore: see `PagesCheck`), plans
    /// the restore, rejecting what it cannot rebuild, and runs it.
    public static func run(imageDirectory dir: String, options: RestoreOptions, verify: Bool = true) throws -> RestoreReport {
        let start = Clock.now()
        if verify { VerifyPreload.start() }
        let (checkpoint, pagesCheck) = try CheckpointImage.openDeferringPages(dir)
        guard let image = checkpoint.process(checkpoint.info.rootPid) else {
            throw BpfcpError("image_invalid", "image \(Escape.text(dir)) does not hold its root process \(checkpoint.info.rootPid); \(ImageError.damaged)")
        }
        if checkpoint.processes.count > 1 {
            let waitNs = try pagesCheck.wait()
            return try runFamily(checkpoint, options: options, verify: verify, start: start,
                                 pagesCheck: (checkNs: pagesCheck.checkNs, waitNs: waitNs))
        }
        // A corrupt pages section explains any failure before its check
        // ended (a plan that read a damaged stack, for one), so its refusal wins.
        do {
            return try runProcess(image, checkpoint: checkpoint, pagesCheck: pagesCheck, options: options, verify: verify, start: start)
        } catch {
            try pagesCheck.wait()
            throw error
        }
    }

    private static func runProcess(_ image: ProcessImage, checkpoint: Checkpoint, pagesCheck: PagesCheck, options: RestoreOptions,
                                   verify: Bool, start: UInt64) throws -> RestoreReport {
        let openNs = Clock.now() - start
        let (plan, shared) = try plan(image, checkpoint: checkpoint)
        let planNs = Clock.now() - start - openNs

        var differences: [VerifyDifference] = []
        var verifyNs: UInt64 = 0
        let outcome = try ProcessRestorer.restore(plan, shared: shared, options: options, pagesCheck: pagesCheck, beforeDetach: verify ? { pid, tids in
            let verifyStart = Clock.now()
            defer { verifyNs = Clock.now() - verifyStart }
            do {
                differences = try RestoreVerifier.verify(image, info: checkpoint.info, pid: pid, plan: plan, options: options, tids: tids)
            } catch {
                differences = [VerifyDifference(kind: "verify", key: "process \(pid)", summary: "verification failed: \(error)",
                                                expected: false, reason: nil)]
            }
        } : nil)
        let elapsed = Clock.now() - start - verifyNs
        var phases = outcome.phases
        (phases.openNs, phases.planNs, phases.verifyNs) = (openNs, planNs, verifyNs)
        return RestoreReport(imagePid: image.pid, pid: outcome.pid, syscalls: outcome.syscalls, elapsedNs: elapsed,
                             verified: verify, verifyNs: verifyNs, openNs: openNs, planNs: planNs, differences: differences,
                             lowered: plan.settings.lowered, phases: phases)
    }

    /// Plans a single process, with the objects and open file descriptions that its fds and areas share.
    private static func plan(_ image: ProcessImage, checkpoint: Checkpoint) throws -> (RestorePlan, SharedPlan) {
        let shared = try SharedPlanning.build([image], checkpoint: checkpoint)
        return (try ImagePlan.build(image, checkpoint: checkpoint, shared: shared.member(image.pid)), shared)
    }
}
