import Foundation

/// A swap file enabled for one test, in a new directory under /var/tmp,
/// which must be on a disk file system: swapon refuses files on tmpfs.
/// `remove()` (also run by deinit) disables and deletes it.
final class SwapFile {
    let directory: String
    let path: String
    private var enabled = false

    init(megabytes: Int) throws {
        var template = Array("/var/tmp/bpfcp-swap-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else {
            throw FixtureError("creating a directory under /var/tmp for a swap file failed: \(String(cString: strerror(errno)))")
        }
        directory = String(cString: template)
        path = directory + "/swapfile"
        do {
            try Self.requireDiskFileSystem(directory)
            try Self.writeZeros(path, megabytes: megabytes)
            try Self.run("/usr/sbin/mkswap", path)
            try Self.run("/usr/sbin/swapon", path)
            enabled = true
        } catch {
            remove()
            throw error
        }
    }

    deinit {
        remove()
    }

    /// Disables the swap file and deletes its directory. Safe to call twice.
    func remove() {
        if enabled {
            enabled = false
            do {
                try Self.run("/usr/sbin/swapoff", path)
            } catch {
                print("warning: \(error); run `swapoff \(path)` by hand before removing it")
                return
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Looks the directory's mount up in /proc/self/mounts: the longest mount point that contains it.
    private static func requireDiskFileSystem(_ dir: String) throws {
        let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        let entries = mounts.split(separator: "\n").map { $0.split(separator: " ") }.filter { $0.count > 2 }
        let containing = entries.filter { dir == $0[1] || dir.hasPrefix($0[1] == "/" ? "/" : $0[1] + "/") }
        guard let mount = containing.max(by: { $0[1].count < $1[1].count }) else {
            throw FixtureError("no mount in /proc/self/mounts contains \(dir)")
        }
        if mount[2] == "tmpfs" {
            throw FixtureError("\(dir) is on tmpfs, where swapon refuses swap files: mount /var/tmp on a disk file system")
        }
    }

    /// Writes the file with zeros: swapon rejects files with holes.
    private static func writeZeros(_ path: String, megabytes: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw FixtureError("creating swap file \(path) failed")
        }
        defer { try? handle.close() }
        let chunk = Data(count: 1 << 20)
        for _ in 0..<megabytes { try handle.write(contentsOf: chunk) }
        try handle.synchronize()
    }

    /// Runs a swap tool and throws its message when it fails.
    private static func run(_ tool: String, _ argument: String) throws {
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = [argument]
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let message = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let name = (tool as NSString).lastPathComponent
            throw FixtureError("\(name) \(argument) failed with status \(process.terminationStatus): "
                + "\(message.trimmingCharacters(in: .whitespacesAndNewlines)); swap tests need root and a kernel with CONFIG_SWAP")
        }
    }
}
