@testable import BpfcpCore
import Foundation
import XCTest

/// The Registers and Saved memory tabs of an image opened with o, checked
/// under tmux against the values the image stores.
final class ImageTabsTerminalTests: XCTestCase {
    private var scratch: String?

    override func tearDown() {
        if let scratch { try? FileManager.default.removeItem(atPath: scratch) }
    }

    func testOpenedImageRegistersAndSavedMemory() throws {
        try requireBPF()
        var template = Array((NSTemporaryDirectory() + "bpfcp-top-tabs-XXXXXX").utf8CString)
        scratch = String(cString: try XCTUnwrap(mkdtemp(&template)))
        let image = try XCTUnwrap(scratch) + "/image"
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "1"])
        let region = try XCTUnwrap(fixture.values["region"].flatMap { UInt64($0) })
        try Checkpointer.dump(pid: fixture.pid, to: image, options: CaptureOptions(scratchDirectory: try XCTUnwrap(scratch)), kill: false)
        let root = try XCTUnwrap(try CheckpointImage.open(image).process(fixture.pid))

        let session = try TmuxSession(width: 160, height: 60)
        let log = NSTemporaryDirectory() + "bpfcp-top-test-\(getpid()).log"
        try session.command("BPFCP_LOG=\(log) \(try bpfcpTopBinary()) -d 5")
        XCTAssertTrue(session.waitFor("eBPF task/dump_procs"), "the process list did not appear:\n\(session.screen)")
        try session.keys("o", "C-u")
        try session.type(image)
        try session.keys("Enter")
        XCTAssertTrue(session.waitFor("\(image) (checkpoint)"), "o did not open the image:\n\(session.screen)")

        // The last three tabs are Registers, Saved memory and Saved files.
        try session.keys("Left", "Left", "Left")
        XCTAssertTrue(session.waitFor("FS_BASE"), "the Registers tab did not open:\n\(session.screen)")
        let screen = try session.capture()
        XCTAssertEqual(root.threads.count, 2)
        for thread in root.threads {
            let row = screen.split(separator: "\n").first { $0.contains(" \(thread.tid) ") && $0.contains(Format.hex(thread.registers["rip"] ?? 0)) }
            let cells = try XCTUnwrap(row, "no row for thread \(thread.tid):\n\(screen)").split(separator: " ").map(String.init)
            XCTAssertEqual(Array(cells.prefix(6)), ["+", "\(thread.tid)", Format.hex(thread.registers["rip"] ?? 0),
                                                    Format.hex(thread.registers["rsp"] ?? 0), Format.hex(thread.registers["fs_base"] ?? 0),
                                                    "\(thread.xsave.count)"], "row of thread \(thread.tid)")
        }

        let main = try XCTUnwrap(root.threads.first)
        try session.keys("Enter")
        XCTAssertTrue(session.waitFor("xsave components"), "Enter did not expand the row:\n\(session.screen)")
        let bitmap = main.xsave.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 512, as: UInt64.self) }
        let expanded = try session.capture()
        for (name, value) in [("rip", main.registers["rip"]), ("fs_base", main.registers["fs_base"]), ("gs_base", main.registers["gs_base"]),
                              ("orig_rax", main.registers["orig_rax"])] {
            XCTAssertEqual(fieldValue(expanded, name), Format.hex(try XCTUnwrap(value)), name)
        }
        XCTAssertEqual(fieldValue(expanded, "signal mask"), Format.hex(main.sigmask))
        XCTAssertEqual(fieldValue(expanded, "xsave bytes"), "\(main.xsave.count)")
        XCTAssertTrue(fieldValue(expanded, "xsave components")?.hasPrefix(Format.hex(bitmap) + ": ") ?? false,
                      "XSTATE_BV \(Format.hex(bitmap)):\n\(expanded)")

        try session.keys("Right")
        XCTAssertTrue(session.waitFor("CONTENTS"), "the Saved memory tab did not open:\n\(session.screen)")
        let index = try XCTUnwrap(root.memory.firstIndex { $0.area.start == region })
        let area = root.memory[index]
        for _ in 0..<index { try session.keys("Down", pause: 0.1) }
        try session.keys("Enter")
        XCTAssertTrue(session.waitFor("run 1"), "Enter did not expand the region's row:\n\(session.screen)")
        let memory = try session.capture()
        let row = memory.split(separator: "\n").first { $0.hasPrefix("- \(String(region, radix: 16)) ") }
        let cells = try XCTUnwrap(row, "no expanded row for the region:\n\(memory)").split(separator: " ").map(String.init)
        let pages = area.runs.reduce(0) { $0 + $1.pages }
        XCTAssertGreaterThanOrEqual(pages, 256, "the fixture wrote every page of its 1 MiB region")
        let expectedCells = ["-", String(area.area.start, radix: 16), String(area.area.end, radix: 16), "private_pages",
                             Format.bytes(pages * 4096), "[anonymous]"].flatMap { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(Array(cells.prefix(expectedCells.count)), expectedCells)
        XCTAssertEqual(fieldValue(memory, "pages"), "\(pages)")
        XCTAssertEqual(fieldValue(memory, "runs"), "\(area.runs.count)")
        for (number, run) in area.runs.enumerated() {
            let count = run.pages == 1 ? "1 page" : "\(run.pages) pages"
            XCTAssertEqual(fieldValue(memory, "run \(number + 1)"), "\(Format.hex(run.address)), \(count) at offset \(Format.hex(run.offset)) of pages.img")
        }

        try session.keys("Escape", "q")
        XCTAssertTrue(session.waitUntil(timeout: 10) { _ in (try? session.format("#{alternate_on}")) == "0" },
                      "bpfcp-top did not quit:\n\(session.screen)")
    }

    /// Returns the value of the first expanded field line "    NAME   : VALUE" on the screen.
    private func fieldValue(_ screen: String, _ name: String) -> String? {
        for line in screen.split(separator: "\n") where line.hasPrefix("    ") {
            guard let colon = line.range(of: ": ") else { continue }
            if line[..<colon.lowerBound].trimmingCharacters(in: .whitespaces) == name {
                return String(line[colon.upperBound...]).trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
}
