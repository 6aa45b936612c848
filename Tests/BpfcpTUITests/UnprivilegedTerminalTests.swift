import Foundation
import XCTest

/// bpfcp-top run as an unprivileged user (uid 65534 through setpriv).
final class UnprivilegedTerminalTests: XCTestCase {
    /// `c` without root shows in the status bar that it needs root and how to
    /// get it, instead of the EPERM from loading BPF.
    func testCheckpointNeedsRoot() throws {
        let session = try TmuxSession(width: 160, height: 30)
        let binary = try bpfcpTopBinary()
        try session.command("setpriv --reuid=65534 --regid=65534 --clear-groups env BPFCP_LOG=/dev/null \(binary)")
        XCTAssertTrue(session.waitFor("eBPF needs root"), "bpfcp-top did not start as uid 65534:\n\(session.screen)")

        try session.keys("c")
        let message = "checkpoint needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE): quit and run `sudo bpfcp-top`"
        XCTAssertTrue(session.waitFor(message), "no needs-root message in the status bar:\n\(session.screen)")
        XCTAssertFalse(session.screen.contains("Operation not permitted"), session.screen)
        try session.keys("q")
    }
}
