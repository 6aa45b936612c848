import CBpfcpShim
import Foundation

/// Saving the contents of files that exist only in memory and would be
/// lost without the process: memfds and deleted files on tmpfs or hugetlbfs.
extension MemoryCapture {
    /// Saves every such file among `links`, the fds of the held process `pid` (`ProcFS.fdLinks`).
    func captureFiles(pid: Int32, links: [(fd: Int32, link: [UInt8])]) throws -> [SavedFile] {
        let fdDir = "/proc/\(pid)/fd"
        var saved: [SavedFile] = []
        for (fd, link) in links {
            try checkInterrupted()
            guard MemoryCapture.inMemoryOnly(link, path: "\(fdDir)/\(fd)") else { continue }
            if let file = try saveFile(path: "\(fdDir)/\(fd)", fd: fd, link: link) { saved.append(file) }
        }
        return saved
    }

    /// Whether the fd's file lives only in memory: a memfd, or a deleted file on tmpfs or hugetlbfs.
    private static func inMemoryOnly(_ link: [UInt8], path: String) -> Bool {
        if link.starts(with: "/memfd:".utf8) { return true }
        guard link.starts(with: "/".utf8), link.reversed().starts(with: " (deleted)".utf8.reversed()) else { return false }
        let type = UInt(bpfcp_statfs_type(path))
        return type == 0x0102_1994 || type == 0x9584_58F6
    }

    private func saveFile(path: String, fd: Int32, link: [UInt8]) throws -> SavedFile? {
        let file = open(path, O_RDONLY | O_CLOEXEC)
        guard file >= 0 else {
            throw BpfcpError.system("opening \(path) to save its contents", errno)
        }
        defer { close(file) }
        var info = stat()
        guard fstat(file, &info) == 0 else { throw BpfcpError.system("stat of \(path)", errno) }
        guard info.st_mode & S_IFMT == S_IFREG else { return nil }

        let key = "\(info.st_dev):\(info.st_ino)"
        let runs = try savedFiles[key] ?? copyExtents(file, size: UInt64(info.st_size), path: path)
        savedFiles[key] = runs
        return SavedFile(fd: fd, path: Escape.bytes(link), device: UInt64(info.st_dev), inode: UInt64(info.st_ino),
                         size: UInt64(info.st_size), runs: runs)
    }

    /// Copies the data extents (SEEK_DATA/SEEK_HOLE) of `file`, each padded to whole pages in the store.
    private func copyExtents(_ file: Int32, size: UInt64, path: String) throws -> [FileRun] {
        // SEEK_DATA and SEEK_HOLE (Linux 3.1) are not imported into Swift.
        let seekData: Int32 = 3
        let seekHole: Int32 = 4
        var runs: [FileRun] = []
        var position: off_t = 0
        while UInt64(position) < size {
            let data = lseek(file, position, seekData)
            guard data >= 0 else { break }
            let hole = min(lseek(file, data, seekHole), off_t(size))
            guard hole > data else { break }
            runs.append(try copyExtent(file, from: UInt64(data), length: UInt64(hole - data), path: path))
            position = hole
        }
        return runs
    }

    private func copyExtent(_ file: Int32, from start: UInt64, length: UInt64, path: String) throws -> FileRun {
        let run = FileRun(fileOffset: start, length: length, offset: sink.offset)
        let padded = (length + pageSize - 1) / pageSize * pageSize
        var done: UInt64 = 0
        while done < padded {
            let chunk = Int(min(UInt64(sink.chunkSize), padded - done))
            let buffer = try sink.reserve(chunk)
            memset(buffer, 0, chunk)
            let want = Int(min(UInt64(chunk), length - min(length, done)))
            var got = 0
            while got < want {
                let n = pread(file, buffer + got, want - got, off_t(start + done) + off_t(got))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw BpfcpError.system("reading \(path)", n < 0 ? errno : EIO) }
                got += n
            }
            try sink.commit(chunk)
            done += UInt64(chunk)
        }
        return run
    }
}
