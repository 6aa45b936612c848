import CBpfcpShim
import Foundation

extension SharedPlanning {
    /// Plans the FIFO descriptions that fds in several processes share
    /// (opened before fork()). Restore opens each once, and writes the
    /// FIFO's saved bytes itself when the process whose image contains
    /// them has no fd of its own on the FIFO to write them through.
    struct FifoDescriptions {
        /// FIFO fds by pid and fd.
        var ends: [Int32: [Int32: PipeEnd]] = [:]
        /// Identities whose bytes restore writes.
        var refilledByRestore: Set<String> = []

        init(_ images: [ProcessImage], groups: [[(pid: Int32, file: OpenFile)]]) throws {
            for image in images {
                let fifos = try image.items("pipes", as: PipeEnd.self).filter { $0.identity.hasPrefix("fifo:") }
                ends[image.pid] = Dictionary(fifos.map { ($0.fd, $0) }, uniquingKeysWith: { a, _ in a })
            }
            var shared: Set<String> = []
            for list in groups where Set(list.map(\.pid)).count > 1 {
                for (pid, file) in list where ends[pid]?[file.fd] != nil { shared.insert("\(pid):\(file.fd)") }
            }
            for image in images {
                for queue in image.queues where queue.identity.hasPrefix("fifo:") {
                    let own = (ends[image.pid] ?? [:]).values.filter { $0.identity == queue.identity }
                    if own.allSatisfy({ shared.contains("\(image.pid):\($0.fd)") }) { refilledByRestore.insert(queue.identity) }
                }
            }
        }

        /// Returns the description to open for `file` when it is a FIFO, nil
        /// otherwise. The first description of a FIFO that restore refills gets its saved bytes.
        mutating func target(_ file: OpenFile, pid: Int32, images: [ProcessImage]) -> SharedDescriptionPlan.Target? {
            guard let end = ends[pid]?[file.fd] else { return nil }
            let path = String(decoding: Escape.unescape(end.path), as: UTF8.self)
            var queue: QueuedData?
            if refilledByRestore.remove(end.identity) != nil {
                queue = images.lazy.compactMap { $0.queues.first { $0.identity == end.identity } }.first
            }
            return .fifo(FifoPlan(path: path, identity: end.identity, capacity: end.capacity, refills: queue != nil), queue: queue)
        }
    }
}

extension RestorerFiles {
    /// Opens one description of a FIFO with its flags. A helper fd opened
    /// O_RDWR|O_NONBLOCK first keeps the pipe in existence, so no open
    /// waits for a partner; it sets the capacity and queues the saved
    /// bytes, and `closeAll` closes it.
    func openFifo(_ fifo: FifoPlan, queue: QueuedData?, flags: Int32, key: String) throws -> Int32 {
        let helperKey = "helper of \(fifo.identity)"
        if fds[helperKey] == nil {
            let helper = Glibc.open(fifo.path, O_RDWR | O_NONBLOCK | O_CLOEXEC)
            guard helper >= 0 else { throw BpfcpError.system("opening the FIFO \(Escape.text(fifo.path))", errno) }
            fds[helperKey] = helper
            if fifo.capacity != 65536, bpfcp_fcntl_int(helper, Int32(FileRestore.fSetPipeSize), Int32(fifo.capacity)) < 0 {
                throw BpfcpError.system("F_SETPIPE_SZ of \(fifo.identity) to \(fifo.capacity)", errno)
            }
        }
        if let queue, let helper = fds[helperKey] { try writeQueue(queue, to: helper) }

        let fd = Glibc.open(fifo.path, flags | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw BpfcpError.system("opening the FIFO \(Escape.text(fifo.path)) for \(key)", errno) }
        if flags & O_NONBLOCK == 0, bpfcp_fcntl_int(fd, F_SETFL, flags & ~(O_ACCMODE | O_NONBLOCK)) != 0 {
            close(fd)
            throw BpfcpError.system("clearing O_NONBLOCK of \(key)", errno)
        }
        return fd
    }
}
