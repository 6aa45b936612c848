import Foundation

/// Reasons for the differences of fds whose file restore does not bring
/// back as it was: a terminal fd that restore attaches to another file, and
/// a regular file that changed on disk after the checkpoint.
struct FileVerifyReasons {
    /// Fields of a terminal fd that describe the file restore attached in
    /// its place. The fd number and the close-on-exec bit are not among
    /// them, because restore sets both from the image.
    static let redirectedFields: Set<String> = ["type", "path", "device", "inode", "mount id", "flags", "position", "mode", "size"]
    /// Fields of an open regular file that describe the file on disk, not the process.
    static let onDiskFields: Set<String> = ["size"]

    /// Reason for each terminal fd, by entry key ("fd 0").
    private var terminals: [String: String] = [:]
    /// Entry keys of the regular files that no memory area maps.
    private var unmappedFiles: Set<String> = []

    /// Reads the terminal fds from `plan` and the open regular files and
    /// mapped files from `image`. `stdio` is the `--stdio` file, nil when
    /// restore attaches the terminal fds to its own stdin, stdout and stderr.
    init(image: ProcessImage, plan: RestorePlan, stdio: String?) throws {
        for file in plan.files {
            guard case .terminal(let restorerFd) = file.source else { continue }
            terminals["fd \(file.fd)"] = Self.terminalReason(fd: file.fd, restorerFd: restorerFd, stdio: stdio)
        }

        let areas = try image.items("memory", as: MemoryArea.self)
        let mappedInodes = Set(areas.map { "\($0.device) \($0.inode)" })
        let mappedPaths = Set(areas.map(\.path))
        for file in try image.items("files", as: OpenFile.self) where file.type == .regular && !file.deleted {
            guard !mappedInodes.contains("\(file.device) \(file.inode)"), !mappedPaths.contains(file.path) else { continue }
            unmappedFiles.insert("fd \(file.fd)")
        }
    }

    /// Returns why `field` of the files entry `key` differs, or nil when restore should have kept it.
    func reason(kind: String, key: String, field: String) -> String? {
        guard kind == "files" else { return nil }
        if let terminal = terminals[key] {
            return Self.redirectedFields.contains(field) ? terminal : nil
        }
        if unmappedFiles.contains(key) && Self.onDiskFields.contains(field) {
            return "the file changed on disk after the checkpoint"
        }
        return nil
    }

    private static func terminalReason(fd: Int32, restorerFd: Int32, stdio: String?) -> String {
        if let stdio {
            return "fd \(fd) was a terminal, and restore attached it to the --stdio file \(Escape.text(stdio))"
        }
        let names = ["stdin", "stdout", "stderr"]
        let name = names.indices.contains(Int(restorerFd)) ? names[Int(restorerFd)] : "fd \(restorerFd)"
        return "fd \(fd) was a terminal, and restore attached it to its own \(name)"
    }
}
