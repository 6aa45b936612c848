import BpfcpCore
import XCTest

final class CLIPsTests: XCTestCase {
    func testTextRowOfFixture() throws {
        try requireBPF()
        let fixture = try Fixture(c: "cli_target")
        let binary = Fixture.repositoryRoot() + "/build/fixtures/cli_target"
        for source in [[], ["--proc"]] {
            let result = try CLI.run(["ps", "--pid", "\(fixture.pid)"] + source)
            XCTAssertEqual(result.status, 0, result.err)
            XCTAssertEqual(result.outLines.first, "    PID    PPID USER     S  THR       RSS      TIME COMMAND")
            let columns = try XCTUnwrap(result.outLines.last).split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            XCTAssertEqual(columns[0], "\(fixture.pid)")
            XCTAssertEqual(columns[1], "\(getpid())")
            XCTAssertEqual(columns[2], "root")
            XCTAssertEqual(columns[3], "S")
            XCTAssertEqual(columns[4], "2")
            XCTAssertEqual(columns[7], "00:00:00")
            XCTAssertEqual(columns.last, binary)
        }
    }

    func testUserFilter() throws {
        try requireBPF()
        let fixture = try Fixture(c: "cli_target")
        let asRoot = try CLI.run(["--json", "ps", "-u", "root", "--pid", "\(fixture.pid),\(getpid())"])
        let processes = try XCTUnwrap(try asRoot.json()["processes"] as? [[String: Any]])
        XCTAssertEqual(processes.compactMap { $0["pid"] as? Int }, [Int(getpid()), Int(fixture.pid)].sorted())
        XCTAssertEqual(Set(processes.compactMap { $0["user"] as? String }), ["root"])

        try assertOneLineError(["ps", "-u", "65534", "--pid", "\(fixture.pid)"], status: 1, code: "no_such_process",
                               message: "no process with pid \(fixture.pid) owned by user 65534 found: check the pid with `bpfcp ps`")

        let all = try CLI.run(["--json", "ps", "--user", "0"]).json()
        let uids = Set(try XCTUnwrap(all["processes"] as? [[String: Any]]).compactMap { $0["uid"] as? Int })
        XCTAssertEqual(uids, [0])
    }
}
