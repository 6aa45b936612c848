@testable import BpfcpCore
import XCTest

/// Whether a timerfd is armed, from eBPF (the hrtimer itself) and from
/// fdinfo, whose zero it_value fits both a disarmed timer with an interval
/// and an armed one at the instant it expires.
final class TimerfdArmedTests: XCTestCase {
    private var fixture: Fixture!

    override func setUpWithError() throws {
        try requireBPF()
        fixture = try Fixture(c: "timerfd_states")
    }

    override func tearDown() {
        fixture?.stop()
        fixture = nil
    }

    private func timer(_ files: [EventFile], _ key: String) throws -> EventFile {
        let fd = Int32(try XCTUnwrap(fixture.int(key), "fixture printed no \(key)"))
        return try XCTUnwrap(files.first { $0.fd == fd }, "no timerfd at fd \(fd) (\(key))")
    }

    func testBpfGivesTrueArmedState() throws {
        let files = try EventFilesKind.collectBPF(pid: fixture.pid)

        let disarmed = try timer(files, "disarmed")
        XCTAssertEqual(disarmed.armed, false)
        XCTAssertEqual(disarmed.intervalNs, 1_000_000_000)
        XCTAssertNil(disarmed.nextExpiryNs)

        let fired = try timer(files, "fired")
        XCTAssertEqual(fired.armed, true, "an expired periodic timer waits for a read to restart")
        XCTAssertEqual(fired.nextExpiryNs, 0)
        XCTAssertEqual(fired.ticks, 1)

        let pending = try timer(files, "pending")
        XCTAssertEqual(pending.armed, true)
        XCTAssertGreaterThan(try XCTUnwrap(pending.nextExpiryNs), 90_000_000_000)
    }

    func testProcSaysUnknownForDisarmedInterval() throws {
        let files = try EventFilesProc.collect(pid: fixture.pid)

        let disarmed = try timer(files, "disarmed")
        XCTAssertNil(disarmed.armed, "fdinfo cannot tell this timer from one that is expiring")
        XCTAssertEqual(disarmed.intervalNs, 1_000_000_000)
        XCTAssertNil(disarmed.nextExpiryNs)
        XCTAssertTrue(EventFilesKind.entry(disarmed).fields.contains(Field("armed", "unknown")))

        let fired = try timer(files, "fired")
        XCTAssertEqual(fired.armed, true, "ticks > 0 shows the expiry was not read, and settime would reset them")
        XCTAssertEqual(fired.nextExpiryNs, 0)
        XCTAssertTrue(EventFilesKind.entry(fired).fields.contains(Field("armed", "yes")))

        XCTAssertEqual(try timer(files, "pending").armed, true)
    }
}
