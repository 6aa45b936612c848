import Foundation

/// The temporary directories a dump writes beside its image: the staging
/// directory `.NAME.partial-PID-START-RANDOM` and the page store
/// `.bpfcp-pages-PID-START-RANDOM`. PID and START name the writer, START
/// being its start time in clock ticks after boot (field 22 of
/// /proc/PID/stat). So a later dump can tell a directory whose writer was
/// killed from one still being written, even when the pid was reused.
enum PartialDirectory {
    /// Returns "-PID-START-RANDOM" for a directory this process writes.
    static func writerSuffix() -> String {
        "-\(getpid())-\(startTime(getpid()) ?? 0)-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Parses the writer from a temporary directory's name; nil when the name is not one.
    /// `start` is nil for names written before the start time was part of them.
    static func writer(of name: String) -> (pid: Int32, start: UInt64?)? {
        let tail: Substring
        if name.hasPrefix(".bpfcp-pages-") {
            tail = name.dropFirst(".bpfcp-pages-".count)
        } else if name.hasPrefix("."), let range = name.range(of: ".partial-", options: .backwards) {
            tail = name[range.upperBound...]
        } else {
            return nil
        }
        let numbers = tail.split(separator: "-", omittingEmptySubsequences: false)
        guard numbers.count == 2 || numbers.count == 3, numbers.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }),
              let pid = Int32(numbers[0]), pid > 0 else { return nil }
        return (pid, numbers.count == 3 ? UInt64(numbers[1]) : nil)
    }

    /// Returns whether the writer still runs: its pid exists and, when the name has
    /// a start time, started at that time.
    static func writerRuns(pid: Int32, start: UInt64?) -> Bool {
        guard let actual = startTime(pid) else { return false }
        return start.map { $0 == actual } ?? true
    }

    /// Removes the temporary directories in `parent` whose writer is gone.
    /// Only directories owned by this user are touched; a failed removal is
    /// logged and skipped, since it must not stop the dump.
    static func removeStale(in parent: String) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []
        for name in names {
            guard let writer = writer(of: name), !writerRuns(pid: writer.pid, start: writer.start) else { continue }
            let path = parent + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == geteuid() else { continue }
            do {
                try FileManager.default.removeItem(atPath: path)
                Log.shared.write("removed \(Escape.text(path)), left by dump process \(writer.pid), which is gone")
            } catch {
                Log.shared.write("could not remove \(Escape.text(path)), left by dump process \(writer.pid): \(error.localizedDescription)")
            }
        }
    }

    /// Describes the staging directory `dir` of an unfinished image and what
    /// to do about it; nil when `dir` is not named like one.
    static func describeUnfinished(_ dir: String) -> String? {
        let path = (dir as NSString).standardizingPath
        let name = (path as NSString).lastPathComponent
        guard let writer = writer(of: name) else { return nil }
        guard !writerRuns(pid: writer.pid, start: writer.start) else {
            return "bpfcp process \(writer.pid) is still writing it; wait for that dump to finish, then give its final directory"
        }
        return "bpfcp process \(writer.pid) stopped before finishing it; take the checkpoint again, "
            + "which removes it, or remove it with rm -r \(Escape.text(path))"
    }

    /// Returns what to do about the missing image directory `dir`: wait for
    /// a dump still writing it, remove the leftover of an interrupted one,
    /// or check the path.
    static func adviceForMissing(_ dir: String) -> String {
        let target = (dir as NSString).standardizingPath
        let parent = CheckpointImage.parentDirectory(of: target)
        let prefix = "." + (target as NSString).lastPathComponent + ".partial-"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []).filter { $0.hasPrefix(prefix) }.sorted()
        let leftovers = names.compactMap { name in writer(of: name).map { (path: parent + "/" + name, writer: $0) } }

        if let running = leftovers.first(where: { writerRuns(pid: $0.writer.pid, start: $0.writer.start) }) {
            return "bpfcp process \(running.writer.pid) is writing it now (in \(Escape.text(running.path))); wait for that dump to finish"
        }
        guard let leftover = leftovers.first else {
            return "check the path, or write an image there with `bpfcp dump PID -D \(Escape.text(dir))`"
        }
        return "an earlier write of it was interrupted and left \(Escape.text(leftover.path)), which can be removed "
            + "(rm -r \(Escape.text(leftover.path))); take the checkpoint again"
    }

    /// Returns the start time of `pid` in clock ticks after boot, or nil when it does not exist.
    static func startTime(_ pid: Int32) -> UInt64? {
        guard let bytes = try? ProcFS.readBytes("/proc/\(pid)/stat"), let line = try? StatLine(bytes) else { return nil }
        return line.number(22)
    }
}
