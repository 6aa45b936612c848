@testable import BpfcpCore
import BpfcpTestSupport
import Foundation
import XCTest

/// JSONParser and JSONValueDecoder must give what JSONCoding.decoder gives,
/// on small cases and on every section of a real image.
final class JSONParserTests: XCTestCase {
    private var scratch = ""

    override func setUpWithError() throws {
        scratch = try CheckpointSupport.scratchDirectory("parser")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    private func foundation(_ text: String) -> JSONValue? {
        try? JSONCoding.decoder.decode(JSONValue.self, from: Data(text.utf8))
    }

    private func parsed(_ text: String) -> JSONValue? {
        try? JSONParser.parse(Array(text.utf8))
    }

    func testScalarsMatchFoundation() {
        let cases = ["null", "true", "false", "0", "-0", "-5", "7", "9223372036854775807", "-9223372036854775808",
                     "-9223372036854775809", "9223372036854775808", "18446744073709551615", "18446744073709551616",
                     "99999999999999999999999", "0.25", "-0.5", "1.0", "2.50", "1e3", "1E+2", "-1e-2", "1.5e300",
                     "1796415505.5", "1e19", "-1e19", "\"text\"", "\"1\"", " 12 ", "\n[1]\t"]
        for text in cases {
            XCTAssertEqual(parsed(text), foundation(text), "JSON \(text)")
            XCTAssertNotNil(parsed(text), "JSON \(text)")
        }
    }

    func testStringEscapesMatchFoundation() {
        let cases = [#""a\"b\\c\/d""#, #""\b\f\n\r\t""#, #""\u00e9\u4e2d""#, #""\ud83d\ude00""#, "\"é中😀\"",
                     #""tab\tthen \u0041""#, #""""#]
        for text in cases {
            XCTAssertEqual(parsed(text), foundation(text), "JSON \(text)")
            XCTAssertNotNil(parsed(text), "JSON \(text)")
        }
    }

    func testInvalidJSONIsRejected() {
        let cases = ["", "[", "{\"a\" 1}", "{1:2}", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul",
                     "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\udc00\"", "\"\\ud800\"", "\"a\u{01}b\"", "[1] 2", "1e400",
                     "{\"a\":[}", "NaN"]
        for text in cases {
            XCTAssertThrowsError(try JSONParser.parse(Array(text.utf8)), "JSON \(text)")
            XCTAssertNil(foundation(text), "JSONDecoder accepts \(text)")
        }
        XCTAssertThrowsError(try JSONParser.parse([0x22, 0xFF, 0x22]), "invalid UTF-8")

        // The JSONDecoder of the Swift 6 toolchain this project builds with accepts a trailing comma.
        // No image has one, and the parser keeps to RFC 8259.
        XCTAssertThrowsError(try JSONParser.parse(Array("[1,]".utf8)))
        XCTAssertThrowsError(try JSONParser.parse(Array("{\"a\":1,}".utf8)))
    }

    func testDeepNestingIsRejected() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try JSONParser.parse(Array(deep.utf8)))
        let allowed = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        XCTAssertNoThrow(try JSONParser.parse(Array(allowed.utf8)))
    }

    func testKeysConvertLikeFoundation() throws {
        struct Keys: Codable, Equatable {
            var pageSize: Int
            var ipV6Only: Bool
            var _leading: Int
            var trailing_: Int
            var plain: Int
            var registers: [String: UInt64]
            var data: Data
            var optional: Int?
            var missing: String?
        }
        let text = #"{"page_size":4096,"ip_v6_only":true,"_leading":1,"trailing_":2,"plain":3,"#
            + #""registers":{"orig_rax":5,"fs_base":18446744073709551615},"data":"AAEC","optional":null}"#
        let expected = try JSONCoding.decoder.decode(Keys.self, from: Data(text.utf8))
        XCTAssertEqual(try JSONValueDecoder.decode(Keys.self, from: Array(text.utf8)), expected)
        XCTAssertEqual(expected.registers["orig_rax"], 5)
        XCTAssertEqual(expected.data, Data([0, 1, 2]))
    }

    func testDecodingErrorsNameThePath() throws {
        let payload = Array(#"{"pid":1,"threads":[{"tid":"x"}]}"#.utf8)
        XCTAssertThrowsError(try CheckpointImage.decode(payload, name: "threads-1") as ThreadsPayload) { error in
            XCTAssertEqual("\(error)", "section 'threads-1' has invalid content: wrong type at .threads[0].tid; \(ImageError.damaged)")
        }
        let missing = Array(#"{"pid":1}"#.utf8)
        XCTAssertThrowsError(try CheckpointImage.decode(missing, name: "threads-1") as ThreadsPayload) { error in
            XCTAssertEqual("\(error)", "section 'threads-1' has invalid content: missing key threads; \(ImageError.damaged)")
        }
    }

    func testTruncatedSectionIsOneLine() throws {
        let payload = Array(#"{"pid":1,"threads":[{"tid":1"#.utf8)
        XCTAssertThrowsError(try CheckpointImage.decode(payload, name: "threads-1") as ThreadsPayload) { error in
            XCTAssertEqual("\(error)", "section 'threads-1' has invalid content: not valid JSON (unexpected end of data at byte 28); \(ImageError.damaged)")
        }
    }

    // MARK: real image sections

    /// Checkpoints the checkpoint_target fixture and returns the payloads of its image sections by name.
    private func imagePayloads() throws -> (Int32, [String: [UInt8]]) {
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "1"])
        let dir = scratch + "/image"
        try Checkpointer.dump(pid: fixture.pid, to: dir, options: CaptureOptions(scratchDirectory: scratch), kill: false)
        var payloads: [String: [UInt8]] = [:]
        let types: [(String, SectionType)] = [("manifest", .manifest), ("process-\(fixture.pid)", .process),
                                              ("threads-\(fixture.pid)", .threads), ("memory-\(fixture.pid)", .memory)]
        for (name, type) in types {
            payloads[name] = try SectionReader.read(path: dir + "/" + name + ".img", section: name, expected: type)
        }
        return (fixture.pid, payloads)
    }

    private func both<T: Codable>(_ type: T.Type, _ payload: [UInt8]) throws -> (T, T) {
        (try JSONCoding.decoder.decode(T.self, from: Data(payload)), try JSONValueDecoder.decode(T.self, from: payload))
    }

    private func encoded<T: Encodable>(_ value: T) throws -> Data {
        try JSONCoding.encoder.encode(value)
    }

    func testImageSectionsDecodeLikeFoundation() throws {
        try requireBPF()
        let (pid, payloads) = try imagePayloads()

        let (manifest, fastManifest) = try both(Manifest.self, try XCTUnwrap(payloads["manifest"]))
        XCTAssertEqual(fastManifest.info, manifest.info)
        XCTAssertEqual(try encoded(fastManifest), try encoded(manifest))

        let (process, fastProcess) = try both(ProcessPayload.self, try XCTUnwrap(payloads["process-\(pid)"]))
        XCTAssertEqual(fastProcess.sections, process.sections)
        XCTAssertEqual(fastProcess.stopSignal, process.stopSignal)
        XCTAssertEqual(try encoded(fastProcess.process), try encoded(process.process))
        XCTAssertEqual(try encoded(fastProcess), try encoded(process))
        XCTAssertGreaterThan(process.sections.count, 10)

        let (threads, fastThreads) = try both(ThreadsPayload.self, try XCTUnwrap(payloads["threads-\(pid)"]))
        XCTAssertEqual(fastThreads.threads, threads.threads)

        let (memory, fastMemory) = try both(MemoryPayload.self, try XCTUnwrap(payloads["memory-\(pid)"]))
        XCTAssertEqual(fastMemory.areas, memory.areas)
        XCTAssertEqual(fastMemory.files, memory.files)
    }

    func testItemsDecodeLikeFoundation() throws {
        try requireBPF()
        let (pid, payloads) = try imagePayloads()
        let process = try JSONValueDecoder.decode(ProcessPayload.self, from: try XCTUnwrap(payloads["process-\(pid)"]))
        let image = ProcessImage(pid: pid, process: process.process, stopSignal: nil, sections: process.sections,
                                 threads: [], memory: [], files: [])
        func check<T: Codable & Equatable>(_ kind: String, _ type: T.Type) throws {
            let fast = try image.items(kind, as: T.self)
            let section = try XCTUnwrap(process.sections.first { $0.kind == kind })
            let slow = try section.items.map { try JSONCoding.decoder.decode(T.self, from: try JSONCoding.encoder.encode($0)) }
            XCTAssertEqual(fast.count, section.items.count, kind)
            XCTAssertEqual(fast, slow, kind)
        }
        try check("files", OpenFile.self)
        try check("memory", MemoryArea.self)
        try check("signals", SignalAction.self)
        try check("limits", ResourceLimit.self)
        try check("credentials", ThreadCredentials.self)
        try check("context", ContextProperty.self)
        try check("events", EventFile.self)
        try check("pipes", PipeEnd.self)
        try check("sockets", Socket.self)
    }

    /// Random byte flips, cuts, insertions and deletions never crash the
    /// parser or decoder, and whatever both decoders accept decodes equally.
    func testRandomMutationsNeverCrash() throws {
        try requireBPF()
        let (pid, payloads) = try imagePayloads()
        var generator = SplitMix(seed: 0x5EED)
        let sources = [try XCTUnwrap(payloads["threads-\(pid)"]), try XCTUnwrap(payloads["manifest"]),
                       try XCTUnwrap(payloads["memory-\(pid)"])]
        var accepted = 0
        for round in 0..<1500 {
            let mutated = mutate(sources[round % sources.count], with: &generator)
            let fast = try? CheckpointImage.decode(mutated, name: "mutated") as ThreadsPayload
            let slow = try? JSONCoding.decoder.decode(ThreadsPayload.self, from: Data(mutated))
            if let fast, let slow {
                accepted += 1
                XCTAssertEqual(fast.threads, slow.threads, "round \(round)")
            }
            _ = try? CheckpointImage.decode(mutated, name: "mutated") as Manifest
            _ = try? CheckpointImage.decode(mutated, name: "mutated") as MemoryPayload
        }
        XCTAssertGreaterThan(accepted, 0, "some mutations keep valid JSON")

        let process = try XCTUnwrap(payloads["process-\(pid)"])
        for _ in 0..<60 {
            _ = try? CheckpointImage.decode(mutate(process, with: &generator), name: "mutated") as ProcessPayload
        }
    }

    private func mutate(_ source: [UInt8], with generator: inout SplitMix) -> [UInt8] {
        var bytes = source
        let structural: [UInt8] = Array("{}[],:\"\\0123456789-.eEtfnu ".utf8) + [0x00, 0x80, 0xFF]
        for _ in 0...Int(generator.next() % 3) {
            guard !bytes.isEmpty else { break }
            let at = Int(generator.next() % UInt64(bytes.count))
            switch generator.next() % 4 {
            case 0: bytes[at] = structural[Int(generator.next() % UInt64(structural.count))]
            case 1: bytes.removeSubrange(at...)
            case 2: bytes.insert(structural[Int(generator.next() % UInt64(structural.count))], at: at)
            default: bytes.remove(at: at)
            }
        }
        return bytes
    }
}

/// A small seeded generator, so that every run mutates the same way.
private struct SplitMix {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
