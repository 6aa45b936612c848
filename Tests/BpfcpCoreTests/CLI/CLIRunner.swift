import Foundation
import XCTest

/// The result of one run of the `bpfcp` binary.
struct CLIResult {
    /// False when a signal ended the process, as a Swift runtime trap does.
    let exitedNormally: Bool
    let status: Int32
    let stdout: [UInt8]
    let stderr: [UInt8]

    var out: String { String(decoding: stdout, as: UTF8.self) }
    var err: String { String(decoding: stderr, as: UTF8.self) }

    /// Stdout lines without the final empty one.
    var outLines: [String] { out.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }
    var errLines: [String] { err.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) }

    /// Stdout parsed as one JSON object.
    func json(file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(stdout))
        return try XCTUnwrap(value as? [String: Any], "stdout is not a JSON object: \(out)", file: file, line: line)
    }
}

/// Runs the `bpfcp` binary built next to the test bundle, as a user would.
enum CLI {
    /// Path of the built `bpfcp`: beside the test bundle, else in .build/debug.
    static var binary: String {
        let bundleDir = Bundle.main.bundleURL.deletingLastPathComponent().path
        for dir in [Bundle.main.bundleURL.path, bundleDir] where FileManager.default.isExecutableFile(atPath: dir + "/bpfcp") {
            return dir + "/bpfcp"
        }
        return Fixture.repositoryRoot() + "/.build/debug/bpfcp"
    }

    /// Runs `bpfcp arguments...`. With `asNobody`, runs it through setpriv as
    /// uid and gid 65534 with no supplementary groups and no capabilities.
    static func run(_ arguments: [String], asNobody: Bool = false, timeout: TimeInterval = 60) throws -> CLIResult {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bpfcp-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outPath = dir.path + "/stdout", errPath = dir.path + "/stderr"

        let child = asNobody
            ? try Spawned("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", binary] + arguments,
                          stdout: outPath, stderr: errPath)
            : try Spawned(binary, arguments, stdout: outPath, stderr: errPath)
        let (exitedNormally, status) = try child.wait(timeout: timeout)
        return CLIResult(exitedNormally: exitedNormally, status: status,
                         stdout: Array(try Data(contentsOf: URL(fileURLWithPath: outPath))),
                         stderr: Array(try Data(contentsOf: URL(fileURLWithPath: errPath))))
    }
}
