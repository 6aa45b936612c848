import CBpfcpShim
import Foundation

/// Scope of a capture and the place of its pages while it runs.
public struct CaptureOptions: Sendable {
    /// Capture the descendants of the target too.
    public var tree: Bool
    /// Directory for the temporary page store. Put it on the file system of
    /// the image so that writing the image links the pages instead of copying them.
    public var scratchDirectory: String
    public var kinds: [KindDescriptor]
    /// Bytes of pages kept in memory while the target is held, so it can be
    /// released before they are written; larger images stream to disk while held.
    public var stagingBudget: Int
    public static let defaultStagingBudget = 256 << 20
    /// Release the target before its private pages are read, reading them
    /// from a copy-on-write copy (`Snapshot`). Off: read them while held,
    /// and inject nothing into the target.
    public var snapshot: Bool

    public init(tree: Bool = false, scratchDirectory: String = NSTemporaryDirectory(), kinds: [KindDescriptor] = KindRegistry.all,
                stagingBudget: Int = CaptureOptions.defaultStagingBudget, snapshot: Bool = true) {
        self.tree = tree
        self.scratchDirectory = scratchDirectory
        self.kinds = kinds
        self.stagingBudget = stagingBudget
        self.snapshot = snapshot
    }
}

/// Takes consistent checkpoints. The stages run in this order:
///
/// 1. Validate every target from outside, touching nothing: not a kernel
///    thread, not traced, no io_uring. A refusal here leaves the target as it was.
/// 2. Freeze: hold every thread, then with `tree` every child, and scan
///    again until neither set changes.
/// 3. Collect while held: kernel state of every kind, registers, the list
///    of pages to save, and the pages of shared memory (into the in-memory
///    staging area of `PageSink` while it has room).
/// 4. Make a copy-on-write snapshot of each process (`Snapshot`), or, where
///    none can be made, read its private pages too while held.
/// 5. Release, always, also on errors and signals (`Freezer`).
/// 6. Read the private pages from the snapshot copies, then remove them.
/// 7. Write the staged pages while other threads turn the kind items into
///    sections (the sockets kind reads the other processes' socket fds
///    there). `CheckpointImage` syncs the page store with the image.
public enum Checkpointer {
    /// Captures `pid` (and its descendants with `options.tree`). The kernel
    /// state is kept in memory; the pages go to a temporary store that lives
    /// as long as the returned checkpoint. The targets keep running afterwards.
    /// Returns the error for a directory `dir` that rejects the page store. It
    /// names `dir`, the user's directory, rather than the hidden store. Root
    /// already passes the permission bits, so for root the advice is about
    /// file attributes and mounts.
    static func unwritable(_ dir: String, _ err: Int32) -> BpfcpError {
        let shown = Escape.text(dir)
        let fix: String
        if (err == EPERM || err == EACCES) && geteuid() == 0 {
            fix = "bpfcp already runs as root, so \(shown) may be immutable or append-only (check `lsattr -d \(shown)`) "
                + "or on a read-only mount (check `findmnt -T \(shown)`); choose another directory or clear that"
        } else if err == EPERM || err == EACCES {
            fix = "check the permissions of \(shown) (ls -ld \(shown)), choose a directory you can write, or run bpfcp as root"
        } else {
            fix = BpfcpError.systemFix(err) ?? "choose another directory"
        }
        return BpfcpError("system", "writing the checkpoint in \(shown) failed: \(String(cString: strerror(err))); \(fix)")
    }

    public static func capture(pid: Int32, options: CaptureOptions = CaptureOptions()) throws -> Checkpoint {
        try preloadBPF(options.kinds)
        return try capture(pid: pid, options: options, clock: CapturePhaseClock())
    }

    /// Captures like `capture(pid:options:)`, timing each step on `clock`,
    /// whose start is the start of the total time. The BPF objects must be loaded.
    ///
    /// With `holder`, the targets stay held after a successful capture, and
    /// the caller releases or kills them with it. After an error they are
    /// released here, as always. With `encoding`, each process section is
    /// also encoded for the image on its collector thread while the pages are written.
    static func capture(pid: Int32, options: CaptureOptions, clock: CapturePhaseClock, holder: Freezer? = nil,
                        encoding: Bool = false) throws -> Checkpoint {
        let root = try Dumper.validTarget(pid: pid, source: .bpf)
        let rootObstacle = try validate(root)

        let scratch = options.scratchDirectory + "/.bpfcp-pages" + PartialDirectory.writerSuffix()
        guard mkdir(scratch, 0o700) == 0 else { throw unwritable(options.scratchDirectory, errno) }
        let store = PageStore(path: scratch + "/" + CheckpointImage.pagesFile, temporaryDirectory: scratch)
        let writer = try SectionWriter(path: store.path, type: .pages)
        writer.hasher = PageHasher(pageSize: Int(pageSize()))
        let sink = PageSink(writer: writer, budget: options.stagingBudget, expected: Int(residentBytes(pid, anonymous: !options.snapshot)))

        let freezer = holder ?? Freezer()
        let memory = MemoryCapture(sink: sink, pageSize: pageSize())
        memory.checkInterrupted = { try freezer.checkInterrupted() }
        let guardian = options.snapshot ? SnapshotGuardian() : nil
        var snapshots: [(index: Int, snapshot: Snapshot)] = []
        var keepHeld = false
        defer {
            // Every copy goes, also after an error or a signal, before the handlers are restored.
            if !keepHeld { freezer.release(keepHandlers: true) }
            snapshots.forEach { $0.snapshot.dispose(freezer: freezer) }
            guardian?.stop()
            if !keepHeld { freezer.release() }
        }
        var stats = CaptureStats()
        clock.lap(\.prepareNs)
        var captured = try captureHeld(root: root, rootObstacle: rootObstacle, options: options, freezer: freezer, memory: memory,
                                       guardian: guardian, encoding: encoding, snapshots: &snapshots, stats: &stats, clock: clock)
        if holder == nil { freezer.release(keepHandlers: true) }
        // Held or not, nothing more is read from the targets' kinds.
        captured.forEach { $0.kinds?.targetReleased() }
        let precoding = encoding ? SectionPrecoding(captured.map(\.image), stats: stats) : nil
        stats.frozenNs = Clock.now() - freezer.frozenAt
        // Not while held, where it could only lengthen the hold.
        writer.startsWriteback = true
        clock.lap(\.heldNs)

        // The kind sections are built on their threads while the pages are
        // written here. The copies go before the steps that read other
        // processes: a copy shares the target's fd table (CLONE_FILES), so
        // the sockets kind's pass over every process would list it as a peer owner.
        do {
            try readCopies(&captured, snapshots: snapshots, memory: memory, freezer: freezer, stats: &stats)
        } catch {
            captured.forEach { $0.kinds?.abandon() }
            throw error
        }
        captured.forEach { $0.kinds?.copiesRemoved() }
        stats.pagesWritten = memory.pagesWritten
        stats.pagesShared = memory.pagesShared
        let flushStart = Clock.now()
        try sink.flush()
        try writer.finish()
        stats.memoryNs += Clock.now() - flushStart
        clock.lap(\.memoryNs)
        var processes: [ProcessImage] = []
        var encoded = precoding?.sections() ?? [:]
        for process in captured {
            let (image, payload) = try process.finished(stats: &stats)
            processes.append(image)
            encoded["process-\(image.pid)"] = payload
        }
        clock.lap(\.sectionsNs)
        stats.phases = clock.phases
        stats.totalNs = clock.elapsedNs()
        if holder != nil { stats.frozenNs = Clock.now() - freezer.frozenAt }
        let info = CheckpointInfo(rootPid: pid, tree: options.tree, takenAt: Date().timeIntervalSince1970,
                                  toolVersion: bpfcpVersion, kernelRelease: kernelRelease(), pageSize: pageSize(), stats: stats)
        var checkpoint = Checkpoint(info: info, processes: processes, pages: store, pageHashes: writer.hasher?.finish())
        checkpoint.encodedSections = encoded
        keepHeld = holder != nil
        return checkpoint
    }

    /// Captures `pid` and writes the image to `dir`. With `kill`, the
    /// targets are killed once the image is safely on disk and passes the
    /// checks restore makes. Otherwise they keep running, the image stays,
    /// and the error names the resource restore would reject.
    @discardableResult
    public static func dump(pid: Int32, to dir: String, options: CaptureOptions, kill: Bool) throws -> Checkpoint {
        // Loaded first so that the total time, like the one of `capture`, leaves the one-time loading out.
        try preloadBPF(options.kinds)
        let clock = CapturePhaseClock()
        guard kill else {
            var checkpoint = try capture(pid: pid, options: options, clock: clock, encoding: true)
            try Freezer.checkInterrupted()
            checkpoint.info = try CheckpointImage.write(checkpoint, to: dir, clock: clock)
            return checkpoint
        }
        return try dumpHeld(pid: pid, to: dir, options: options, clock: clock)
    }

    /// Captures and writes like `dump`, but keeps the targets held until the
    /// image is written and checked, then kills them while they are still
    /// held. A target released earlier would run on after its capture, and
    /// what it did then (a line written to a log, a message sent) would
    /// happen again after restore. Any failure releases them to run on.
    private static func dumpHeld(pid: Int32, to dir: String, options: CaptureOptions, clock: CapturePhaseClock) throws -> Checkpoint {
        let holder = Freezer()
        defer { holder.release() }

        // A copy-on-write copy only helps a target that runs on.
        var options = options
        options.snapshot = false
        var checkpoint = try capture(pid: pid, options: options, clock: clock, holder: holder, encoding: true)
        try Freezer.checkInterrupted()
        checkpoint.info = try CheckpointImage.write(checkpoint, to: dir, clock: clock)
        try checkRestorable(dir, pid: pid)
        try KillCheck.checkNothingSharedOutside(checkpoint, dir: dir, pid: pid)
        try Freezer.checkInterrupted()

        holder.killHeld(checkpoint.processes.reversed().map(\.pid))
        waitGone(checkpoint.processes.map(\.pid))
        return checkpoint
    }

    /// Waits up to two seconds for killed processes to be reaped, so that a
    /// restore started right after `dump --kill` finds their pids free. A
    /// process whose parent does not reap it stays a zombie, and restore
    /// then names it.
    private static func waitGone(_ pids: [Int32]) {
        for _ in 0..<2000 {
            if pids.allSatisfy({ Glibc.kill($0, 0) != 0 && errno == ESRCH }) { return }
            usleep(1000)
        }
    }

    /// Opens the image just written and runs restore's checks on it, so that
    /// `kill` never ends a process that its image cannot bring back.
    private static func checkRestorable(_ dir: String, pid: Int32) throws {
        do {
            try Restore.check(try CheckpointImage.open(dir), imageDirectory: dir)
        } catch let error as BpfcpError {
            let suffix = "; nothing was created"
            let reason = error.message.hasSuffix(suffix) ? String(error.message.dropLast(suffix.count)) : error.message
            throw BpfcpError("not_killed", "process \(pid) was not killed because its image could not be restored (\(reason)): the image \(Escape.text(dir)) is kept and the process runs on; release that resource in the process and dump again, or leave out --kill")
        }
    }

    // MARK: - stages

    private static func captureHeld(root: ProcessEntry, rootObstacle: String?, options: CaptureOptions, freezer: Freezer,
                                    memory: MemoryCapture, guardian: SnapshotGuardian?, encoding: Bool,
                                    snapshots: inout [(index: Int, snapshot: Snapshot)],
                                    stats: inout CaptureStats, clock: CapturePhaseClock) throws -> [HeldProcess] {
        var preFreeze: [Int32: PreFreezeState] = [:]
        var obstacles: [Int32: String] = [:]
        obstacles[root.pid] = rootObstacle
        let family = try freezeFamily(root: root, tree: options.tree, freezer: freezer, preFreeze: &preFreeze, obstacles: &obstacles)
        clock.lap(\.freezeNs)
        if !options.snapshot {
            family.forEach { obstacles[$0.pid] = "turned off" }
        }

        let queues = QueueCapture()
        var captured: [HeldProcess] = []
        do {
            for process in family {
                try freezer.checkInterrupted()
                captured.append(try captureOne(process, preFreeze: preFreeze[process.pid], freezer: freezer, memory: memory,
                                               queues: queues, deferring: obstacles[process.pid] == nil, kinds: options.kinds,
                                               encoding: encoding, stats: &stats, clock: clock))
            }
            // Only now, with every kind of every member read: the copy is a
            // new child, which no collector may see.
            try makeSnapshots(&captured, freezer: freezer, memory: memory, guardian: guardian, obstacles: obstacles,
                              snapshots: &snapshots, stats: &stats)
        } catch {
            captured.forEach { $0.kinds?.abandon() }
            throw error
        }
        return captured
    }

    /// Freezes the root, validated by the caller, then with `tree` its
    /// descendants, validating each, scanning until no process and no thread
    /// is new. Returns the members, parents first, and stores in `preFreeze`
    /// each member's state read just before its freeze.
    private static func freezeFamily(root: ProcessEntry, tree: Bool, freezer: Freezer, preFreeze: inout [Int32: PreFreezeState],
                                     obstacles: inout [Int32: String]) throws -> [ProcessEntry] {
        var members: [ProcessEntry] = [root]
        preFreeze[root.pid] = PreFreezeState.read(root)
        try freezer.freeze(pid: root.pid)
        guard tree else { return members }

        var changed = true
        while changed {
            changed = false
            for member in members where !member.isZombie {
                try freezer.freeze(pid: member.pid)
                for child in children(of: member.pid) where !members.contains(where: { $0.pid == child }) {
                    guard let entry = try? Dumper.validTarget(pid: child, source: .proc) else {
                        members.append(try zombieEntry(child))
                        changed = true
                        continue
                    }
                    let fresh = (try? ProcessListBPF.collect(pid: child))?.first { $0.pid == child } ?? entry
                    obstacles[child] = try validate(fresh)
                    preFreeze[child] = PreFreezeState.read(fresh)
                    try freezer.freeze(pid: child)
                    members.append(fresh)
                    changed = true
                }
            }
        }
        return members
    }

    private static func captureOne(_ process: ProcessEntry, preFreeze: PreFreezeState?, freezer: Freezer, memory: MemoryCapture,
                                   queues: QueueCapture, deferring: Bool, kinds: [KindDescriptor], encoding: Bool,
                                   stats: inout CaptureStats, clock: CapturePhaseClock) throws -> HeldProcess {
        let stopSignal = process.state == .stopped ? (process.stopSignal ?? "SIGSTOP") : nil
        guard !process.isZombie else {
            let image = ProcessImage(pid: process.pid, process: process, stopSignal: nil, sections: [], threads: [], memory: [])
            return HeldProcess(image: image, kinds: nil, pages: nil)
        }

        // The collectors need no ptrace, so they run on another thread while
        // this one, the tracer, reads registers and memory.
        let encoder = encoding ? ProcessSectionEncoder(pid: process.pid, process: process, stopSignal: stopSignal) : nil
        let pending = KindCollection(process, kinds: kinds, preFreeze: preFreeze, encoder: encoder)
        let threads: [ThreadState]
        let pages: MemoryCapture.DeferredPages
        let files: [SavedFile]
        let queued: [QueuedData]
        do {
            threads = try freezer.threads(of: process.pid).map(ThreadCapture.capture)
            let memoryStart = Clock.now()
            pages = try memory.scan(pid: process.pid, deferring: deferring)
            let links = ProcFS.fdLinks(process.pid)
            files = try memory.captureFiles(pid: process.pid, links: links)
            stats.memoryNs += Clock.now() - memoryStart
            queued = try queues.capture(pid: process.pid, links: links)
            clock.lap(\.heldNs)
            try pending.waitGathered()
            clock.lap(\.kindsNs)
        } catch {
            pending.abandon()
            throw error
        }
        stats.threads += threads.count
        let image = ProcessImage(pid: process.pid, process: process, stopSignal: stopSignal, sections: [],
                                 threads: threads, memory: pages.areas, files: files, queues: queued)
        return HeldProcess(image: image, kinds: pending, pages: pages)
    }

    /// Rejects, before anything is touched, targets a checkpoint cannot hold
    /// or restore. Returns why no snapshot of its memory can be made, or nil.
    @discardableResult
    static func validate(_ process: ProcessEntry) throws -> String? {
        if let tracer = Freezer.tracerPid(of: process.pid), tracer != 0, tracer != getpid() {
            throw Freezer.alreadyTraced(process.pid, tracer: tracer)
        }
        var links: [String] = []
        for (fd, link) in ProcFS.fdLinks(process.pid) {
            links.append(String(decoding: link, as: UTF8.self))
            if links.last == "anon_inode:[io_uring]" {
                throw BpfcpError("io_uring", "process \(process.pid) (\(process.comm)) has an io_uring instance on fd \(fd): checkpoints of io_uring are not supported; close the ring or pick another process")
            }
        }
        return Snapshot.obstacle(process, fdLinks: links)
    }

    private static func zombieEntry(_ pid: Int32) throws -> ProcessEntry {
        guard let entry = try ProcessListBPF.collect(pid: pid).first(where: { $0.pid == pid }) else {
            throw BpfcpError.exited(pid)
        }
        guard entry.isZombie else { return try Dumper.validTarget(pid: pid, source: .bpf) }
        return entry
    }

    /// Direct children of every thread of `pid`, from /proc/PID/task/TID/children.
    static func children(of pid: Int32) -> [Int32] {
        var result: [Int32] = []
        for tid in Freezer.taskIds(pid) {
            let text = (try? ProcFS.readText("/proc/\(pid)/task/\(tid)/children")) ?? ""
            result += text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        return result.sorted()
    }

    /// Loads every BPF object the kinds use before the target is held, so
    /// that loading (75-150 ms each) is not part of the frozen time.
    private static func preloadBPF(_ kinds: [KindDescriptor]) throws {
        for name in BPFRuntime.embeddedObjects {
            _ = try? BPFRuntime.shared.object(name)
        }
    }

    /// Shared-memory resident bytes of `pid`, plus its anonymous ones with
    /// `anonymous`, to size the prefaulted staging area. With a snapshot
    /// only shared pages are read while held. Without one (or when it
    /// fails) the private pages fault the rest of the staging area in while held.
    private static func residentBytes(_ pid: Int32, anonymous: Bool) -> UInt64 {
        guard let status = try? ProcFS.readText("/proc/\(pid)/status") else { return 0 }
        let fields = ProcFS.keyValues(status)
        let kinds = anonymous ? ["RssAnon", "RssShmem"] : ["RssShmem"]
        let kib = kinds.compactMap { fields[$0]?.split(separator: " ").first.flatMap { UInt64($0) } }
        return kib.reduce(0, +) * 1024
    }

    static func pageSize() -> UInt64 {
        UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    private static func kernelRelease() -> String {
        var name = utsname()
        uname(&name)
        return withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}

/// A process captured while held, whose kind sections are still being built.
struct HeldProcess {
    var image: ProcessImage
    /// Nil for a zombie, which has no sections.
    let kinds: KindCollection?
    /// Its memory areas and the private pages still to be read; nil for a zombie.
    var pages: MemoryCapture.DeferredPages?

    /// Returns the image with its sections, and its process section
    /// encoded when the capture encodes them, adding the collectors' time to `stats`.
    func finished(stats: inout CaptureStats) throws -> (ProcessImage, [UInt8]?) {
        guard let kinds else { return (image, nil) }
        var complete = image
        let finished = try kinds.sections()
        complete.sections = finished.sections
        stats.kindsNs += kinds.elapsedNs
        return (complete, finished.encoded)
    }
}

/// The version written into images.
public let bpfcpVersion = "0.1.0"
