import Foundation

extension Restore {
    /// Restores every process of a `--tree` image. The report's pid is the
    /// root's, and each difference found in another member names it in its key.
    static func runFamily(_ checkpoint: Checkpoint, options: RestoreOptions, verify: Bool, start: UInt64) throws -> RestoreReport {
        let openNs = Clock.now() - start
        let family = try FamilyPlanning.build(checkpoint)
        let planNs = Clock.now() - start - openNs

        var differences: [VerifyDifference] = []
        var verifyNs: UInt64 = 0
        let outcome = try FamilyRestorer.restore(family, options: options, verify: verify ? { member, pid, tids, pids in
            let verifyStart = Clock.now()
            defer { verifyNs += Clock.now() - verifyStart }
            var found: [VerifyDifference]
            do {
                found = try RestoreVerifier.verify(member.image, info: checkpoint.info, pid: pid, plan: member.plan!, tids: tids, family: pids)
            } catch {
                found = [VerifyDifference(kind: "verify", key: "process \(pid)", summary: "verification failed: \(error)",
                                          expected: false, reason: nil)]
            }
            if member.pid != family.root.pid {
                found = found.map { difference in
                    var copy = difference
                    if !copy.key.hasPrefix("process ") { copy.key = "process \(pid) \(copy.key)" }
                    return copy
                }
            }
            differences += found
        } : nil)

        let rootPid = outcome.members.first { $0.imagePid == family.root.pid }?.pid ?? family.root.pid
        var report = RestoreReport(imagePid: family.root.pid, pid: rootPid, syscalls: outcome.syscalls, elapsedNs: Clock.now() - start - verifyNs,
                                   verified: verify, verifyNs: verifyNs, openNs: openNs, planNs: planNs, differences: differences,
                                   lowered: family.members.flatMap { $0.plan?.settings.lowered ?? [] })
        report.members = outcome.members
        (report.phases.openNs, report.phases.planNs, report.phases.verifyNs) = (openNs, planNs, verifyNs)
        return report
    }
}
