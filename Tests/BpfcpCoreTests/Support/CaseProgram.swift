import Foundation

/// Builds and starts the shared real-world case programs, which print their
/// own first line instead of READY.
enum CaseProgram {
    /// Compiles the C case `file` into build/fixtures when the source is newer.
    static func compile(_ file: String) throws -> String {
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

    /// Starts the C case `file` and waits for its first line.
    static func start(_ file: String) throws -> Fixture {
        try Fixture(executable: try compile(file), arguments: [], readyPrefix: nil)
    }

    /// Returns every decimal number in `line`, in order.
    static func numbers(_ line: String) -> [Int32] {
        line.split(whereSeparator: { !$0.isNumber }).compactMap { Int32($0) }
    }
}
