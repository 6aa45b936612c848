import BpfcpCore
import XCTest

/// Runs each command with --json and compares its keys with docs/JSON.md,
/// so that the documentation stays true to the code.
final class CLIJSONDocTests: XCTestCase {
    func testPsMatchesDoc() throws {
        try requireBPF()
        let doc = try JSONDoc.load()
        let table = try doc.table("ps")

        for source in [[], ["--proc"]] {
            let result = try CLI.run(["--json", "ps"] + source)
            XCTAssertEqual(result.status, 0, result.err)
            let object = try result.json()
            XCTAssertEqual(Set(object.keys), try doc.topLevelKeys("ps"))
            XCTAssertEqual(object["schema_version"] as? Int, 1)
            XCTAssertEqual(object["source"] as? String, source.isEmpty ? "bpf" : "proc")

            let processes = try XCTUnwrap(object["processes"] as? [[String: Any]])
            XCTAssertGreaterThan(processes.count, 1)
            for process in processes {
                table.assertMatches(process, "ps process \(process["pid"] ?? "?")")
            }
            let pids = processes.compactMap { $0["pid"] as? Int }
            XCTAssertEqual(pids, pids.sorted())
        }
    }

    func testDumpMatchesDoc() throws {
        try requireBPF()
        let doc = try JSONDoc.load()
        let fixture = try Fixture(c: "cli_target")
        let processTable = try doc.table("ps").removing("user")
        let tables = try doc.tables("dump")
        XCTAssertEqual(tables.count, 2, "docs/JSON.md dump section has the dump table and the kind entry table")

        for source in [[], ["--proc"]] {
            let result = try CLI.run(["--json", "dump", "\(fixture.pid)"] + source)
            XCTAssertEqual(result.status, 0, result.err)
            let object = try result.json()
            XCTAssertEqual(Set(object.keys), try doc.topLevelKeys("dump"))
            tables[0].assertMatches(object.filter { $0.key != "schema_version" }, "dump")
            XCTAssertEqual(object["pid"] as? Int, Int(fixture.pid))
            processTable.assertMatches(try XCTUnwrap(object["process"] as? [String: Any]), "dump process")

            let kinds = try XCTUnwrap(object["kinds"] as? [String: [String: Any]])
            XCTAssertEqual(Set(kinds.keys), Set(KindRegistry.all.map(\.name)))
            // cli_target has a thread, files, a pipe, a unix socket pair, an eventfd in an epoll set and an inotify watch.
            for name in ["threads", "files", "memory", "signals", "sigthreads", "pipes", "sockets", "events", "epoll", "notify"]
            where kinds[name] != nil {
                let items = (kinds[name]?["items"] as? [[String: Any]]) ?? []
                XCTAssertFalse(items.isEmpty, "kinds.\(name) has items to compare with docs/JSON.md")
            }
            for (name, entry) in kinds {
                tables[1].assertMatches(entry, "kinds.\(name)")
                let itemTable = try doc.table("kinds.\(name)")
                for item in try XCTUnwrap(entry["items"] as? [[String: Any]]) {
                    itemTable.assertMatches(item, "kinds.\(name) item")
                }
            }
        }
    }

    func testCheckpointAndShowMatchDoc() throws {
        try requireBPF()
        let doc = try JSONDoc.load()
        let fixture = try Fixture(c: "cli_target")
        let directory = FileManager.default.temporaryDirectory.path + "/bpfcp-doc-image-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let dump = try CLI.run(["--json", "dump", "-D", directory, "\(fixture.pid)"])
        XCTAssertEqual(dump.status, 0, dump.out + dump.err)
        let report = try dump.json()
        XCTAssertEqual(Set(report.keys), try doc.topLevelKeys("checkpoint"))
        try doc.table("checkpoint").assertMatches(report.filter { $0.key != "schema_version" }, "checkpoint")
        let stats = try XCTUnwrap(report["stats"] as? [String: Any])
        try doc.tables("checkpoint")[1].assertMatches(stats, "checkpoint stats")
        let phases = try XCTUnwrap(stats["phases"] as? [String: Int])
        try doc.tables("checkpoint")[2].assertMatches(phases, "checkpoint stats.phases")
        XCTAssertLessThanOrEqual(phases.values.reduce(0, +), try XCTUnwrap(stats["total_ns"] as? Int))
        XCTAssertEqual(report["pids"] as? [Int], [Int(fixture.pid)])
        XCTAssertEqual(stats["threads"] as? Int, 2)

        let show = try CLI.run(["--json", "show", directory])
        XCTAssertEqual(show.status, 0, show.err)
        let image = try show.json()
        XCTAssertEqual(Set(image.keys), try doc.topLevelKeys("show"))
        try doc.table("show").assertMatches(try XCTUnwrap(image["image"] as? [String: Any]), "show image")
        let processes = try XCTUnwrap(image["processes"] as? [[String: Any]])
        XCTAssertEqual(processes.count, 1)
        XCTAssertEqual(Set(processes.first?.keys ?? [:].keys), try doc.topLevelKeys("dump"))
    }

    func testEveryKindDocumented() throws {
        let doc = try JSONDoc.load()
        for kind in KindRegistry.all {
            XCTAssertNoThrow(try doc.table("kinds.\(kind.name)"), "kind \(kind.name) has no section in docs/JSON.md")
        }
    }

    func testCheckMatchesDoc() throws {
        let doc = try JSONDoc.load()
        let result = try CLI.run(["--json", "check"])
        let object = try result.json()
        XCTAssertEqual(Set(object.keys), try doc.topLevelKeys("check"))
        XCTAssertEqual(result.status, (object["ok"] as? Bool) == true ? 0 : 1)
        let table = try doc.table("check")
        for check in try XCTUnwrap(object["checks"] as? [[String: Any]]) {
            table.assertMatches(check, "check \(check["name"] ?? "?")")
        }
    }

    func testErrorAndVersionMatchDoc() throws {
        let doc = try JSONDoc.load()
        let error = try CLI.run(["--json", "dump", "0"]).json()
        XCTAssertEqual(Set(error.keys), try doc.topLevelKeys("errors"))
        try doc.table("errors").assertMatches(try XCTUnwrap(error["error"] as? [String: Any]), "error")

        let version = try CLI.run(["--json", "--version"]).json()
        XCTAssertEqual(Set(version.keys), try doc.topLevelKeys("version"))
    }

    func testDiffTopLevelMatchesDoc() throws {
        try requireBPF()
        let doc = try JSONDoc.load()
        let fixture = try Fixture(c: "cli_target")
        let live = "live:\(fixture.pid)"
        let result = try CLI.run(["--json", "diff", live, live, "--only", "files"])
        XCTAssertTrue([0, 1].contains(result.status), result.err)
        XCTAssertEqual(Set(try result.json().keys), try doc.topLevelKeys("diff"))
    }

    func testDiffPageChangesMatchDoc() throws {
        try requireBPF()
        let doc = try JSONDoc.load()
        let tables = try doc.tables("diff")
        XCTAssertEqual(tables.count, 2, "docs/JSON.md diff section has the diff table and the page_changes table")
        let fixture = try Fixture(c: "cli_target")
        let live = "live:\(fixture.pid)"
        let result = try CLI.run(["--json", "diff", live, live, "--only", "memory"])
        XCTAssertTrue([0, 1].contains(result.status), result.err)

        let diff = try XCTUnwrap(try result.json()["diff"] as? [String: Any])
        tables[0].splittingCombinedKeys().assertMatches(diff, "diff")
        tables[1].assertMatches(try XCTUnwrap(diff["page_changes"] as? [String: Any]), "diff.page_changes")
    }
}

/// The key tables of docs/JSON.md.
struct JSONDoc {
    /// Lines of each section, keyed by its heading without the #s ("ps", "kinds.files").
    let sections: [String: [String]]

    static func load() throws -> JSONDoc {
        let text = try String(contentsOfFile: Fixture.repositoryRoot() + "/docs/JSON.md", encoding: .utf8)
        var sections: [String: [String]] = [:]
        var current = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("#") {
                current = line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces)
                continue
            }
            sections[current, default: []].append(line)
        }
        return JSONDoc(sections: sections)
    }

    /// The names on the section's "Top-level keys:" line.
    func topLevelKeys(_ section: String) throws -> Set<String> {
        let line = try XCTUnwrap(sections[section]?.first { $0.hasPrefix("Top-level keys:") },
                                 "docs/JSON.md section \(section) has no Top-level keys line")
        return Set(line.split(separator: "`").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) })
    }

    /// The key tables of a section, in order: rows whose first cell is a `key`.
    func tables(_ section: String) throws -> [KeyTable] {
        let lines = try XCTUnwrap(sections[section], "docs/JSON.md has no section \(section)")
        var tables: [KeyTable] = []
        var rows: [String: Bool] = [:]
        var inKeyTable = false

        for line in lines + [""] {
            if line.hasPrefix("| key |") {
                inKeyTable = true
                continue
            }
            if inKeyTable && line.hasPrefix("|") {
                let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
                guard cells.count >= 2, cells[0].hasPrefix("`") else { continue }
                rows[cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = cells[1].contains("optional")
                continue
            }
            if inKeyTable {
                tables.append(KeyTable(optional: rows))
                rows = [:]
                inKeyTable = false
            }
        }
        return tables
    }

    func table(_ section: String) throws -> KeyTable {
        try XCTUnwrap(try tables(section).first, "docs/JSON.md section \(section) has no key table")
    }
}

/// Documented keys of one object, each marked optional or not.
struct KeyTable {
    let optional: [String: Bool]

    /// Splits each row that names several keys ("`before`, `after`") into one row per key.
    func splittingCombinedKeys() -> KeyTable {
        var rows: [String: Bool] = [:]
        for (key, isOptional) in optional {
            for part in key.components(separatedBy: "`, `") { rows[part] = isOptional }
        }
        return KeyTable(optional: rows)
    }

    func removing(_ key: String) -> KeyTable {
        KeyTable(optional: optional.filter { $0.key != key })
    }

    /// Checks that `object` has every required key and no undocumented one.
    func assertMatches(_ object: [String: Any], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        let keys = Set(object.keys)
        let undocumented = keys.subtracting(optional.keys)
        let missing = Set(optional.filter { !$0.value }.keys).subtracting(keys)
        XCTAssertEqual(undocumented, [], "\(label): keys missing from docs/JSON.md", file: file, line: line)
        XCTAssertEqual(missing, [], "\(label): documented keys missing from the output", file: file, line: line)
    }
}
