@testable import BpfcpCore
import XCTest

/// JSONValue tries the common types first when decoding. Each JSON value
/// must still land in the one case that fits it.
final class JSONValueDecodingTests: XCTestCase {
    private func decode(_ text: String) throws -> JSONValue {
        try JSONCoding.decoder.decode(JSONValue.self, from: Data(text.utf8))
    }

    func testScalarsKeepTheirCase() throws {
        XCTAssertEqual(try decode("null"), .null)
        XCTAssertEqual(try decode("true"), .bool(true))
        XCTAssertEqual(try decode("false"), .bool(false))
        XCTAssertEqual(try decode("0"), .int(0))
        XCTAssertEqual(try decode("-5"), .int(-5))
        XCTAssertEqual(try decode("9223372036854775807"), .int(Int64.max))
        XCTAssertEqual(try decode("9223372036854775808"), .uint(UInt64(Int64.max) + 1))
        XCTAssertEqual(try decode("18446744073709551615"), .uint(UInt64.max))
        XCTAssertEqual(try decode("0.25"), .double(0.25))
        XCTAssertEqual(try decode("\"text\""), .string("text"))
        XCTAssertEqual(try decode("\"1\""), .string("1"))
        XCTAssertEqual(try decode("\"true\""), .string("true"))
    }

    func testContainersKeepTheirCase() throws {
        XCTAssertEqual(try decode("[]"), .array([]))
        XCTAssertEqual(try decode("{}"), .object([:]))
        XCTAssertEqual(try decode("[1, \"a\", true, null, [2], {\"k\": 0.5}]"),
                       .array([.int(1), .string("a"), .bool(true), .null, .array([.int(2)]), .object(["k": .double(0.5)])]))
        XCTAssertEqual(try decode("{\"fd\": 3, \"flags\": [\"O_RDWR\"], \"big\": 18446744073709551615, \"deleted\": false}"),
                       .object(["fd": .int(3), "flags": .array([.string("O_RDWR")]), "big": .uint(UInt64.max), "deleted": .bool(false)]))
    }
}
