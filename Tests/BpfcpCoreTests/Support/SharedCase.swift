import Foundation

/// Starts the shared real-world case programs (C or Python), which print
/// their own first line instead of READY.
enum SharedCase {
    /// Compiles the C case `file` into build/fixtures/case_NAME when the source is newer, and starts it.
    static func startC(_ file: String, arguments: [String] = []) throws -> Fixture {
        try Fixture(executable: try compile(file), arguments: arguments, readyPrefix: nil)
    }

    /// Runs the Python case `file` with python3 from PATH.
    static func startPython(_ file: String) throws -> Fixture {
        try Fixture(executable: "/usr/bin/env", arguments: ["python3", Fixture.casePath(file)], readyPrefix: nil)
    }

    /// Returns the number that follows `word` in `line` ("pid 123" gives 123 for "pid").
    static func number(after word: String, in line: String) -> Int32? {
        let tokens = line.split(whereSeparator: { $0 == " " || $0 == "," || $0 == ";" || $0 == "=" || $0 == ":" })
        guard let i = tokens.firstIndex(where: { $0 == word }), i + 1 < tokens.count else { return nil }
        return Int32(tokens[i + 1].filter(\.isNumber))
    }

    private static func compile(_ file: String) throws -> String {
        let source = Fixture.casePath(file)
        let name = (file as NSString).deletingPathExtension
        let binary = Fixture.repositoryRoot() + "/build/fixtures/case_\(name)"
        let fm = FileManager.default
        try fm.createDirectory(atPath: (binary as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if let built = try? fm.attributesOfItem(atPath: binary)[.modificationDate] as? Date,
           let src = try? fm.attributesOfItem(atPath: source)[.modificationDate] as? Date, built > src {
            return binary
        }

        let gcc = Process()
        gcc.executableURL = URL(fileURLWithPath: "/usr/bin/gcc")
        gcc.arguments = ["-Wall", "-O2", "-pthread", "-o", binary + ".tmp", source]
        try gcc.run()
        gcc.waitUntilExit()
        guard gcc.terminationStatus == 0 else { throw FixtureError("gcc failed on \(source)") }
        try? fm.removeItem(atPath: binary)
        try fm.moveItem(atPath: binary + ".tmp", toPath: binary)
        return binary
    }
}
