@testable import BpfcpCore
import BpfcpTestSupport
import Foundation
import XCTest

/// `ProcessPayloadScanner` and the tree builder of `OpenFile` must give
/// what `JSONValueDecoder` gives whenever they accept their input, on real
/// images and on random changes to them, and opening an image must throw
/// the errors that Codable decoding throws.
final class ImageDecodingTests: XCTestCase {
    private var scratch = ""
    private var fixture: Fixture?

    override func setUpWithError() throws {
        scratch = try CheckpointSupport.scratchDirectory("imagedecoding")
    }

    override func tearDown() {
        fixture?.stop()
        fixture = nil
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// Checkpoints the restore_basic fixture with its regular files, pipe,
    /// eventfd, signalfd and timerfd, and returns the payload of its process section.
    private func processPayload() throws -> (Int32, [UInt8]) {
        let started = try Fixture(c: "restore_basic", arguments: [scratch, "1", "4", "events"])
        fixture = started
        let dir = scratch + "/image"
        try Checkpointer.dump(pid: started.pid, to: dir, options: CaptureOptions(scratchDirectory: scratch), kill: false)
        let name = "process-\(started.pid)"
        let payload = try SectionReader.read(path: dir + "/" + name + ".img", section: name, expected: .process)
        return (started.pid, payload)
    }

    private func assertSame(_ built: ProcessPayload, _ decoded: ProcessPayload, _ message: String,
                            file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(built.pid, decoded.pid, message, file: file, line: line)
        XCTAssertEqual(built.stopSignal, decoded.stopSignal, message, file: file, line: line)
        XCTAssertEqual(built.sections, decoded.sections, message, file: file, line: line)
        XCTAssertEqual(try JSONCoding.encoder.encode(built), try JSONCoding.encoder.encode(decoded), message, file: file, line: line)
    }

    func testRealProcessSectionScansLikeCodable() throws {
        try requireBPF()
        let (pid, payload) = try processPayload()

        let scanned = try XCTUnwrap(ProcessPayloadScanner.scan(payload))
        let decoded = try JSONValueDecoder.decode(ProcessPayload.self, from: payload)
        try assertSame(scanned, decoded, "process-\(pid)")
        XCTAssertEqual(scanned.pid, pid)
        XCTAssertEqual(scanned.sections.map(\.kind), KindRegistry.all.map(\.name))
        let files = try XCTUnwrap(scanned.sections.first { $0.kind == "files" })
        XCTAssertGreaterThan(files.entries.count, 8)
        XCTAssertEqual(files.entries.count, files.items.count)
    }

    func testRealOpenFilesBuildLikeCodable() throws {
        try requireBPF()
        let payload = try JSONValueDecoder.decode(ProcessPayload.self, from: try processPayload().1)
        let files = try XCTUnwrap(payload.sections.first { $0.kind == "files" })
        var anonKinds: Set<String> = []

        for (index, item) in files.items.enumerated() {
            let built = try XCTUnwrap(OpenFile(tree: item), "files item \(index)")
            let decoded = try JSONValueDecoder.decode(OpenFile.self, from: item)
            XCTAssertEqual(built, decoded, "files item \(index)")
            XCTAssertEqual(built.openFileId, decoded.openFileId, "files item \(index)")
            XCTAssertNotNil(built.openFileId, "files item \(index)")
            if let kind = built.anonKind { anonKinds.insert(kind) }
        }
        XCTAssertEqual(anonKinds, ["eventfd", "timerfd", "signalfd"])

        let image = ProcessImage(pid: payload.pid, process: payload.process, stopSignal: nil, sections: payload.sections,
                                 threads: [], memory: [], files: [])
        let items = try image.items("files", as: OpenFile.self)
        XCTAssertEqual(items, try files.items.map { try JSONValueDecoder.decode(OpenFile.self, from: $0) })
    }

    func testRealSignalsContextLimitsBuildLikeCodable() throws {
        try requireBPF()
        let payload = try JSONValueDecoder.decode(ProcessPayload.self, from: try processPayload().1)
        let image = ProcessImage(pid: payload.pid, process: payload.process, stopSignal: nil, sections: payload.sections,
                                 threads: [], memory: [], files: [])
        let signals = try XCTUnwrap(payload.sections.first { $0.kind == "signals" }).items
        let context = try XCTUnwrap(payload.sections.first { $0.kind == "context" }).items

        for (index, item) in signals.enumerated() {
            XCTAssertEqual(SignalAction(tree: item), try JSONValueDecoder.decode(SignalAction.self, from: item), "signals item \(index)")
        }
        for (index, item) in context.enumerated() {
            XCTAssertEqual(ContextProperty(tree: item), try JSONValueDecoder.decode(ContextProperty.self, from: item), "context item \(index)")
        }
        let limits = try XCTUnwrap(payload.sections.first { $0.kind == "limits" }).items
        for (index, item) in limits.enumerated() {
            XCTAssertEqual(ResourceLimit(tree: item), try JSONValueDecoder.decode(ResourceLimit.self, from: item), "limits item \(index)")
        }
        XCTAssertEqual(limits.count, 16)
        XCTAssertEqual(signals.count, 64)
        XCTAssertGreaterThan(context.count, 10)
        XCTAssertEqual(try image.items("signals", as: SignalAction.self),
                       try signals.map { try JSONValueDecoder.decode(SignalAction.self, from: $0) })
        XCTAssertEqual(try image.items("context", as: ContextProperty.self),
                       try context.map { try JSONValueDecoder.decode(ContextProperty.self, from: $0) })
        // The fixture blocks SIGUSR2 for its signalfd and keeps its default action.
        let usr2 = try XCTUnwrap(try image.items("signals", as: SignalAction.self).first { $0.signal == "SIGUSR2" })
        XCTAssertEqual(usr2.number, 12)
        XCTAssertEqual(usr2.disposition, .default)
        XCTAssertEqual(usr2.blockedIn, [payload.pid])
    }

    func testCapabilityLinesMatchKeyValues() throws {
        let status = try ProcFS.readText("/proc/self/status")
        let all = ProcFS.keyValues(status)
        let capabilities = RestorerLimits.capabilityLines(status)
        XCTAssertEqual(Set(capabilities.keys), ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"])
        for (key, value) in capabilities {
            XCTAssertEqual(value, all[key], key)
            XCTAssertEqual(value.count, 16, key)
        }
        XCTAssertEqual(RestorerLimits.capabilityLines("CapEff:\t 00ff \nName:\tx\n"), ["CapEff": "00ff"])
    }

    /// Encodes a process payload whose one section has the members `section`.
    private func payload(section: [String: JSONValue]) throws -> [UInt8] {
        let process = try JSONValue.from(ProcessEntry.sample)
        let payload: JSONValue = .object(["pid": .int(1), "process": process, "sections": .array([.object(section)])])
        return Array(try JSONEncoder().encode(payload))
    }

    /// Forms that Codable accepts and the scanner leaves to it: a camelCase
    /// key, an unknown key, an escaped key and a repeated key.
    func testOtherKeyFormsFallBackToCodable() throws {
        let entry: JSONValue = .object(["key": .string("fd 3"), "cells": .array([.string("3")]),
                                        "fields": .array([.object(["name": .string("fd"), "value": .string("3")])])])
        var members: [String: JSONValue] = ["kind": .string("files"), "source": .string("bpf"), "elapsedNs": .int(7),
                                            "items": .array([.int(1)]), "entries": .array([entry])]
        let camelCase = try payload(section: members)
        XCTAssertNil(ProcessPayloadScanner.scan(camelCase))
        let decoded = try CheckpointImage.decodeProcessPayload(camelCase, name: "process-1")
        XCTAssertEqual(decoded.sections, [Section(kind: "files", source: .bpf, unavailable: nil, elapsedNs: 7, items: [.int(1)],
                                                  entries: [Entry(key: "fd 3", cells: ["3"], fields: [Field("fd", "3")])])])

        members["elapsed_ns"] = members.removeValue(forKey: "elapsedNs")
        let canonical = try payload(section: members)
        XCTAssertEqual(ProcessPayloadScanner.scan(canonical)?.sections, decoded.sections)

        let escaped = Array(String(decoding: canonical, as: UTF8.self).replacingOccurrences(of: #""kind""#, with: #""\u006bind""#).utf8)
        XCTAssertNotEqual(escaped, canonical)
        XCTAssertNil(ProcessPayloadScanner.scan(escaped))
        XCTAssertEqual(try CheckpointImage.decodeProcessPayload(escaped, name: "process-1").sections, decoded.sections)

        let repeated = Array(String(decoding: canonical, as: UTF8.self).replacingOccurrences(of: #""kind":"files""#,
                                                                                            with: #""kind":"x","kind":"files""#).utf8)
        XCTAssertNotEqual(repeated, canonical)
        XCTAssertNil(ProcessPayloadScanner.scan(repeated))
        XCTAssertEqual(try CheckpointImage.decodeProcessPayload(repeated, name: "process-1").sections, decoded.sections)

        members["extra"] = .bool(true)
        let extra = try payload(section: members)
        XCTAssertNil(ProcessPayloadScanner.scan(extra))
        XCTAssertEqual(try CheckpointImage.decodeProcessPayload(extra, name: "process-1").sections, decoded.sections)
    }

    /// A damaged process section gives the one-line error that Codable
    /// decoding gives, with the path of the bad value.
    func testInvalidEntryNamesItsPath() throws {
        let field: JSONValue = .object(["name": .string("fd"), "value": .int(3)])
        let entry: JSONValue = .object(["key": .string("fd 3"), "cells": .array([]), "fields": .array([field])])
        let invalid = try payload(section: ["kind": .string("files"), "source": .string("bpf"), "elapsed_ns": .int(1),
                                            "items": .array([]), "entries": .array([entry])])

        XCTAssertThrowsError(try CheckpointImage.decodeProcessPayload(invalid, name: "process-1")) { error in
            XCTAssertEqual("\(error)", "section 'process-1' has invalid content: wrong type at .sections[0].entries[0].fields[0].value; \(ImageError.damaged)")
        }
    }

    // MARK: random changes

    /// Random changes to a real process section: wrong types, numbers out
    /// of range, removed, renamed and added keys, unknown enum names.
    /// Whatever the scanner accepts decodes to the same value, and opening
    /// gives the same value or the same error as Codable decoding.
    func testRandomTreeChangesMatchCodable() throws {
        try requireBPF()
        let base = trimmed(try JSONParser.parse(try processPayload().1))
        var generator = SeededGenerator(seed: 0x7EE5)
        var scanned = 0
        var rejected = 0

        for round in 0..<600 {
            let changed = Array(try JSONEncoder().encode(TreeMutation.apply(to: base, with: &generator)))
            if try assertScanMatchesCodable(changed, round: round) { scanned += 1 } else { rejected += 1 }
            try assertOpenMatchesCodable(changed, round: round)
        }
        XCTAssertGreaterThan(scanned, 50, "changes the scanner accepts")
        XCTAssertGreaterThan(rejected, 50, "changes the scanner leaves to Codable")
    }

    /// Random byte flips, cuts, insertions and deletions, as JSONParserTests makes them.
    func testRandomByteChangesMatchCodable() throws {
        try requireBPF()
        let base = Array(try JSONEncoder().encode(trimmed(try JSONParser.parse(try processPayload().1))))
        var generator = SeededGenerator(seed: 0xB17E)
        var scanned = 0

        for round in 0..<600 {
            let changed = mutate(base, with: &generator)
            if try assertScanMatchesCodable(changed, round: round) { scanned += 1 }
            try assertOpenMatchesCodable(changed, round: round)
        }
        XCTAssertGreaterThan(scanned, 50, "changes the scanner accepts")
    }

    func testRandomItemChangesMatchCodable() throws {
        try requireBPF()
        let payload = try JSONValueDecoder.decode(ProcessPayload.self, from: try processPayload().1)
        var generator = SeededGenerator(seed: 0xF11E)
        let files = try assertRandomChanges(payload, kind: "files", as: OpenFile.self, with: &generator) { a, b in
            XCTAssertEqual(a.openFileId, b.openFileId)
        }
        XCTAssertGreaterThan(files, 100, "files changes the builder accepts")
        XCTAssertGreaterThan(try assertRandomChanges(payload, kind: "signals", as: SignalAction.self, with: &generator), 100)
        XCTAssertGreaterThan(try assertRandomChanges(payload, kind: "context", as: ContextProperty.self, with: &generator), 100)
        XCTAssertGreaterThan(try assertRandomChanges(payload, kind: "limits", as: ResourceLimit.self, with: &generator), 100)
    }

    /// Changes items of `kind` at random and checks that whatever the
    /// builder of `T` accepts, Codable decodes to the same value. Returns how many it accepted.
    private func assertRandomChanges<T: TreeBuildable & Equatable>(
        _ payload: ProcessPayload, kind: String, as type: T.Type, with generator: inout SeededGenerator,
        alsoCompare: (T, T) -> Void = { _, _ in }
    ) throws -> Int {
        let items = try XCTUnwrap(payload.sections.first { $0.kind == kind }).items
        var built = 0
        for round in 0..<1000 {
            let changed = TreeMutation.apply(to: items[round % items.count], with: &generator)
            let decoded = try? JSONValueDecoder.decode(T.self, from: changed)
            guard let fast = T(tree: changed) else { continue }
            built += 1
            let slow = try XCTUnwrap(decoded, "\(kind) round \(round): the builder accepts what Codable rejects")
            XCTAssertEqual(fast, slow, "\(kind) round \(round)")
            alsoCompare(fast, slow)
        }
        return built
    }

    /// Returns whether the scanner accepts `bytes`, and checks that
    /// Codable decoding then gives the same value.
    private func assertScanMatchesCodable(_ bytes: [UInt8], round: Int) throws -> Bool {
        guard let scanned = ProcessPayloadScanner.scan(bytes) else { return false }
        let decoded = try? JSONValueDecoder.decode(ProcessPayload.self, from: bytes)
        let slow = try XCTUnwrap(decoded, "round \(round): the scanner accepts what Codable rejects")
        try assertSame(scanned, slow, "round \(round)")
        return true
    }

    /// Opens `bytes` as a process section both ways: the results must be
    /// equal values or the same error message.
    private func assertOpenMatchesCodable(_ bytes: [UInt8], round: Int) throws {
        let fast = Result { try CheckpointImage.decodeProcessPayload(bytes, name: "process-1") }
        let slow = Result { try CheckpointImage.decode(bytes, name: "process-1") as ProcessPayload }
        switch (fast, slow) {
        case (.success(let a), .success(let b)):
            try assertSame(a, b, "round \(round)")
        case (.failure(let a), .failure(let b)):
            XCTAssertEqual("\(a)", "\(b)", "round \(round)")
        default:
            XCTFail("round \(round): one way fails and the other succeeds: \(fast) \(slow)")
        }
    }

    private func mutate(_ source: [UInt8], with generator: inout SeededGenerator) -> [UInt8] {
        var bytes = source
        let structural: [UInt8] = Array("{}[],:\"\\0123456789-.eEtfnu ".utf8) + [0x00, 0x80, 0xFF]
        for _ in 0...generator.below(3) {
            guard !bytes.isEmpty else { break }
            let at = generator.below(bytes.count)
            switch generator.below(4) {
            case 0: bytes[at] = structural[generator.below(structural.count)]
            case 1: bytes.removeSubrange(at...)
            case 2: bytes.insert(structural[generator.below(structural.count)], at: at)
            default: bytes.remove(at: at)
            }
        }
        return bytes
    }

    /// Keeps the first two items and entries of each section, so that every round decodes quickly.
    private func trimmed(_ tree: JSONValue) -> JSONValue {
        guard case .object(var members) = tree, case .array(let sections)? = members["sections"] else { return tree }
        members["sections"] = .array(sections.map { section in
            guard case .object(var fields) = section else { return section }
            for key in ["items", "entries"] {
                if case .array(let elements)? = fields[key] { fields[key] = .array(Array(elements.prefix(2))) }
            }
            return .object(fields)
        })
        return .object(members)
    }
}

private extension ProcessEntry {
    static let sample = ProcessEntry(
        pid: 1, ppid: 0, pgid: 1, sid: 1, uid: 0, euid: 0, gid: 0, egid: 0, state: .sleeping, stopSignal: nil, tracerPid: 0,
        exitStatus: nil, exitSignal: nil, comm: "init", commandLine: "init", argvLength: 5, argvTruncated: false, threads: 1,
        rssBytes: 0, virtualBytes: 0, startTimeNs: 0, cpuTimeNs: 0, isKernelThread: false)
}
