@testable import BpfcpCore
import BpfcpTestSupport
import Foundation
import XCTest

/// The tree builders (`ProcessPayload.init?(tree:)`, `OpenFile.init?(tree:)`)
/// must give what `JSONValueDecoder` gives whenever they accept a tree, on
/// real images and on random changes to them, and opening an image must
/// throw the errors that Codable decoding throws.
final class TreeBuildingTests: XCTestCase {
    private var scratch = ""
    private var fixture: Fixture?

    override func setUpWithError() throws {
        scratch = try CheckpointSupport.scratchDirectory("treebuild")
    }

    override func tearDown() {
        fixture?.stop()
        fixture = nil
        try? FileManager.default.removeItem(atPath: scratch)
    }

    /// Checkpoints the restore_basic fixture with its regular files, pipe,
    /// eventfd, signalfd and timerfd, and returns the parsed payload of its process section.
    private func processTree() throws -> (Int32, JSONValue) {
        let started = try Fixture(c: "restore_basic", arguments: [scratch, "1", "4", "events"])
        fixture = started
        let dir = scratch + "/image"
        try Checkpointer.dump(pid: started.pid, to: dir, options: CaptureOptions(scratchDirectory: scratch), kill: false)
        let name = "process-\(started.pid)"
        let payload = try SectionReader.read(path: dir + "/" + name + ".img", section: name, expected: .process)
        return (started.pid, try JSONParser.parse(payload))
    }

    private func assertSame(_ built: ProcessPayload, _ decoded: ProcessPayload, _ message: String,
                            file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(built.pid, decoded.pid, message, file: file, line: line)
        XCTAssertEqual(built.stopSignal, decoded.stopSignal, message, file: file, line: line)
        XCTAssertEqual(built.sections, decoded.sections, message, file: file, line: line)
        XCTAssertEqual(try JSONCoding.encoder.encode(built), try JSONCoding.encoder.encode(decoded), message, file: file, line: line)
    }

    func testRealProcessSectionBuildsLikeCodable() throws {
        try requireBPF()
        let (pid, tree) = try processTree()

        let built = try XCTUnwrap(ProcessPayload(tree: tree))
        let decoded = try JSONValueDecoder.decode(ProcessPayload.self, from: tree)
        try assertSame(built, decoded, "process-\(pid)")
        XCTAssertEqual(built.pid, pid)
        XCTAssertEqual(built.sections.map(\.kind), KindRegistry.all.map(\.name))
        let files = try XCTUnwrap(built.sections.first { $0.kind == "files" })
        XCTAssertGreaterThan(files.entries.count, 8)
        XCTAssertEqual(files.entries.count, files.items.count)
    }

    func testRealOpenFilesBuildLikeCodable() throws {
        try requireBPF()
        let (_, tree) = try processTree()
        let payload = try JSONValueDecoder.decode(ProcessPayload.self, from: tree)
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

    /// Keys that Codable accepts and the builder leaves to it: a camelCase
    /// key and an unknown extra key.
    func testOtherKeySpellingsFallBackToCodable() throws {
        let entry: JSONValue = .object(["key": .string("fd 3"), "cells": .array([.string("3")]),
                                        "fields": .array([.object(["name": .string("fd"), "value": .string("3")])])])
        var members: [String: JSONValue] = ["kind": .string("files"), "source": .string("bpf"), "elapsedNs": .int(7),
                                            "items": .array([]), "entries": .array([entry])]
        XCTAssertNil(Section(tree: .object(members)))
        let decoded = try JSONValueDecoder.decode(Section.self, from: .object(members))
        XCTAssertEqual(decoded.elapsedNs, 7)
        XCTAssertEqual(decoded.entries, [Entry(key: "fd 3", cells: ["3"], fields: [Field("fd", "3")])])

        members["elapsed_ns"] = members.removeValue(forKey: "elapsedNs")
        XCTAssertEqual(Section(tree: .object(members)), decoded)
        members["extra"] = .bool(true)
        XCTAssertNil(Section(tree: .object(members)))
        XCTAssertEqual(try JSONValueDecoder.decode(Section.self, from: .object(members)), decoded)
    }

    /// A damaged process section gives the one-line error that Codable
    /// decoding gives, with the path of the bad value.
    func testInvalidEntryNamesItsPath() throws {
        let field: JSONValue = .object(["name": .string("fd"), "value": .int(3)])
        let entry: JSONValue = .object(["key": .string("fd 3"), "cells": .array([]), "fields": .array([field])])
        let section: JSONValue = .object(["kind": .string("files"), "source": .string("bpf"), "elapsed_ns": .int(1),
                                          "items": .array([]), "entries": .array([entry])])
        let process = try JSONValue.from(ProcessEntry.sample)
        let payload = try JSONEncoder().encode(JSONValue.object(["pid": .int(1), "process": process, "sections": .array([section])]))

        XCTAssertThrowsError(try CheckpointImage.decodeProcessPayload(Array(payload), name: "process-1")) { error in
            XCTAssertEqual("\(error)", "section 'process-1' has invalid content: wrong type at .sections[0].entries[0].fields[0].value; \(ImageError.damaged)")
        }
    }

    // MARK: random changes

    /// Random changes to a real process section: wrong types, numbers out
    /// of range, removed, renamed and added keys, unknown enum names.
    /// Whatever the builder accepts decodes to the same value, and opening
    /// gives the same value or the same error as Codable decoding.
    func testRandomTreeChangesMatchCodable() throws {
        try requireBPF()
        let (_, tree) = try processTree()
        let base = trimmed(tree)
        var generator = SeededGenerator(seed: 0x7EE5)
        var built = 0
        var rejected = 0

        for round in 0..<600 {
            let changed = TreeMutation.apply(to: base, with: &generator)
            let decoded = try? JSONValueDecoder.decode(ProcessPayload.self, from: changed)
            if let fast = ProcessPayload(tree: changed) {
                built += 1
                let slow = try XCTUnwrap(decoded, "round \(round): the builder accepts what Codable rejects")
                try assertSame(fast, slow, "round \(round)")
            } else {
                rejected += 1
            }
            try assertOpenMatchesCodable(changed, round: round)
        }
        XCTAssertGreaterThan(built, 50, "changes the builder accepts")
        XCTAssertGreaterThan(rejected, 50, "changes the builder leaves to Codable")
    }

    func testRandomOpenFileChangesMatchCodable() throws {
        try requireBPF()
        let (_, tree) = try processTree()
        let payload = try JSONValueDecoder.decode(ProcessPayload.self, from: tree)
        let items = try XCTUnwrap(payload.sections.first { $0.kind == "files" }).items
        var generator = SeededGenerator(seed: 0xF11E)
        var built = 0

        for round in 0..<1500 {
            let changed = TreeMutation.apply(to: items[round % items.count], with: &generator)
            let decoded = try? JSONValueDecoder.decode(OpenFile.self, from: changed)
            guard let fast = OpenFile(tree: changed) else { continue }
            built += 1
            let slow = try XCTUnwrap(decoded, "round \(round): the builder accepts what Codable rejects")
            XCTAssertEqual(fast, slow, "round \(round)")
            XCTAssertEqual(fast.openFileId, slow.openFileId, "round \(round)")
        }
        XCTAssertGreaterThan(built, 100, "changes the builder accepts")
    }

    /// Encodes `tree` and opens it as a process section both ways: the
    /// results must be equal values or the same error message.
    private func assertOpenMatchesCodable(_ tree: JSONValue, round: Int) throws {
        let bytes = Array(try JSONEncoder().encode(tree))
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
