import Foundation

/// A memfd, deleted file or shared anonymous memory that restore creates
/// once in its own process, because it is mapped or because several
/// restored processes hold it. The restored processes copy it with
/// pidfd_getfd to map it and to place their fds on it, so that they share
/// one object again.
struct SharedObjectPlan {
    enum Kind: Equatable {
        /// memfd_create(name, flags), then F_ADD_SEALS with `seals` when not 0.
        case memfd(name: [UInt8], flags: UInt32, seals: UInt32)
        /// A file created at `path` and unlinked once its open file descriptions exist.
        case deleted(path: String)
        /// MAP_SHARED|MAP_ANONYMOUS memory, which the kernel backs with "/dev/zero (deleted)".
        case anonymous
    }

    /// "major:minor:inode" of the original object.
    var identity: String
    var kind: Kind
    var size: UInt64
    /// Mode bits set with fchmod.
    var mode: UInt32
    /// Content: `length` bytes at `fileOffset`, found at byte `offset` of `pagesFile`.
    var runs: [(fileOffset: UInt64, length: UInt64, offset: UInt64)]
    var pagesFile: String

    var key: String { "shared object \(identity)" }

    /// The same content as a `SavedFilePlan`, for the code that writes it.
    var saved: SavedFilePlan {
        SavedFilePlan(identity: identity, kind: .deleted(path: ""), size: size, mode: mode, position: 0, runs: runs, pagesFile: pagesFile)
    }
}

/// One open file description that restore opens in its own process, for
/// every restored fd that shares it to copy.
struct SharedDescriptionPlan {
    enum Target: Equatable {
        /// The file at this path, opened again.
        case path(String)
        /// A shared object: its own fd when `own` (the description
        /// memfd_create returned), or a new description opened through /proc/self/fd.
        case object(identity: String, own: Bool)
        /// A new eventfd: eventfd2(count, flags), where `flags` holds EFD_SEMAPHORE and EFD_NONBLOCK.
        case eventfd(count: UInt64, flags: Int32)
        /// A new signalfd: signalfd4 with `mask` (bit n-1 for signal n) and `flags` (O_NONBLOCK).
        case signalfd(mask: UInt64, flags: Int32)
        /// A new timerfd, armed and given its unread expirations.
        case timerfd(TimerfdPlan)
        /// A new epoll instance, epoll_create1(0). The processes add its
        /// watches once they have their fds (`SharedMember.epollWatches`).
        case epoll
        /// A new TCP or unix listener: socket, its options, bind and listen.
        case listener(ListenerPlan)
        /// A FIFO opened again by its path. `queue` contains the saved bytes
        /// when restore writes them, on the first description of the FIFO.
        case fifo(FifoPlan, queue: QueuedData?)
    }

    var key: String
    var target: Target
    /// open(2) flags without O_CLOEXEC and the creation flags.
    var flags: Int32
    var position: Int64
}

/// The objects and open file descriptions restored processes share, and
/// which fds and areas of each process use them.
struct SharedPlan {
    var objects: [SharedObjectPlan] = []
    var descriptions: [SharedDescriptionPlan] = []
    /// Named unix listeners with the connections they accepted.
    var listeners: [UnixListenerGroup] = []
    /// Inodes of the sockets `listeners` creates.
    var sockets: Set<UInt64> = []
    var members: [Int32: SharedMember] = [:]

    func member(_ pid: Int32) -> SharedMember { members[pid] ?? SharedMember() }
}

/// What one process takes from the `SharedPlan`.
struct SharedMember {
    /// fd to the key of the description it copies, or to `.duplicate`.
    var fds: [Int32: FilePlan.Source] = [:]
    /// Start of an area to the key of the object it maps.
    var areas: [UInt64: String] = [:]
    /// Epoll fd to the watches this process adds to a shared epoll instance.
    var epollWatches: [Int32: [EpollWatchPlan]] = [:]
    /// Fields that differ after restore because the object is new: (kind, key, field).
    var newInodes: [(kind: String, key: String, field: String)] = []
}

/// Finds what the processes of an image share: memfds and deleted files
/// that are mapped or open in several processes, shared anonymous memory
/// mapped more than once, and open file descriptions held by several fds.
enum SharedPlanning {
    static func build(_ images: [ProcessImage], checkpoint: Checkpoint) throws -> SharedPlan {
        let live = images.filter { !$0.process.isZombie }
        var plan = SharedPlan()
        let files = try Dictionary(live.map { ($0.pid, try $0.items("files", as: OpenFile.self)) }, uniquingKeysWith: { a, _ in a })
        let mapped = mappedObjects(live)
        var holders: [String: [(image: ProcessImage, file: OpenFile)]] = [:]
        for image in live {
            for file in files[image.pid] ?? [] where isSavedFile(file) {
                holders["\(file.device):\(file.inode)", default: []].append((image, file))
            }
        }

        for (identity, uses) in mapped.sorted(by: { $0.key < $1.key }) {
            let anonymous = uses[0].area.area.backing == .shmem
            if anonymous && uses.count < 2 { continue }
            let object = anonymous ? anonymousObject(identity, uses, checkpoint: checkpoint)
                : try fileObject(identity, uses, holder: holders[identity]?.first, checkpoint: checkpoint)
            plan.objects.append(object)
            for use in uses { plan.members[use.pid, default: SharedMember()].areas[use.area.area.start] = object.key }
        }
        for (identity, list) in holders.sorted(by: { $0.key < $1.key }) where mapped[identity] == nil && Set(list.map(\.image.pid)).count > 1 {
            plan.objects.append(try fileObject(identity, [], holder: list[0], checkpoint: checkpoint))
        }
        for object in plan.objects { expectNewInodes(object, mapped: mapped[object.identity] ?? [], in: &plan) }
        // The unix listeners with accepted connections come first, because
        // they are not planned again as descriptions.
        try planUnixConnections(live, checkpoint: checkpoint, into: &plan)
        try planDescriptions(live, files: files, into: &plan)
        return plan
    }

    /// A memfd or a deleted file, which restore recreates and unlinks.
    static func isSavedFile(_ file: OpenFile) -> Bool {
        file.type == .regular && (file.deleted || file.path.hasPrefix("/memfd:"))
    }

    /// The areas that map each memfd, deleted file or shared anonymous object, by identity.
    private static func mappedObjects(_ images: [ProcessImage]) -> [String: [(pid: Int32, area: MemoryAreaImage)]] {
        var mapped: [String: [(pid: Int32, area: MemoryAreaImage)]] = [:]
        for image in images {
            for saved in image.memory where saved.contents != .kernel {
                let a = saved.area
                let deleted = a.backing == .file && a.path.hasSuffix(" (deleted)")
                guard a.backing == .memfd || deleted || (a.backing == .shmem && a.shared) else { continue }
                mapped["\(a.device):\(a.inode)", default: []].append((image.pid, saved))
            }
        }
        return mapped
    }

    private static func anonymousObject(_ identity: String, _ uses: [(pid: Int32, area: MemoryAreaImage)],
                                         checkpoint: Checkpoint) -> SharedObjectPlan {
        SharedObjectPlan(identity: identity, kind: .anonymous, size: extent(uses), mode: 0o600,
                         runs: sharedRuns(uses, checkpoint: checkpoint), pagesFile: checkpoint.pages.path)
    }

    /// A memfd or deleted file: its content comes from the fd the
    /// checkpoint saved it through, or else from the pages of its shared mappings.
    private static func fileObject(_ identity: String, _ uses: [(pid: Int32, area: MemoryAreaImage)],
                                   holder: (image: ProcessImage, file: OpenFile)?, checkpoint: Checkpoint) throws -> SharedObjectPlan {
        if let holder {
            let fd = try SavedFilePlanner.plan(holder.file, image: holder.image, pagesFile: checkpoint.pages.path,
                                               headerSize: UInt64(ImageFormat.headerSize))
            guard case .saved(let saved) = fd.source else { preconditionFailure("SavedFilePlanner returns saved files") }
            let kind: SharedObjectPlan.Kind = switch saved.kind {
            case .memfd(let name, let flags, let seals): .memfd(name: name, flags: flags, seals: seals)
            case .deleted(let path): .deleted(path: path)
            }
            return SharedObjectPlan(identity: identity, kind: kind, size: saved.size, mode: saved.mode,
                                    runs: saved.runs, pagesFile: checkpoint.pages.path)
        }
        let first = uses[0]
        let path = String(decoding: Escape.unescape(first.area.area.path), as: UTF8.self)
        let subject = "its memory area \(Format.hex(first.area.area.start)) maps \(first.area.area.path)"
        guard uses.contains(where: { $0.area.contents == .sharedPages }) else {
            throw ImagePlan.reject(first.pid, "\(subject), whose content the image does not hold: no fd is open on it, and only a shared mapping of memory or tmpfs saves it")
        }
        let runs = sharedRuns(uses, checkpoint: checkpoint)
        var trimmed = path.hasSuffix(" (deleted)") ? String(path.dropLast(" (deleted)".count)) : path
        if first.area.area.backing == .memfd {
            // NOTE: without an fd the image has no mode, seals or size of
            // the memfd, so it gets 0777, no seals and the mapped extent.
            trimmed.removeFirst("/memfd:".count)
            return SharedObjectPlan(identity: identity, kind: .memfd(name: Array(trimmed.utf8), flags: SavedFilePlanner.mfdExec, seals: 0),
                                    size: extent(uses), mode: 0o777, runs: runs, pagesFile: checkpoint.pages.path)
        }
        try checkFreePath(trimmed, pid: first.pid, what: subject)
        return SharedObjectPlan(identity: identity, kind: .deleted(path: trimmed), size: extent(uses), mode: 0o600,
                                runs: runs, pagesFile: checkpoint.pages.path)
    }

    /// Rejects a deleted file whose path another file has now, or whose directory is gone.
    private static func checkFreePath(_ path: String, pid: Int32, what: String) throws {
        var info = stat()
        if lstat(path, &info) == 0 {
            throw ImagePlan.reject(pid, "\(what), a deleted file, and another file has its path now; restore would need that path to recreate it")
        }
        let parent = (path as NSString).deletingLastPathComponent
        guard path.hasPrefix("/"), stat(parent, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw ImagePlan.reject(pid, "\(what), a deleted file whose directory \(Escape.text(parent)) is missing now")
        }
    }

    /// Bytes the object must hold for every area that maps it.
    private static func extent(_ uses: [(pid: Int32, area: MemoryAreaImage)]) -> UInt64 {
        uses.map { $0.area.area.offset + $0.area.area.size }.max() ?? 0
    }

    /// The saved pages of the shared mappings, by offset in the object, each page once.
    private static func sharedRuns(_ uses: [(pid: Int32, area: MemoryAreaImage)],
                                   checkpoint: Checkpoint) -> [(fileOffset: UInt64, length: UInt64, offset: UInt64)] {
        var runs: [UInt64: (fileOffset: UInt64, length: UInt64, offset: UInt64)] = [:]
        for use in uses where use.area.contents == .sharedPages && use.area.area.shared {
            let a = use.area.area
            for run in use.area.runs {
                let at = a.offset + (run.address - a.start)
                runs[at] = (at, run.pages * checkpoint.info.pageSize, UInt64(ImageFormat.headerSize) + run.offset)
            }
        }
        return runs.values.sorted { $0.fileOffset < $1.fileOffset }
    }

    private static func expectNewInodes(_ object: SharedObjectPlan, mapped: [(pid: Int32, area: MemoryAreaImage)], in plan: inout SharedPlan) {
        for use in mapped {
            let a = use.area.area
            plan.members[use.pid, default: SharedMember()].newInodes.append(("memory", "\(Format.hex(a.start)) \(a.path)", "inode"))
        }
    }
}
