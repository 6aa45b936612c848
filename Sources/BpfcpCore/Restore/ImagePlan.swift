import Foundation

/// Turns one process of a checkpoint into a `RestorePlan`. Everything
/// restore cannot rebuild is rejected here, naming the resource, before any
/// process exists.
enum ImagePlan {
    /// Kinds whose items restore rebuilds or checks. Threads, memory, files,
    /// timers and the signal kinds are rebuilt. Pipes, events, sockets, epoll
    /// and notify describe fds, which `files` rejects. Credentials, limits and
    /// the cwd, root and umask of context are applied by `SettingsRestore`,
    /// and the scheduling and personality rows by `SchedulingRestore`.
    static let knownKinds: Set<String> = [
        "threads", "files", "memory", "signals", "sigqueue", "sigthreads", "pipes", "events", "sockets", "epoll", "notify",
        "credentials", "limits", "context", "memfd", "timers",
        // NOTE: restore does not yet re-apply namespaces, so the restored
        // process keeps the restorer's.
        "namespaces",
    ]

    /// `external` gives the fds that a family restore provides itself (shared pipe ends, pidfds).
    /// `shared` gives the fds and areas that use what restore creates once for several fds or processes (`SharedPlan`).
    static func build(_ image: ProcessImage, checkpoint: Checkpoint, external: [Int32: FilePlan.Source] = [:],
                      shared: SharedMember = SharedMember()) throws -> RestorePlan {
        let external = external.merging(shared.fds) { first, _ in first }
        let pid = image.pid
        if image.process.isZombie {
            throw reject(pid, "it is a zombie (exit status \(image.process.exitStatus ?? 0)); restore of zombies is not supported")
        }
        let threads = try ThreadPlanning.plans(image)
        for section in image.sections where !knownKinds.contains(section.kind) && !section.items.isEmpty {
            throw reject(pid, "its image holds \(section.items.count) items of the resource kind '\(Escape.text(section.kind))', which restore does not know")
        }
        try requireEveryKind(image)

        // The memory kind's items carry the VM_* flags that the memory section may lack.
        let flags = Dictionary(try image.items("memory", as: MemoryArea.self).compactMap { a in a.flags.map { (a.start, $0) } },
                               uniquingKeysWith: { first, _ in first })
        let areas = try image.memory.compactMap { saved -> AreaPlan? in
            var copy = saved
            if copy.area.flags == nil { copy.area.flags = flags[saved.area.start] }
            return try area(copy, pid: pid, checkpoint: checkpoint, object: shared.areas[saved.area.start])
        }
        let pages = PageReader()
        let derived = InitialStack.derive(areas: areas, pages: pages)
        var plan = RestorePlan(
            pid: pid, comm: Escape.unescape(image.process.comm), areas: areas, mm: derived?.0, exePath: derived?.exe,
            threads: threads, actions: [], files: try files(image, external: external, checkpoint: checkpoint),
            cwd: nil, umask: nil)
        plan.queued = queues(for: plan.files, checkpoint: checkpoint)
        plan.sharedEpollWatches = shared.epollWatches
        plan.actions = try SignalPlan.actions(image, areas: areas, pages: pages)
        plan.pendingSignals = try PendingSignalPlanner.plan(image)
        plan.stopSignal = image.stopSignal.flatMap(SignalName.number)
        (plan.session, plan.processGroup) = (image.process.sid, image.process.pgid)
        plan.credentials = Credentials(uid: image.process.uid, euid: image.process.euid,
                                       gid: image.process.gid, egid: image.process.egid)
        plan.settings = try SettingsPlanner.plan(image, restorer: try RestorerLimits.current())
        SavedFilePlanner.expectNewInodes(plan.files, in: &plan.settings)
        for (kind, key, field) in shared.newInodes {
            plan.settings.expect(kind: kind, key: key, field: field, reason: "restore recreated the shared object, which has a new inode")
        }
        let restorer = try plan.settings.restorer ?? RestorerLimits.current()
        plan.scheduling = try SchedulingPlanner.plan(image, restorer: restorer, onlineCPUs: try SchedulingPlanner.onlineCPUs(),
                                                     settings: &plan.settings)
        plan.timers = try TimerPlanner.plan(image, restorer: restorer)
        plan.cwd = try SettingsPlanner.cwd(image)
        plan.umask = try SettingsPlanner.umask(image)
        return plan
    }

    /// Rejects an image taken with `dump --only`. A kind it lacks would come
    /// back empty (no files, no handlers), and verify would not notice,
    /// because it compares only the kinds the image contains.
    private static func requireEveryKind(_ image: ProcessImage) throws {
        let saved = Set(image.sections.map(\.kind))
        let missing = KindRegistry.all.map(\.name).filter { !saved.contains($0) }
        guard !missing.isEmpty else { return }
        throw reject(image.pid, "its image lacks the resource kinds \(missing.joined(separator: ", ")), as a checkpoint taken with --only does; checkpoint it again without --only")
    }

    static func reject(_ pid: Int32, _ why: String) -> BpfcpError {
        BpfcpError("restore_unsupported", "cannot restore process \(pid): \(why); nothing was created")
    }

    // MARK: memory

    private static func area(_ saved: MemoryAreaImage, pid: Int32, checkpoint: Checkpoint, object: String?) throws -> AreaPlan? {
        let a = saved.area
        let prot = (a.permissions.contains("r") ? MemoryRestore.protRead : 0)
            | (a.permissions.contains("w") ? MemoryRestore.protWrite : 0) | (a.permissions.contains("x") ? MemoryRestore.protExec : 0)
        let runs = saved.runs.map { run in
            PageRunPlan(address: run.address, count: Int(run.pages * checkpoint.info.pageSize), file: checkpoint.pages.path,
                        offset: UInt64(ImageFormat.headerSize) + run.offset)
        }
        var plan = AreaPlan(start: a.start, end: a.end, prot: prot, shared: a.shared, growsDown: a.backing == .stack,
                            backing: .anonymous, name: a.path, runs: runs, accounted: a.flags.map { $0.contains("VM_ACCOUNT") })
        plan.advice = MemoryAdvice.values(a.flags)
        plan.noReserve = a.flags.map { $0.contains("VM_NORESERVE") }
        let path = String(decoding: Escape.unescape(a.path), as: UTF8.self)
        if let object {
            // The object contains the shared pages, so only a private mapping writes its own (copied) pages.
            plan.backing = .shared(key: object, offset: a.offset, fd: -1)
            if a.shared { plan.runs = [] }
            return plan
        }

        switch (saved.contents, a.backing) {
        case (.kernel, _):
            if a.path == "[vsyscall]" { return nil }
            plan.backing = .kernel(a.path)
        case (_, .anonymous), (_, .heap), (_, .stack), (_, .shmem):
            plan.backing = .anonymous
        case (_, .special) where a.path.hasPrefix("[anon"):
            plan.backing = .anonymous
        case (_, .file):
            try checkMappedFile(path, area: a, pid: pid, takenAt: checkpoint.info.takenAt)
            plan.backing = .file(path: path, offset: a.offset)
        default:
            throw reject(pid, "its memory area \(Format.hex(a.start))-\(Format.hex(a.end)) is \(a.backing.rawValue) memory (\(a.path)), which restore cannot map yet")
        }
        return plan
    }

    /// A file mapping is rebuilt from the file, so it must be the same file,
    /// unchanged since the checkpoint: same device and inode, not modified after.
    private static func checkMappedFile(_ path: String, area: MemoryArea, pid: Int32, takenAt: Double) throws {
        if path.hasSuffix(" (deleted)") {
            throw reject(pid, "it maps the deleted file \(Escape.text(path)) at \(Format.hex(area.start))")
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw reject(pid, "the file \(Escape.text(path)) it maps at \(Format.hex(area.start)) is missing: \(String(cString: strerror(errno)))")
        }
        let device = "\(PipesProc.major(info.st_dev)):\(PipesProc.minor(info.st_dev))"
        guard UInt64(info.st_ino) == area.inode, device == area.device else {
            throw reject(pid, "the file \(Escape.text(path)) mapped at \(Format.hex(area.start)) changed since the checkpoint (inode \(area.inode) on \(area.device), now \(info.st_ino) on \(device))")
        }
        let mtime = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
        guard mtime <= takenAt else {
            throw reject(pid, "the file \(Escape.text(path)) mapped at \(Format.hex(area.start)) was modified after the checkpoint")
        }
    }

    // MARK: files

    private static func files(_ image: ProcessImage, external: [Int32: FilePlan.Source], checkpoint: Checkpoint) throws -> [FilePlan] {
        let events = Dictionary(try image.items("events", as: EventFile.self).map { ($0.fd, $0) }, uniquingKeysWith: { a, _ in a })
        let pipes = try image.items("pipes", as: PipeEnd.self)
        let sockets = try image.items("sockets", as: Socket.self)
        let watches = try image.items("epoll", as: EpollWatch.self)
        let files = try image.items("files", as: OpenFile.self)
        return try files.map { file in
            if let source = external[file.fd] {
                return FilePlan(fd: file.fd, flags: 0, closeOnExec: file.closeOnExec, source: source)
            }
            if let event = events[file.fd] { return try eventPlan(file, event, pid: image.pid) }
            if file.type == .regular && (file.deleted || file.path.hasPrefix("/memfd:")) {
                return try SavedFilePlanner.plan(file, image: image, pagesFile: checkpoint.pages.path,
                                                 headerSize: UInt64(ImageFormat.headerSize))
            }
            if file.type == .socket, let socket = sockets.first(where: { $0.fd == file.fd }) {
                return try SocketPlan.plan(file, socket, all: sockets, queued: checkpoint.queued("socket:[\(socket.inode)]"), pid: image.pid)
            }
            if file.anonKind == "eventpoll" {
                return try EpollPlan.plan(file, watches: watches.filter { $0.epollFd == file.fd }, files: files, pid: image.pid)
            }
            if file.type == .fifo, let end = pipes.first(where: { $0.fd == file.fd }) {
                let refills = image.queues.contains { $0.identity == end.identity }
                return try FifoPlanner.plan(file, end, queued: checkpoint.queued(end.identity), refills: refills, pid: image.pid)
            }
            if file.type == .pipe, let end = pipes.first(where: { $0.fd == file.fd }) {
                return try pipePlan(file, end, all: pipes, queued: checkpoint.queued(end.identity), pid: image.pid)
            }
            return try filePlan(file, pid: image.pid)
        }
    }

    private static func filePlan(_ file: OpenFile, pid: Int32) throws -> FilePlan {
        let path = String(decoding: Escape.unescape(file.path), as: UTF8.self)
        let flags = OpenFlags.value(file.flags.filter { $0 != "O_CLOEXEC" })
        switch file.type {
        case .regular, .directory, .symlink:
            if file.deleted {
                throw reject(pid, "fd \(file.fd) is the deleted file \(file.path); restore of deleted files is not supported yet")
            }
            if file.type != .symlink { try checkStillThere(file, path: path, pid: pid) }
            return FilePlan(fd: file.fd, flags: flags, closeOnExec: file.closeOnExec, source: .path(path, position: file.position))
        case .charDevice:
            if isTerminal(path) {
                return FilePlan(fd: file.fd, flags: flags, closeOnExec: file.closeOnExec,
                                source: .terminal(restorerFd: file.fd <= 2 ? file.fd : 0))
            }
            return FilePlan(fd: file.fd, flags: flags, closeOnExec: file.closeOnExec, source: .path(path, position: file.position))
        case .anonInode where file.anonKind == "io_uring" || file.path.contains("io_uring"):
            throw reject(pid, "fd \(file.fd) is an io_uring instance; restore of io_uring is not supported")
        default:
            let what = file.anonKind.map { "\($0) (anonymous inode)" } ?? file.type.rawValue
            throw reject(pid, "fd \(file.fd) is a \(what), \(file.path); restore of this file type is not supported yet")
        }
    }

    /// Rejects an fd whose file was removed, or replaced by another kind of
    /// file, between the checkpoint and now, because reopening it by path would fail midway.
    private static func checkStillThere(_ file: OpenFile, path: String, pid: Int32) throws {
        let what = "fd \(file.fd) is the \(file.type == .directory ? "directory" : "file") \(file.path)"
        let fix = "put it back, or take the checkpoint again"
        var info = stat()
        guard stat(path, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            throw reject(pid, "\(what), which is missing now (\(reason)): it was removed or renamed after the checkpoint; \(fix)")
        }
        let expected: mode_t = file.type == .directory ? S_IFDIR : S_IFREG
        let now = info.st_mode & S_IFMT
        guard now == expected else {
            let kinds = fileKindNames
            throw reject(pid, "\(what), which was a \(kinds[expected]!) at the checkpoint and is a \(kinds[now] ?? "file of another type") now; \(fix)")
        }
    }

    private static let fileKindNames: [mode_t: String] = [
        S_IFREG: "regular file", S_IFDIR: "directory", S_IFCHR: "character device", S_IFBLK: "block device",
        S_IFIFO: "FIFO", S_IFSOCK: "socket", S_IFLNK: "symlink",
    ]

    static func eventPlan(_ file: OpenFile, _ event: EventFile, pid: Int32) throws -> FilePlan {
        let nonblock = event.flags.contains { $0.hasSuffix("_NONBLOCK") } ? O_NONBLOCK : 0
        let source: FilePlan.Source
        switch event.type {
        case "eventfd":
            let semaphore: Int32 = event.flags.contains("EFD_SEMAPHORE") ? 1 : 0
            source = .eventfd(count: event.count ?? 0, flags: semaphore | nonblock)
        case "signalfd":
            let mask = (event.signals ?? []).compactMap(SignalName.number).reduce(UInt64(0)) { $0 | (UInt64(1) << UInt64($1 - 1)) }
            source = .signalfd(mask: mask, flags: nonblock)
        case "timerfd":
            guard let clock = event.clock.flatMap(clockNumber) else {
                throw reject(pid, "fd \(file.fd) is a timerfd on \(event.clock ?? "an unknown clock"), which restore cannot create")
            }
            guard let armed = event.armed else {
                throw reject(pid, "fd \(file.fd) is a timerfd whose armed state the image does not record (read from /proc); checkpoint it with eBPF")
            }
            var value: Int64 = 0
            if armed { value = max(event.nextExpiryNs ?? 0, 1) }
            let settimeBits: [String: Int32] = ["TFD_TIMER_ABSTIME": 1, "TFD_TIMER_CANCEL_ON_SET": 2]
            let settime = (event.settimeFlags ?? []).reduce(Int32(0)) { $0 | (settimeBits[$1] ?? 0) }
            source = .timerfd(TimerfdPlan(clock: clock, flags: nonblock, valueNs: value, intervalNs: armed ? event.intervalNs ?? 0 : 0,
                                          ticks: event.ticks ?? 0, settimeFlags: settime))
        default:
            throw reject(pid, "fd \(file.fd) is a \(event.type); restore of this file type is not supported yet")
        }
        return FilePlan(fd: file.fd, flags: nonblock, closeOnExec: file.closeOnExec, source: source)
    }

    /// Plans a pipe with both ends in the process, created again with its
    /// queued bytes. An end whose partner is in another process cannot be
    /// rebuilt by a single-process restore.
    private static func pipePlan(_ file: OpenFile, _ end: PipeEnd, all: [PipeEnd], queued: QueuedData?, pid: Int32) throws -> FilePlan {
        guard end.type == "pipe", end.end != "read-write" else {
            throw reject(pid, "fd \(file.fd) is the FIFO \(end.path); restore of FIFOs is not supported yet")
        }
        guard end.queued == UInt64(queued?.byteCount ?? 0) else {
            throw reject(pid, "fd \(file.fd) is \(end.identity) with \(end.queued) queued bytes, but the image contains \(queued?.byteCount ?? 0) of them; take the checkpoint again with this bpfcp")
        }
        let partner = end.end == "read" ? "write" : "read"
        guard all.contains(where: { $0.identity == end.identity && $0.end == partner }) else {
            throw reject(pid, "fd \(file.fd) is the \(end.end) end of \(end.identity), whose \(partner) end is in another process")
        }
        let flags = OpenFlags.value(file.flags.filter { $0 != "O_CLOEXEC" })
        return FilePlan(fd: file.fd, flags: flags, closeOnExec: file.closeOnExec,
                        source: .pipe(identity: end.identity, readEnd: end.end == "read", capacity: end.capacity))
    }

    /// Collects the saved queues of the pipes and sockets that `files` creates.
    private static func queues(for files: [FilePlan], checkpoint: Checkpoint) -> [String: QueuedData] {
        var queues: [String: QueuedData] = [:]
        for file in files {
            let identity: String
            switch file.source {
            case .pipe(let pipe, _, _): identity = pipe
            case .socketPair(let end): identity = end.identity
            case .fifo(let fifo): identity = fifo.identity
            default: continue
            }
            if let queue = checkpoint.queued(identity) { queues[identity] = queue }
        }
        return queues
    }

    private static func clockNumber(_ name: String) -> Int32? {
        ["CLOCK_REALTIME": 0, "CLOCK_MONOTONIC": 1, "CLOCK_BOOTTIME": 7, "CLOCK_REALTIME_ALARM": 8, "CLOCK_BOOTTIME_ALARM": 9][name]
    }

    static func isTerminal(_ path: String) -> Bool {
        path.hasPrefix("/dev/pts/") || path.hasPrefix("/dev/tty") || path == "/dev/console" || path == "/dev/ptmx"
    }
}

extension ProcessImage {
    /// Decodes the typed items of the section `kind`, or returns none when the image has no such section.
    func items<T: Decodable>(_ kind: String, as type: T.Type) throws -> [T] {
        guard let section = sections.first(where: { $0.kind == kind }), section.unavailable == nil else { return [] }
        return try section.items.map { try $0.decode(as: T.self) }
    }

    /// Builds the items of the section `kind` like `items(_:as:)`, and
    /// decodes only the items that the builder of `T` rejects.
    func items<T: TreeBuildable>(_ kind: String, as type: T.Type) throws -> [T] {
        guard let section = sections.first(where: { $0.kind == kind }), section.unavailable == nil else { return [] }
        return try section.items.map { try T(tree: $0) ?? $0.decode(as: T.self) }
    }
}

extension OpenFlags {
    /// Each bit that `names(_:)` names on its own, with that name.
    private static let namedBits: [(bit: UInt32, name: String)] = (0..<32).compactMap { index in
        let bit = UInt32(1) << UInt32(index)
        guard let name = OpenFlags.names(bit).last, name.hasPrefix("O_") || name.hasPrefix("__O_") else { return nil }
        return (bit, name)
    }

    /// Reverses `names(_:)`: the bits of flag names such as "O_RDWR" or "O_APPEND".
    static func value(_ names: [String]) -> Int32 {
        var flags: UInt32 = 0
        for (bit, name) in namedBits where names.contains(name) {
            flags |= bit
        }
        flags &= ~3
        if names.contains("O_WRONLY") { flags |= 1 }
        if names.contains("O_RDWR") { flags |= 2 }
        return Int32(bitPattern: flags)
    }
}
