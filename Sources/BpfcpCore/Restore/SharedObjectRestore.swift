import CBpfcpShim
import Foundation

/// Creates the objects and open file descriptions of a `SharedPlan` in
/// restore's own process, before any restored process exists. The
/// restored processes copy them with pidfd_getfd (`copyRestorerFile`, and
/// `MemoryRestore` for mappings).
extension RestorerFiles {
    static let mfdCloexec: UInt32 = 0x1

    func createShared(_ plan: SharedPlan, log: ((String) -> Void)?) throws {
        var created: [String] = []
        defer { for path in created { unlink(path) } }
        for object in plan.objects {
            fds[object.key] = try createObject(object, created: &created)
            log?("created \(object.key) with \(object.size) bytes (\(Self.describe(object.kind))) for the restored processes to share")
        }
        for description in plan.descriptions {
            fds[description.key] = try open(description)
        }
        try createUnixListeners(plan.listeners, log: log)
    }

    /// Returns `areas` with restore's fd filled into each `.shared` backing.
    func resolve(areas: [AreaPlan]) -> [AreaPlan] {
        areas.map { area in
            guard case .shared(let key, let offset, _) = area.backing else { return area }
            var copy = area
            copy.backing = .shared(key: key, offset: offset, fd: fds[key] ?? -1)
            return copy
        }
    }

    private static func describe(_ kind: SharedObjectPlan.Kind) -> String {
        switch kind {
        case .memfd(let name, _, _): "memfd \"\(Escape.bytes(name))\""
        case .deleted(let path): "deleted file \(Escape.text(path))"
        case .anonymous: "shared anonymous memory"
        }
    }

    /// Creates the object with its content, mode and seals. A deleted file
    /// is created at its path, and `createShared` unlinks it at its end.
    private func createObject(_ object: SharedObjectPlan, created: inout [String]) throws -> Int32 {
        let fd: Int32
        switch object.kind {
        case .memfd(let name, let flags, _):
            fd = (name + [0]).withUnsafeBufferPointer { buffer in
                Int32(truncatingIfNeeded: bpfcp_syscall6(SyscallNumber.memfdCreate, Int(bitPattern: buffer.baseAddress),
                                                         Int(flags | Self.mfdCloexec), 0, 0, 0, 0))
            }
            guard fd >= 0 else { throw BpfcpError.system("memfd_create of \(object.key)", errno) }
        case .deleted(let path):
            fd = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw BpfcpError.system("creating \(Escape.text(path)) to restore the deleted file", errno) }
            created.append(path)
        case .anonymous:
            fd = try Self.anonymousObject(size: object.size)
        }
        do {
            try FileRestore.writeContent(object.saved, to: "/proc/self/fd/\(fd)")
            if object.kind != .anonymous, fchmod(fd, mode_t(object.mode)) != 0 {
                throw BpfcpError.system("fchmod of \(object.key) to \(Format.octal(object.mode))", errno)
            }
            if case .memfd(_, _, let seals) = object.kind, seals != 0,
               bpfcp_fcntl_int(fd, Int32(FileRestore.fAddSeals), Int32(bitPattern: seals)) != 0 {
                throw BpfcpError.system("F_ADD_SEALS on \(object.key)", errno)
            }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Maps shared anonymous memory in restore itself and opens its object
    /// through /proc/self/map_files, which gives the same "/dev/zero"
    /// shmem file that MAP_SHARED|MAP_ANONYMOUS creates, then unmaps it.
    private static func anonymousObject(size: UInt64) throws -> Int32 {
        guard let area = mmap(nil, Int(size), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0), area != MAP_FAILED else {
            throw BpfcpError.system("mapping \(size) bytes of shared anonymous memory", errno)
        }
        defer { munmap(area, Int(size)) }
        let start = UInt64(UInt(bitPattern: area))
        let link = "/proc/self/map_files/\(String(start, radix: 16))-\(String(start + size, radix: 16))"
        let fd = Glibc.open(link, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw BpfcpError.system("opening \(link)", errno) }
        return fd
    }

    /// Opens one description: the path again, the object's own fd, or the
    /// object through /proc/self/fd, then sets its status flags and position.
    private func open(_ description: SharedDescriptionPlan) throws -> Int32 {
        var fd: Int32
        switch description.target {
        case .path(let path):
            fd = Glibc.open(path, description.flags | O_CLOEXEC)
            guard fd >= 0 else { throw BpfcpError.system("opening \(Escape.text(path)) for \(description.key)", errno) }
        case .object(let identity, let own):
            guard let object = fds["shared object \(identity)"] else {
                throw BpfcpError("restore_failed", "\(description.key) needs the shared object \(identity), which restore did not create")
            }
            if own {
                fd = bpfcp_fcntl_int(object, Int32(FileRestore.fDupFdCloexec), 0)
                let status = description.flags & ~(O_ACCMODE | FileRestore.oLargefile)
                if fd >= 0, status != 0, bpfcp_fcntl_int(fd, F_SETFL, status) != 0 {
                    close(fd)
                    throw BpfcpError.system("setting the status flags of \(description.key)", errno)
                }
            } else {
                fd = Glibc.open("/proc/self/fd/\(object)", description.flags | O_CLOEXEC)
            }
            guard fd >= 0 else { throw BpfcpError.system("opening \(description.key)", errno) }
        case .eventfd(let count, let flags):
            fd = Int32(truncatingIfNeeded: bpfcp_syscall6(SyscallNumber.eventfd2, Int(count), Int(flags | O_CLOEXEC), 0, 0, 0, 0))
            guard fd >= 0 else { throw BpfcpError.system("creating the eventfd of \(description.key)", errno) }
        case .signalfd(let mask, let flags):
            fd = try Self.createSignalfd(mask: mask, flags: flags, key: description.key)
        case .timerfd(let timer):
            fd = try Self.createTimerfd(timer, key: description.key)
        case .epoll:
            fd = Int32(truncatingIfNeeded: bpfcp_syscall6(SyscallNumber.epollCreate1, Int(O_CLOEXEC), 0, 0, 0, 0, 0))
            guard fd >= 0 else { throw BpfcpError.system("epoll_create1 for \(description.key)", errno) }
        case .listener(let listener):
            fd = try Self.createListener(listener, nonblocking: description.flags & O_NONBLOCK != 0)
        case .fifo(let fifo, let queue):
            fd = try openFifo(fifo, queue: queue, flags: description.flags, key: description.key)
        }
        if description.position != 0, lseek(fd, off_t(description.position), SEEK_SET) != off_t(description.position) {
            let error = errno
            close(fd)
            throw BpfcpError.system("seeking \(description.key) to \(description.position)", error)
        }
        return fd
    }
}

extension RestorerFiles {
    /// Creates a signalfd for `mask` (bit n-1 for signal n). The mask
    /// belongs to the open file description, while a read takes the signals
    /// of the reading process, so creating it in restore changes neither.
    static func createSignalfd(mask: UInt64, flags: Int32, key: String) throws -> Int32 {
        let fd = withUnsafeBytes(of: mask.littleEndian) { buffer in
            Int32(truncatingIfNeeded: bpfcp_syscall6(SyscallNumber.signalfd4, -1, Int(bitPattern: buffer.baseAddress),
                                                     8, Int(flags | O_CLOEXEC), 0, 0))
        }
        guard fd >= 0 else { throw BpfcpError.system("signalfd4 for \(key) with [\(SignalName.describe(mask: mask))]", errno) }
        return fd
    }

    /// Creates a timerfd, arms it and sets its unread expirations.
    static func createTimerfd(_ timer: TimerfdPlan, key: String) throws -> Int32 {
        let fd = Int32(truncatingIfNeeded: bpfcp_syscall6(SyscallNumber.timerfdCreate, Int(timer.clock), Int(timer.flags | O_CLOEXEC), 0, 0, 0, 0))
        guard fd >= 0 else { throw BpfcpError.system("timerfd_create(\(timer.clock)) for \(key)", errno) }
        var failure: (String, Int32)?
        let spec = FileRestore.itimerspec(timer)
        let armed = spec.withUnsafeBytes { buffer in
            bpfcp_syscall6(SyscallNumber.timerfdSettime, Int(fd), Int(timer.settimeFlags), Int(bitPattern: buffer.baseAddress), 0, 0, 0)
        }
        if armed != 0 { failure = ("timerfd_settime of \(key) to \(timer.valueNs) ns, interval \(timer.intervalNs) ns", errno) }
        var count = timer.ticks
        if failure == nil, timer.ticks != 0, bpfcp_ioctl(fd, FileRestore.tfdIocSetTicks, &count) != 0 {
            failure = ("TFD_IOC_SET_TICKS of \(key) to \(timer.ticks)", errno)
        }
        if let (what, error) = failure {
            close(fd)
            throw BpfcpError.system(what, error)
        }
        return fd
    }
}

extension RestorerFiles {
    /// Creates a listening socket with its options, bound to its saved
    /// address. A unix socket file left at the path by the saved process is removed first.
    static func createListener(_ listener: ListenerPlan, nonblocking: Bool) throws -> Int32 {
        if let path = listener.path, try FileRestore.isStaleSocketFile(path) { unlink(path) }
        let fd = socket(listener.family, listener.type | Int32(SOCK_CLOEXEC.rawValue) | (nonblocking ? Int32(SOCK_NONBLOCK.rawValue) : 0), 0)
        guard fd >= 0 else { throw BpfcpError.system("creating the listener \(Escape.text(listener.name))", errno) }
        var failure: (String, Int32)?
        for option in listener.options where failure == nil {
            var one: Int32 = 1
            if setsockopt(fd, option.level, option.name, &one, socklen_t(MemoryLayout<Int32>.size)) != 0 {
                failure = ("setting \(option.text) on the listener \(Escape.text(listener.name))", errno)
            }
        }
        let bound = listener.address.withUnsafeBytes { buffer in
            bind(fd, buffer.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(buffer.count))
        }
        if failure == nil, bound != 0 { failure = ("binding the listener to \(Escape.text(listener.name))", errno) }
        if failure == nil, listen(fd, listener.backlog) != 0 { failure = ("listen on \(Escape.text(listener.name))", errno) }
        if let (what, error) = failure {
            close(fd)
            throw BpfcpError.system(what, error)
        }
        return fd
    }
}

extension MemoryRestore {
    /// Copies each shared object that an area maps from restore into the
    /// child: pidfd_open(restore's pid), then one pidfd_getfd per object.
    /// Returns the child's fd by object key; `mapAreas` closes them.
    func copySharedObjects() throws -> [String: Int32] {
        var objects: [String: Int32] = [:]
        for area in plan.areas {
            guard case .shared(let key, _, let fd) = area.backing, objects[key] == nil else { continue }
            guard fd >= 0 else {
                throw BpfcpError("restore_failed", "the memory area \(Format.hex(area.start)) of process \(plan.pid) maps \(key), which restore did not create")
            }
            objects[key] = fd
        }
        guard !objects.isEmpty else { return [:] }

        let pidfd = fds.allocate()
        try injector.queue(SyscallNumber.pidfdOpen, [.int(Int(getpid())), .int(0)],
                           text: "pidfd_open(\(getpid()), 0) /* restore itself */", expected: Int64(pidfd))
        var copies: [String: Int32] = [:]
        for (key, fd) in objects.sorted(by: { $0.key < $1.key }) {
            let copy = fds.allocate()
            try injector.queue(SyscallNumber.pidfdGetfd, [.int(Int(pidfd)), .int(Int(fd)), .int(0)],
                               text: "pidfd_getfd(\(pidfd), \(fd), 0) /* \(key) */", expected: Int64(copy))
            copies[key] = copy
        }
        try injector.queue(SyscallNumber.close, [.int(Int(pidfd))], text: "close(\(pidfd))")
        fds.release(pidfd)
        return copies
    }
}
