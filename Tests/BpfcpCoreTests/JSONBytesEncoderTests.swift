@testable import BpfcpCore
import BpfcpTestSupport
import Foundation
import XCTest

/// Images are written with JSONBytesEncoder, and must stay byte for byte
/// what JSONCoding.encoder wrote before it: every case here compares the two.
final class JSONBytesEncoderTests: XCTestCase {
    private var scratch = ""

    override func setUpWithError() throws {
        scratch = try CheckpointSupport.scratchDirectory("bytes-encoder")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: scratch)
    }

    private func assertSameBytes<T: Encodable>(_ value: T, _ label: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = Array(try JSONCoding.encoder.encode(value))
        let actual = try JSONBytesEncoder.encode(value)
        guard actual != expected else { return }
        let at = zip(actual, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(actual.count, expected.count)
        let context = { (bytes: [UInt8]) in String(decoding: bytes[max(0, at - 60)..<min(bytes.count, at + 60)], as: UTF8.self) }
        XCTFail("\(label): \(actual.count) bytes against JSONEncoder's \(expected.count), first difference at byte \(at):\nours:        \(context(actual))\nJSONEncoder: \(context(expected))",
                file: file, line: line)
    }

    /// Encodes every section of a capture as the image writer builds them.
    private func assertSectionsMatch(_ checkpoint: Checkpoint, _ label: String) throws {
        for image in checkpoint.processes {
            try assertSameBytes(ProcessPayload(pid: image.pid, process: image.process, stopSignal: image.stopSignal, sections: image.sections),
                                "\(label) process-\(image.pid)")
            try assertSameBytes(ThreadsPayload(pid: image.pid, threads: image.threads), "\(label) threads-\(image.pid)")
            try assertSameBytes(MemoryPayload(pid: image.pid, pageSize: checkpoint.info.pageSize, areas: image.memory,
                                              files: image.files.isEmpty ? nil : image.files), "\(label) memory-\(image.pid)")
            try assertSameBytes(QueuesPayload(pid: image.pid, queues: image.queues), "\(label) queues-\(image.pid)")
        }
        var info = checkpoint.info
        info.stats.phases = CapturePhases()
        info.stats.phases?.encodeNs = 12_345
        let sections = checkpoint.processes.map {
            ManifestSection(name: "process-\($0.pid)", file: "process-\($0.pid).img", type: "process", payloadLength: 7, crc32c: "0badf00d")
        }
        let manifest = Manifest(formatVersion: ImageFormat.version, info: info,
                                processes: checkpoint.processes.map { ManifestProcess(pid: $0.pid) }, sections: sections)
        try assertSameBytes(manifest, "\(label) manifest")
    }

    func testCapturedSectionsMatchJSONEncoder() throws {
        try requireBPF()
        let options = CaptureOptions(scratchDirectory: scratch)
        let queues = try Fixture(c: "restore_queues", arguments: [scratch, "pipe", "socketpair", "epoll", "fifo"])
        try assertSectionsMatch(try Checkpointer.capture(pid: queues.pid, options: options), "restore_queues")
        XCTAssertFalse(try Checkpointer.capture(pid: queues.pid, options: options).processes[0].queues.isEmpty)

        let memfd = try Fixture(c: "memfd_holder")
        let memfdCapture = try Checkpointer.capture(pid: memfd.pid, options: options)
        XCTAssertFalse(memfdCapture.processes[0].files.isEmpty)
        try assertSectionsMatch(memfdCapture, "memfd_holder")

        for name in ["event_files", "sockets_basic", "signal_actions", "epoll_watches"] {
            let fixture = try Fixture(c: name)
            try assertSectionsMatch(try Checkpointer.capture(pid: fixture.pid, options: options), name)
        }

        let family = try Fixture(c: "checkpoint_target", arguments: ["1", "1", "zombie"])
        var treeOptions = options
        treeOptions.tree = true
        let tree = try Checkpointer.capture(pid: family.pid, options: treeOptions)
        XCTAssertEqual(tree.processes.count, 2)
        try assertSectionsMatch(tree, "checkpoint_target --tree")
    }

    func testImageWrittenMatchesJSONEncoder() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "1"])
        let dir = scratch + "/image"
        try Checkpointer.dump(pid: fixture.pid, to: dir, options: CaptureOptions(scratchDirectory: scratch), kill: false)
        for file in ["manifest", "process-\(fixture.pid)", "threads-\(fixture.pid)", "memory-\(fixture.pid)"] {
            let type = SectionType.allCases.first { file.hasPrefix($0.label) }!
            let payload = try SectionReader.read(path: dir + "/" + file + ".img", section: file, expected: type)
            let written = try JSONCoding.decoder.decode(JSONValue.self, from: Data(payload))
            XCTAssertEqual(Array(try JSONCoding.encoder.encode(written)), payload, "\(file).img differs from JSONEncoder's bytes")
        }
    }

    func testDumpedSectionsMatchJSONEncoder() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "1", "fork"])
        let dir = scratch + "/image"
        var options = CaptureOptions(scratchDirectory: scratch)
        options.tree = true
        let checkpoint = try Checkpointer.dump(pid: fixture.pid, to: dir, options: options, kill: false)
        XCTAssertEqual(checkpoint.processes.count, 2)
        try assertProcessSectionsMatch(checkpoint, in: dir)

        // A stopped process has a stop signal, the last member of the payload.
        XCTAssertEqual(kill(fixture.pid, SIGSTOP), 0)
        defer { kill(fixture.pid, SIGCONT) }
        XCTAssertTrue(waitForThreads(of: fixture.pid, in: ["T"]))
        let stoppedDir = scratch + "/stopped"
        let stopped = try Checkpointer.dump(pid: fixture.pid, to: stoppedDir, options: CaptureOptions(scratchDirectory: scratch), kill: false)
        XCTAssertEqual(stopped.processes.first?.stopSignal, "SIGSTOP")
        try assertProcessSectionsMatch(stopped, in: stoppedDir)

        let queues = try Fixture(c: "restore_queues", arguments: [scratch, "pipe", "socketpair"])
        let queuesDir = scratch + "/queues"
        let withQueues = try Checkpointer.dump(pid: queues.pid, to: queuesDir, options: CaptureOptions(scratchDirectory: scratch), kill: false)
        let image = try XCTUnwrap(withQueues.processes.first)
        XCTAssertFalse(image.queues.isEmpty)
        try assertProcessSectionsMatch(withQueues, in: queuesDir)
        let name = "queues-\(image.pid)"
        let written = try SectionReader.read(path: queuesDir + "/" + name + ".img", section: name, expected: .queues)
        XCTAssertEqual(written, Array(try JSONCoding.encoder.encode(QueuesPayload(pid: image.pid, queues: image.queues))),
                       "\(name).img differs from JSONEncoder's bytes")
    }

    private func assertProcessSectionsMatch(_ checkpoint: Checkpoint, in dir: String, file: StaticString = #filePath, line: UInt = #line) throws {
        for image in checkpoint.processes {
            let name = "process-\(image.pid)"
            let written = try SectionReader.read(path: dir + "/" + name + ".img", section: name, expected: .process)
            let payload = ProcessPayload(pid: image.pid, process: image.process, stopSignal: image.stopSignal, sections: image.sections)
            XCTAssertEqual(written, Array(try JSONCoding.encoder.encode(payload)), "\(name).img differs from JSONEncoder's bytes",
                           file: file, line: line)

            let threadsName = "threads-\(image.pid)"
            let threads = try SectionReader.read(path: dir + "/" + threadsName + ".img", section: threadsName, expected: .threads)
            XCTAssertEqual(threads, Array(try JSONCoding.encoder.encode(ThreadsPayload(pid: image.pid, threads: image.threads))),
                           "\(threadsName).img differs from JSONEncoder's bytes", file: file, line: line)
        }
    }

    func testChangedProcessesDropEncodedSections() throws {
        try requireBPF()
        let fixture = try Fixture(c: "checkpoint_target", arguments: ["1", "1"])
        var checkpoint = try Checkpointer.capture(pid: fixture.pid, options: CaptureOptions(scratchDirectory: scratch))
        checkpoint.encodedSections = ["process-\(fixture.pid)": Array("{}".utf8)]
        checkpoint.processes[0].sections.removeLast()
        XCTAssertTrue(checkpoint.encodedSections.isEmpty)
    }

    func testSectionsWithEdgeCasesMatchJSONEncoder() throws {
        let odd = "tab\t quote \" backslash \\ slash / \u{1} é 日本 e\u{301}"
        let items: [JSONValue] = [
            .object([odd: .string(odd), "a": .int(-1), "B": .uint(UInt64.max), "é": .double(0.5), "e\u{301}x": .null,
                     "_": .bool(false), "": .array([.object([:]), .array([])])]),
            .array([.double(1e300), .double(-0.0), .int(0)]), .string(""), .null,
        ]
        let entries = [
            Entry(key: odd, cells: [odd, "", "-"], fields: [Field(odd, odd), Field("", "")]),
            Entry(key: "", cells: [], fields: []),
        ]
        let sections = [
            Section(kind: "files", source: .bpf, unavailable: nil, elapsedNs: 0, items: items, entries: entries),
            Section(kind: odd, source: .proc, unavailable: odd, elapsedNs: UInt64.max, items: [], entries: []),
        ]
        try assertSameBytes(sections, "sections")
        try assertSameBytes(sections[0], "one section")
        try assertSameBytes(entries, "entries")
        try assertSameBytes(entries[0].fields[0], "field")
        try assertSameBytes(["sections": sections], "sections in a dictionary")
    }

    // MARK: - edge cases

    private struct Scalars: Codable {
        var text: String
        var int8: Int8
        var int16: Int16
        var int32: Int32
        var int64: Int64
        var int: Int
        var uint8: UInt8
        var uint16: UInt16
        var uint32: UInt32
        var uint64: UInt64
        var uint: UInt
        var double: Double
        var float: Float
        var flag: Bool
    }

    func testStringsMatchJSONEncoder() throws {
        let controls = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
        let invalidUTF8 = Escape.bytes([0x66, 0xff, 0xfe, 0xc3, 0x28, 0x80, 0x1b, 0x5c])
        let strings = [
            "", "plain", controls, "\u{7f}\u{80}\u{9f}", "quote \" backslash \\ slash / end",
            invalidUTF8, "é café 日本語 emoji 👩‍👩‍👧 combining e\u{301}", "\u{2028}\u{2029}\u{feff}\u{fffd}",
            "\u{202e}bidi", String(repeating: "long \n", count: 5000),
        ]
        for text in strings {
            try assertSameBytes(text, "string \(Array(text.utf8).prefix(20))")
            try assertSameBytes([text: text], "key \(Array(text.utf8).prefix(20))")
        }
        try assertSameBytes(strings, "array of strings")
    }

    func testNumbersMatchJSONEncoder() throws {
        let extremes = [
            Scalars(text: "min", int8: .min, int16: .min, int32: .min, int64: .min, int: .min, uint8: 0, uint16: 0, uint32: 0,
                    uint64: 0, uint: 0, double: -Double.greatestFiniteMagnitude, float: -Float.greatestFiniteMagnitude, flag: false),
            Scalars(text: "max", int8: .max, int16: .max, int32: .max, int64: .max, int: .max, uint8: .max, uint16: .max,
                    uint32: .max, uint64: .max, uint: .max, double: .greatestFiniteMagnitude, float: .greatestFiniteMagnitude, flag: true),
        ]
        try assertSameBytes(extremes, "integer extremes")
        let doubles: [Double] = [0, -0.0, 1, -1, 0.1, 0.5, 1.5, 3, 1e15, 1e16, 1e17, 123456789012345678, 1e-5, 1e-7, 5e-324,
                                 .leastNormalMagnitude, 2.2250738585072014e-308, .pi, 1796415505.5, 1e300, -1e-300]
        for value in doubles {
            try assertSameBytes(value, "double \(value)")
            try assertSameBytes(["value": value], "double \(value) in an object")
            try assertSameBytes(JSONValue.double(value), "JSONValue double \(value)")
        }
        let floats: [Float] = [0, 1, 0.1, 3.4e38, 1e-45, 16_777_217, -2.5]
        try assertSameBytes(floats, "floats")
        try assertSameBytes(floats.map { ["value": $0] }, "floats in objects")
        try assertSameBytes([JSONValue.int(.min), .int(.max), .uint(.max), .uint(0)], "JSONValue integers")
    }

    func testNonFiniteNumbersRejected() {
        for value in [Double.nan, .infinity, -.infinity] {
            XCTAssertThrowsError(try JSONCoding.encoder.encode(["value": value]))
            XCTAssertThrowsError(try JSONBytesEncoder.encode(["value": value]), "double \(value)")
            XCTAssertThrowsError(try JSONBytesEncoder.encode([JSONValue.double(value)]), "JSONValue double \(value)")
        }
        XCTAssertThrowsError(try JSONBytesEncoder.encode([Float.nan]))
    }

    private struct Optionals: Codable {
        var absent: Int?
        var present: Int?
        var nestedAbsent: Int??
        var nestedNull: Int??
        var nestedValue: Int??
        var list: [Int?]
        var nestedList: [[String?]]
    }

    private struct Empty: Codable {}

    private struct Containers: Codable {
        var emptyArray: [Int]
        var emptyObject: [String: Int]
        var emptyStruct: Empty
        var emptyStructs: [Empty]
        var nestedEmpty: [[Int]]
        var dictionary: [String: [String: Int]]
        var bytes: Data
        var emptyBytes: Data
        var date: Date
        var url: URL
        var uuid: UUID
    }

    func testContainersMatchJSONEncoder() throws {
        let optionals = Optionals(absent: nil, present: 4, nestedAbsent: .none, nestedNull: .some(nil), nestedValue: .some(.some(7)),
                                  list: [1, nil, 3], nestedList: [[], ["a", nil]])
        try assertSameBytes(optionals, "optionals")
        let keys = ["b", "a", "B", "_", "aa", "a_b", "é", "z", "Z", "日本", "10", "9", ""]
        let containers = Containers(emptyArray: [], emptyObject: [:], emptyStruct: Empty(), emptyStructs: [Empty(), Empty()], nestedEmpty: [[], []],
                                    dictionary: Dictionary(uniqueKeysWithValues: keys.map { ($0, [$0: 1, "camelCase": 2]) }),
                                    bytes: Data((0...255).map { UInt8($0) }), emptyBytes: Data(), date: Date(timeIntervalSince1970: 1796415505.25),
                                    url: URL(string: "https://example.invalid/a%20b?c=d")!, uuid: UUID(uuidString: "01234567-89AB-CDEF-0123-456789ABCDEF")!)
        try assertSameBytes(containers, "containers")
        try assertSameBytes(Empty(), "empty struct at the top")
        try assertSameBytes([String: Int](), "empty dictionary at the top")
        try assertSameBytes([[String: Int]](), "empty array at the top")
        try assertSameBytes([1: "a", 10: "b", 2: "c", -3: "d"], "dictionary keyed by Int")
        try assertSameBytes(["registers": ["r15": UInt64.max, "fs_base": 0, "rip": 4096]], "dictionary in a dictionary")
    }

    func testJSONValueTreesMatchJSONEncoder() throws {
        let tree = JSONValue.object([
            "null": .null, "true": .bool(true), "false": .bool(false), "string": .string("a\u{0}b\"c"),
            "array": .array([.int(1), .array([]), .object([:]), .string("")]),
            "object": .object(["z": .int(-1), "A": .uint(UInt64.max), "a": .double(0.25), "é": .null, "ab": .bool(true)]),
        ])
        try assertSameBytes(tree, "JSONValue tree")
        try assertSameBytes([tree, tree], "array of JSONValue trees")
        try assertSameBytes(["items": [tree]], "JSONValue trees in a dictionary")
    }

    func testSnakeCaseMatchesJSONEncoder() throws {
        let names = ["a", "ab", "aB", "aBC", "aBc", "myURLValue", "myURL", "URLValue", "ipv4Address", "x1Y", "fsBase", "rseqArea",
                     "_leading", "trailing_", "_oneTwo_", "already_snake", "ABC", "A", "aB1C", "value2Name", "grüßeWelt", "ÉtéFoo", "caféÉcole"]
        for name in names {
            struct NameKey: CodingKey {
                var stringValue: String
                var intValue: Int? { nil }
                init(stringValue: String) { self.stringValue = stringValue }
                init?(intValue: Int) { nil }
            }
            struct Named: Encodable {
                let name: String
                func encode(to encoder: Encoder) throws {
                    var container = encoder.container(keyedBy: NameKey.self)
                    try container.encode(1, forKey: NameKey(stringValue: name))
                }
            }
            try assertSameBytes(Named(name: name), "key \(name)")
        }
    }

    /// A type with a hand-written encode(to:) that uses every kind of container.
    private struct HandWritten: Encodable {
        enum Keys: String, CodingKey {
            case zeta, alpha, nestedObject, nestedArray, duplicate, nothing, single
        }

        enum InnerKeys: String, CodingKey {
            case innerValue, anotherOne
        }

        struct Nothing: Encodable {
            func encode(to encoder: Encoder) throws {}
        }

        struct Wrapper: Encodable {
            let inner: [String: Int]
            func encode(to encoder: Encoder) throws {
                var container = encoder.singleValueContainer()
                try container.encode(inner)
            }
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode("last key first", forKey: .zeta)
            var inner = container.nestedContainer(keyedBy: InnerKeys.self, forKey: .nestedObject)
            try container.encode(1, forKey: .alpha)
            try inner.encode(2, forKey: .anotherOne)
            try inner.encodeNil(forKey: .innerValue)
            var list = container.nestedUnkeyedContainer(forKey: .nestedArray)
            try list.encode(true)
            var listInner = list.nestedContainer(keyedBy: InnerKeys.self)
            try listInner.encode(3.5, forKey: .innerValue)
            var deeper = list.nestedUnkeyedContainer()
            try deeper.encodeNil()
            try list.encode("after")
            try container.encode("first", forKey: .duplicate)
            try container.encode("second", forKey: .duplicate)
            try container.encode(Nothing(), forKey: .nothing)
            try container.encode(Wrapper(inner: ["b": 2, "a": 1]), forKey: .single)
            let parent = container.superEncoder()
            var parentContainer = parent.container(keyedBy: InnerKeys.self)
            try parentContainer.encode("from super", forKey: .innerValue)
            var listParent = list.superEncoder().singleValueContainer()
            try listParent.encode(42)
        }
    }

    func testHandWrittenEncoderMatchesJSONEncoder() throws {
        try assertSameBytes(HandWritten(), "hand-written encode(to:)")
        try assertSameBytes([HandWritten(), HandWritten()], "array of hand-written values")
    }
}
