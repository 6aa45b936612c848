@testable import BpfcpCore
import XCTest

/// The direct encoder must give the same tree as encoding with
/// JSONCoding.encoder and decoding the bytes into JSONValue.
final class JSONValueEncoderTests: XCTestCase {
    private struct Sample: Codable {
        var camelCaseName: String
        var ipv4Address: String
        var bigValue: UInt64
        var negative: Int32
        var ratio: Double
        var whole: Double
        var flag: Bool
        var missing: String?
        var nested: [[String: Int]]
    }

    private func throughBytes<T: Encodable>(_ value: T) throws -> JSONValue {
        let data = try JSONCoding.encoder.encode(value)
        return try JSONCoding.decoder.decode(JSONValue.self, from: data)
    }

    func testSampleMatchesJSONEncoder() throws {
        let sample = Sample(camelCaseName: "a\\b", ipv4Address: "127.0.0.1", bigValue: UInt64.max, negative: -5,
                            ratio: 0.25, whole: 3, flag: true, missing: nil, nested: [["oneKey": 1], [:]])
        XCTAssertEqual(try JSONValueEncoder.encode(sample), try throughBytes(sample))
        XCTAssertEqual(try JSONValueEncoder.encode([sample, sample]), try throughBytes([sample, sample]))
    }

    func testCollectedItemsMatchJSONEncoder() throws {
        try requireBPF()
        let pid = getpid()
        let processes = try ProcessListBPF.collect()
        XCTAssertEqual(try JSONValueEncoder.encode(processes), try throughBytes(processes))
        let files = try FilesKind.collectBPF(pid: pid)
        XCTAssertEqual(try JSONValueEncoder.encode(files), try throughBytes(files))
        let areas = try MemoryKind.collectBPF(pid: pid)
        XCTAssertEqual(try JSONValueEncoder.encode(areas), try throughBytes(areas))
        let threads = try ThreadsKind.collectBPF(pid: pid)
        XCTAssertEqual(try JSONValueEncoder.encode(threads), try throughBytes(threads))
    }
}
