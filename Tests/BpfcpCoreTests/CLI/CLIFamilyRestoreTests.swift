@testable import BpfcpCore
import XCTest

/// Runs `bpfcp dump --tree --kill` and `bpfcp restore` on the restore_family
/// fixture as a user would, and lets the restored family check itself.
final class CLIFamilyRestoreTests: XCTestCase {
    func testDumpTreeThenRestore() throws {
        try requireBPF()
        let dir = try RestoredProcess.makeDirectory()
        let fixture = try Fixture(c: "restore_family", arguments: [dir])
        var family = ["parent": fixture.pid]
        for name in ["zombie", "stopped", "worker", "grandchild"] {
            family[name] = try XCTUnwrap(fixture.int(name).map { Int32($0) }, "no \(name) in \(fixture.firstLine)")
        }
        defer {
            for pid in family.values where pid != fixture.pid { kill(pid, SIGKILL) }
            kill(fixture.pid, SIGKILL)
        }
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")

        let dump = try CLI.run(["dump", "\(fixture.pid)", "-D", dir + "/image", "--tree", "--kill"])
        XCTAssertEqual(dump.status, 0, dump.out + dump.err)
        fixture.stop()
        for (name, pid) in family {
            XCTAssertTrue(FamilyRestoreTests.waitGone(pid), "the original \(name) \(pid) is still there")
        }

        let restore = try CLI.run(["restore", "-D", dir + "/image"])
        XCTAssertEqual(restore.status, 0, restore.out + restore.err)
        XCTAssertTrue(restore.outLines.contains { $0.hasPrefix("restored process \(fixture.pid) in ") }, restore.out)
        XCTAssertTrue(restore.outLines.contains("  with zombie \(family["zombie"]!)"), restore.out)
        XCTAssertTrue(restore.outLines.contains("  with process \(family["grandchild"]!)"), restore.out)
        XCTAssertEqual(try RestoredProcess.ask(dir: dir), "pass")
    }
}
