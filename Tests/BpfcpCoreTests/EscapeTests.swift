@testable import BpfcpCore
import XCTest

final class EscapeTests: XCTestCase {
    func testControlBytesEscaped() {
        XCTAssertEqual(Escape.bytes([0x1B, 0x5B, 0x32, 0x4A]), "\\x1b[2J")
        XCTAssertEqual(Escape.bytes([0x61, 0x0A, 0x62]), "a\\x0ab")
    }

    func testInvalidUTF8Escaped() {
        XCTAssertEqual(Escape.bytes([0xAA, 0xFF]), "\\xaa\\xff")
        XCTAssertEqual(Escape.bytes([0x61, 0xE2, 0x82]), "a\\xe2\\x82")
    }

    func testValidUTF8Kept() {
        XCTAssertEqual(Escape.bytes(Array("héllo €".utf8)), "héllo €")
    }

    func testC1AndBidiEscaped() {
        XCTAssertEqual(Escape.bytes([0xC2, 0x9B]), "\\xc2\\x9b")
        XCTAssertEqual(Escape.bytes(Array("\u{202E}x".utf8)), "\\xe2\\x80\\xaex")
    }

    func testRoundTrip() {
        let samples: [[UInt8]] = [[0x5C, 0x78, 0x41, 0x41], [0xAA, 0xFF, 0x00, 0x1B], Array("a) R 1 (b".utf8)]
        for sample in samples {
            XCTAssertEqual(Escape.unescape(Escape.bytes(sample)), sample)
        }
    }
}
