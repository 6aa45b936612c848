@testable import BpfcpCore
import Foundation

/// Waits until every thread of `pid` shows one of `states` in
/// /proc/PID/task/TID/stat, so that a test does not race a fixture that has
/// printed READY but not yet blocked. Returns false after `timeout` seconds.
@discardableResult
func waitForThreads(of pid: Int32, in states: Set<String> = ["S"], timeout: TimeInterval = 5) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        let tids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        let settled = !tids.isEmpty && tids.allSatisfy { tid in
            guard let stat = try? StatLine(ProcFS.readBytes("/proc/\(pid)/task/\(tid)/stat")) else { return false }
            return states.contains(stat.state)
        }
        if settled { return true }
        usleep(10_000)
    }
    return false
}
