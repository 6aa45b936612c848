import Foundation

extension Restore {
    /// Restores every process of a `--tree` image. The report's pid is the
    /// root's, and each difference found in another member names it in its
    /// key. `pagesCheck` gives the time of the pages checksum and the time
    /// restore waited for it before it started.
    static func runFamily(_ checkpoint: Checkpoint, options: RestoreOptions, verify: Bool, start: UInt64,
                          pagesCheck: (checkNs: UInt64, waitNs: UInt64)) throws -> RestoreReport {
        let openNs = Clock.now() - start - pagesCheck.waitNs
        let family = try FamilyPlanning.build(checkpoint)
        let planNs = Clock.now() - start - pagesCheck.waitNs - openNs

        var differences: [VerifyDifference] = []
        var verifyNs: UInt64 = 0
        var liveFiles: [Int32: [OpenFile]] = [:]
        let outcome = try FamilyRestorer.restore(family, options: options, verify: verify ? { member, pid, tids, pids in
            let verifyStart = Clock.now()
            defer { verifyNs += Clock.now() - verifyStart }
            var found: [VerifyDifference]
            do {
                found = try RestoreVerifier.verify(member.image, info: checkpoint.info, pid: pid, plan: member.plan!, options: options, tids: tids, family: pids,
                                                   dumped: { liveFiles[member.pid] = try? $0.section("files")?.items.map { try $0.decode(as: OpenFile.self) } })
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
        if verify {
            differences += try sharingDifferences(family, live: liveFiles, members: outcome.members)
        }

        let rootPid = outcome.members.first { $0.imagePid == family.root.pid }?.pid ?? family.root.pid
        var report = RestoreReport(imagePid: family.root.pid, pid: rootPid, syscalls: outcome.syscalls, elapsedNs: Clock.now() - start - verifyNs,
                                   verified: verify, verifyNs: verifyNs, openNs: openNs, planNs: planNs, differences: differences,
                                   lowered: family.members.flatMap { $0.plan?.settings.lowered ?? [] })
        report.members = outcome.members
        report.phases = outcome.phases
        (report.phases.openNs, report.phases.planNs, report.phases.verifyNs) = (openNs, planNs, verifyNs)
        (report.phases.pagesCheckNs, report.phases.pagesWaitNs) = (pagesCheck.checkNs, pagesCheck.waitNs)
        return report
    }

    /// Compares which fds share an open file description across the live
    /// members with the image. A member whose files the verifier could not
    /// read gets its own verification failure already, and is left out.
    private static func sharingDifferences(_ family: FamilyPlan, live: [Int32: [OpenFile]],
                                           members: [RestoredMember]) throws -> [VerifyDifference] {
        var saved: [Int32: [OpenFile]] = [:]
        for member in family.members where member.plan != nil && live[member.pid] != nil {
            saved[member.pid] = try member.image.items("files", as: OpenFile.self)
        }
        let pids = Dictionary(members.map { ($0.imagePid, $0.pid) }, uniquingKeysWith: { a, _ in a })
        return DescriptionSharing.compare(saved: saved, restored: live, pids: pids, root: family.root.pid)
    }
}
