import Foundation

/// Starts the shared real-world case programs (C or Python), which print
/// their own first line instead of READY.
enum SharedCase {
    /// Compiles the C case `file` into build/fixtures/case_NAME when the source is newer, and starts it.
    static func startC(_ file: String, arguments: [String] = []) throws -> Fixture {
        try Fixture(executable: try CaseProgram.compile(file), arguments: arguments, readyPrefix: nil)
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
}
