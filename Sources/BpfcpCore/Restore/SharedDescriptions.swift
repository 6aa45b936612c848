import Foundation

extension SharedPlanning {
    /// Groups the fds of every process by open file description (the
    /// files kind's `openFileId`). A description held in several processes,
    /// as open() before fork() leaves it, or one on a shared object, is
    /// opened once by restore and copied by every fd. Within one process, a
    /// second fd on a description becomes a dup of the first.
    static func planDescriptions(_ images: [ProcessImage], files: [Int32: [OpenFile]], into plan: inout SharedPlan) throws {
        let objects = Set(plan.objects.map(\.identity))
        var groups: [String: [(pid: Int32, file: OpenFile)]] = [:]
        var order: [String] = []
        // Listeners that `planUnixConnections` created with their accepted connections are left out.
        var listeners: [Int32: [Int32: Socket]] = [:]
        for image in images {
            let sockets = try image.items("sockets", as: Socket.self).filter { $0.listenBacklog != nil && !plan.sockets.contains($0.inode) }
            listeners[image.pid] = Dictionary(sockets.map { ($0.fd, $0) }, uniquingKeysWith: { a, _ in a })
        }
        for image in images {
            for file in files[image.pid] ?? []
            where isSavedFile(file) || isPathFile(file) || isEvent(file) || isEpoll(file) || file.type == .fifo
                || listeners[image.pid]?[file.fd] != nil {
                let group = file.openFileId.map { "id \($0)" } ?? "fd \(image.pid):\(file.fd)"
                if groups[group] == nil { order.append(group) }
                groups[group, default: []].append((image.pid, file))
            }
        }

        var events: [Int32: [Int32: EventFile]] = [:]
        for image in images {
            events[image.pid] = Dictionary(try image.items("events", as: EventFile.self).map { ($0.fd, $0) }, uniquingKeysWith: { a, _ in a })
        }
        var fifos = try FifoDescriptions(images, groups: order.map { groups[$0]! })
        var owned: Set<String> = []
        for group in order {
            let list = groups[group]!
            let first = list[0].file
            let identity = "\(first.device):\(first.inode)"
            let target: SharedDescriptionPlan.Target
            let processes = Set(list.map(\.pid)).count
            if isSavedFile(first) && objects.contains(identity) {
                let own = first.path.hasPrefix("/memfd:") && first.flags.contains("O_RDWR") && !owned.contains(identity)
                if own { owned.insert(identity) }
                target = .object(identity: identity, own: own)
            } else if processes > 1 && isPathFile(first) {
                target = .path(String(decoding: Escape.unescape(first.path), as: UTF8.self))
            } else if processes > 1, let event = events[list[0].pid]?[first.fd], let shared = try eventTarget(first, event, pid: list[0].pid) {
                target = shared
            } else if processes > 1 && isEpoll(first) {
                try planSharedEpoll(list, images: images, files: files, into: &plan)
                target = .epoll
            } else if processes > 1, let fifo = fifos.target(first, pid: list[0].pid, images: images) {
                target = fifo
            } else if processes > 1, let socket = listeners[list[0].pid]?[first.fd],
                      case .listener(let listener) = try SocketPlan.plan(first, socket, all: [], queued: nil, pid: list[0].pid).source {
                target = .listener(listener)
            } else {
                duplicates(list, into: &plan)
                continue
            }

            let key = "open file \(plan.descriptions.count + 1) on \(first.path)"
            let flags = OpenFlags.value(first.flags.filter { $0 != "O_CLOEXEC" }) & ~FileRestore.creationFlags
            plan.descriptions.append(SharedDescriptionPlan(key: key, target: target, flags: flags, position: first.position))
            for (pid, file) in list {
                plan.members[pid, default: SharedMember()].fds[file.fd] = .restorerFile(key: key, fd: -1)
                guard case .object = target else { continue }
                plan.members[pid]!.newInodes.append(("files", "fd \(file.fd)", "inode"))
                if file.path.hasPrefix("/memfd:") { plan.members[pid]!.newInodes.append(("memfd", "fd \(file.fd)", "inode")) }
            }
        }
    }

    /// Turns every fd of a process but its first on the description into a dup of the first.
    private static func duplicates(_ list: [(pid: Int32, file: OpenFile)], into plan: inout SharedPlan) {
        var first: [Int32: Int32] = [:]
        for (pid, file) in list {
            if let fd = first[pid] {
                plan.members[pid, default: SharedMember()].fds[file.fd] = .duplicate(of: fd)
            } else {
                first[pid] = file.fd
            }
        }
    }

    /// Returns whether restore reopens the file by its path. A terminal is
    /// not reopened, because restore attaches it to its own.
    static func isPathFile(_ file: OpenFile) -> Bool {
        let path = String(decoding: Escape.unescape(file.path), as: UTF8.self)
        switch file.type {
        case .regular, .directory, .symlink: return !isSavedFile(file)
        case .charDevice: return !ImagePlan.isTerminal(path)
        default: return false
        }
    }

    /// Returns whether the fd is an eventfd, signalfd or timerfd, whose dups in one process stay dups.
    private static func isEvent(_ file: OpenFile) -> Bool {
        ["eventfd", "signalfd", "timerfd"].contains(file.anonKind ?? "")
    }

    private static func isEpoll(_ file: OpenFile) -> Bool {
        file.anonKind == "eventpoll"
    }

    /// Plans the eventfd, signalfd or timerfd that restore creates once with
    /// the saved state, checked as for a single process. Returns nil for a pidfd.
    private static func eventTarget(_ file: OpenFile, _ event: EventFile, pid: Int32) throws -> SharedDescriptionPlan.Target? {
        guard event.type != "pidfd" else { return nil }
        return switch try ImagePlan.eventPlan(file, event, pid: pid).source {
        case .eventfd(let count, let flags): .eventfd(count: count, flags: flags)
        case .signalfd(let mask, let flags): .signalfd(mask: mask, flags: flags)
        case .timerfd(let timer): .timerfd(timer)
        default: nil
        }
    }
}
