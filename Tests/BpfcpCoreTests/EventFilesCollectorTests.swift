@testable import BpfcpCore
import XCTest

final class EventFilesCollectorTests: XCTestCase {
    /// The table and the fields show durations with units only, never bare
    /// nanoseconds; JSON keeps the nanoseconds.
    func testTimerDurationsAreNamed() throws {
        var timer = EventFile(fd: 5, type: "timerfd", flags: [], closeOnExec: false)
        timer.clock = "CLOCK_MONOTONIC"
        timer.armed = true
        timer.intervalNs = 1_000_000_000
        timer.nextExpiryNs = 807_618_083
        let entry = EventFilesKind.entry(timer)

        let state = try XCTUnwrap(entry.cells.last)
        XCTAssertTrue(state.contains("interval 1 s"), state)
        XCTAssertTrue(state.contains("next expiry in 807.618 ms"), state)
        XCTAssertFalse(state.contains("807618083"), state)
        XCTAssertEqual(entry.fields.first { $0.name == "next expiry in" }?.value, "807.618 ms")

        let json = String(decoding: try JSONCoding.encoder.encode(timer), as: UTF8.self)
        XCTAssertTrue(json.contains("\"next_expiry_ns\":807618083"), json)
        XCTAssertTrue(json.contains("\"interval_ns\":1000000000"), json)
    }

    func testDurationUnits() {
        XCTAssertEqual(EventNames.duration(0), "0")
        XCTAssertEqual(EventNames.duration(250_000_000), "250 ms")
        XCTAssertEqual(EventNames.duration(1_500_000_000), "1500 ms")
        XCTAssertEqual(EventNames.duration(2_000), "2 µs")
        XCTAssertEqual(EventNames.duration(1_234_567_891), "1.235 s")
        XCTAssertEqual(EventNames.duration(1_001), "1.001 µs")
        XCTAssertEqual(EventNames.duration(999), "999 ns")
    }

    func testEventFilesMatchFixture() throws {
        try requireBPF()
        let fixture = try Fixture(c: "event_files")
        let files = try EventFilesKind.collectBPF(pid: fixture.pid)
        let byFd = Dictionary(uniqueKeysWithValues: files.map { ($0.fd, $0) })
        func file(_ key: String) throws -> EventFile {
            try XCTUnwrap(byFd[Int32(try XCTUnwrap(fixture.int(key)))], "\(key) not collected")
        }
        XCTAssertEqual(files.count, 6)

        let eventfd = try file("eventfd")
        XCTAssertEqual(eventfd.type, "eventfd")
        XCTAssertEqual(eventfd.count, 42)
        XCTAssertEqual(eventfd.flags, ["EFD_SEMAPHORE", "EFD_NONBLOCK"])

        let timer = try file("timerfd")
        XCTAssertEqual(timer.clock, "CLOCK_BOOTTIME")
        XCTAssertEqual(timer.armed, true)
        XCTAssertEqual(timer.intervalNs, 0)
        let next = try XCTUnwrap(timer.nextExpiryNs)
        XCTAssertGreaterThan(next, 90_000_000_000)
        XCTAssertLessThanOrEqual(next, 100_000_000_000)

        let idle = try file("idle_timerfd")
        XCTAssertEqual(idle.clock, "CLOCK_REALTIME")
        XCTAssertEqual(idle.armed, false)
        XCTAssertNil(idle.nextExpiryNs)
        XCTAssertEqual(idle.flags, ["TFD_NONBLOCK"])

        let signalfd = try file("signalfd")
        XCTAssertEqual(signalfd.signals, ["SIGUSR1", "SIGRTMIN"])

        XCTAssertEqual(try file("live_pidfd").type, "pidfd")
        XCTAssertEqual(try file("live_pidfd").targetPid, fixture.int("live_pid").map(Int32.init))
        XCTAssertEqual(try file("dead_pidfd").targetPid, -1)
    }

    func testEventFilesEqualProcOracle() throws {
        try requireBPF()
        let fixture = try Fixture(c: "event_files")
        let bpf = try EventFilesKind.collectBPF(pid: fixture.pid)
        let proc = try EventFilesProc.collect(pid: fixture.pid)
        XCTAssertEqual(bpf.count, proc.count)
        for (a, b) in zip(bpf, proc) {
            var a = a
            var b = b
            // Time passes between the two reads, so only the rounded seconds must agree.
            a.nextExpiryNs = a.nextExpiryNs.map { ($0 + 500_000_000) / 1_000_000_000 }
            b.nextExpiryNs = b.nextExpiryNs.map { ($0 + 500_000_000) / 1_000_000_000 }
            XCTAssertEqual(a, b, "fd \(a.fd) differs between BPF and /proc")
        }
    }

    /// BC26: a 1 ms periodic timerfd read in a tight loop stays armed even
    /// in the moments when its current value reads zero.
    func testFastPeriodicTimerStaysArmed() throws {
        try requireBPF()
        let fixture = try SharedCase.startC("bc26_timerfd.c")
        let pid = try XCTUnwrap(SharedCase.number(after: "pid", in: fixture.firstLine))
        let fd = try XCTUnwrap(SharedCase.number(after: "timerfd", in: fixture.firstLine))

        for _ in 0..<200 {
            let timer = try XCTUnwrap(try EventFilesKind.collectBPF(pid: pid).first { $0.fd == fd })
            XCTAssertEqual(timer.intervalNs, 1_000_000)
            XCTAssertEqual(timer.clock, "CLOCK_MONOTONIC")
            XCTAssertEqual(timer.armed, true, "timer read as disarmed, next expiry \(String(describing: timer.nextExpiryNs))")
            XCTAssertLessThanOrEqual(timer.nextExpiryNs ?? -1, 1_000_000)
            XCTAssertGreaterThanOrEqual(timer.nextExpiryNs ?? -1, 0)
        }
        let entry = EventFilesKind.entry(try XCTUnwrap(try EventFilesKind.collectBPF(pid: pid).first { $0.fd == fd }))
        XCTAssertTrue(entry.fields.contains(Field("interval", "1 ms")))
    }

    /// BC42: the pidfd of a live child shows its pid, the pidfd of a reaped child -1.
    func testPidfdOfLiveAndReapedChild() throws {
        try requireBPF()
        let fixture = try SharedCase.startC("bc42_pidfd.c")
        let line = fixture.firstLine
        let parent = try XCTUnwrap(SharedCase.number(after: "parent", in: line))
        let numbers = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int32($0) }
        XCTAssertEqual(numbers.count, 5, "unexpected first line: \(line)")
        let (live, liveFd, deadFd) = (numbers[1], numbers[2], numbers[4])

        let files = try EventFilesKind.collectBPF(pid: parent)
        let livePidfd = try XCTUnwrap(files.first { $0.fd == liveFd })
        let deadPidfd = try XCTUnwrap(files.first { $0.fd == deadFd })
        XCTAssertEqual(livePidfd.type, "pidfd")
        XCTAssertEqual(livePidfd.targetPid, live)
        XCTAssertEqual(deadPidfd.type, "pidfd")
        XCTAssertEqual(deadPidfd.targetPid, -1)
        XCTAssertEqual(EventFilesKind.entry(deadPidfd).fields.last, Field("target pid", "-1 (reaped)"))
    }
}
