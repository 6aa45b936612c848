import XCTest
@testable import BpfcpCore

/// The C shim computes CRC32C in three interleaved lanes of 8 KiB and folds
/// them together. These tests compare it with the bit-by-bit definition.
final class CRC32CTests: XCTestCase {
    func testCheckValue() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
    }

    func testEmptyInputKeepsValue() {
        XCTAssertEqual(CRC32C.checksum([UInt8](), continuing: 0x1234_5678), 0x1234_5678)
    }

    func testMatchesDefinitionAroundLaneBlocks() {
        let bytes = patternedBytes(3 * 24_576 + 200)
        let lane = 8192
        let lengths = [1, 7, 8, 9, 3 * lane - 1, 3 * lane, 3 * lane + 1, 3 * lane + 13, 6 * lane, 6 * lane + 8, 3 * 24_576 + 100]
        for length in lengths {
            for offset in [0, 1, 5] {
                let slice = Array(bytes[offset..<(offset + length)])
                XCTAssertEqual(CRC32C.checksum(slice), bitwise(slice), "length \(length) at offset \(offset)")
            }
        }
    }

    func testContinuingEqualsWhole() {
        let bytes = patternedBytes(100_000)
        let whole = CRC32C.checksum(bytes)
        for split in [0, 1, 8191, 24_576, 30_001, 99_999, 100_000] {
            let first = CRC32C.checksum(bytes[0..<split])
            XCTAssertEqual(CRC32C.checksum(bytes[split...], continuing: first), whole, "split at \(split)")
        }
    }

    /// CRC32C bit by bit from the reflected polynomial 0x82F63B78.
    private func bitwise(_ bytes: [UInt8]) -> UInt32 {
        var crc = UInt32.max
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 {
                crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1
            }
        }
        return ~crc
    }

    /// Bytes from a fixed linear congruential sequence, so failures repeat.
    private func patternedBytes(_ count: Int) -> [UInt8] {
        var state: UInt32 = 12345
        return (0..<count).map { _ in
            state = state &* 1_103_515_245 &+ 12345
            return UInt8(truncatingIfNeeded: state >> 16)
        }
    }
}
