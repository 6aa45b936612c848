import Foundation

/// One watch to add to a restored epoll instance with EPOLL_CTL_ADD.
struct EpollWatchPlan: Equatable {
    var targetFd: Int32
    /// EPOLL* bits, EPOLLERR and EPOLLHUP included as the kernel reports them.
    var events: UInt32
    var data: UInt64
    /// The event names, for the trace.
    var names: [String]
}

/// Plans an epoll fd and its watches. A watch is kept only when the fd it
/// was added through still refers to the same file, because EPOLL_CTL_ADD can
/// only name a file by an fd of the process.
enum EpollPlan {
    static func plan(_ file: OpenFile, watches: [EpollWatch], files: [OpenFile], pid: Int32) throws -> FilePlan {
        let plans = try watches.compactMap { watch -> EpollWatchPlan? in
            guard let target = watch.targetFd else { return nil }
            guard let held = files.first(where: { $0.fd == target }), watch.targetInode == nil || held.inode == watch.targetInode else {
                throw ImagePlan.reject(pid, "epoll fd \(file.fd) watches a file (inode \(watch.targetInode ?? 0)) through fd \(target), which is now closed or refers to another file; restore can add a watch only through an fd of its file")
            }
            return EpollWatchPlan(targetFd: target, events: try events(watch.events, epollFd: file.fd, pid: pid), data: watch.data ?? 0,
                                  names: watch.events)
        }
        return FilePlan(fd: file.fd, flags: 0, closeOnExec: file.closeOnExec, source: .epoll(watches: plans))
    }

    static func events(_ names: [String], epollFd: Int32, pid: Int32) throws -> UInt32 {
        var bits: UInt32 = 0
        for name in names {
            if let bit = (0..<32).map({ UInt32(1) << UInt32($0) }).first(where: { EpollWatch.names(events: $0) == [name] }) {
                bits |= bit
            } else if name.hasPrefix("0x"), let value = UInt32(name.dropFirst(2), radix: 16) {
                bits |= value
            } else {
                throw ImagePlan.reject(pid, "epoll fd \(epollFd) has a watch with the unknown event \(name)")
            }
        }
        return bits
    }
}

extension FileRestore {
    /// Adds the watches of every epoll fd of the plan, and the watches this
    /// process adds to shared epoll instances. It runs after every fd
    /// exists, because a watch names its target by fd.
    func addEpollWatches() throws {
        var all = plan.sharedEpollWatches.sorted { $0.key < $1.key }
        for file in plan.files {
            guard case .epoll(let watches) = file.source else { continue }
            all.append((file.fd, watches))
        }

        for (epollFd, watches) in all {
            for watch in watches {
                var event = [UInt8](repeating: 0, count: 12)
                withUnsafeBytes(of: watch.events.littleEndian) { event.replaceSubrange(0..<4, with: $0) }
                withUnsafeBytes(of: watch.data.littleEndian) { event.replaceSubrange(4..<12, with: $0) }
                let addOperation = 1
                try injector.queue(SyscallNumber.epollCtl, [.int(Int(epollFd)), .int(addOperation), .int(Int(watch.targetFd)), .payload(0)],
                                   payloads: [event],
                                   text: "epoll_ctl(\(epollFd), EPOLL_CTL_ADD, \(watch.targetFd), {\(watch.names.joined(separator: "|")), data=\(Format.hex(watch.data))})",
                                   expected: 0)
            }
        }
    }
}
