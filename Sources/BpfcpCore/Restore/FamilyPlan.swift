import Foundation

/// One process of a `--tree` image and how restore rebuilds it.
struct FamilyMember {
    var image: ProcessImage
    /// Nil for a zombie, which is created only to exit again.
    var plan: RestorePlan?
    /// Image pid of the parent; nil for the root.
    var parent: Int32?
    /// Exit status of a zombie.
    var exitStatus: Int32?

    var pid: Int32 { image.pid }
}

/// The restore plan of a process family: the members, parents first, and
/// the files that restore creates once for several of them.
struct FamilyPlan {
    var members: [FamilyMember]
    /// Pipes with ends in more than one member: identity, capacity in
    /// bytes, and whether each end (read, write) is non-blocking.
    var pipes: [(identity: String, capacity: UInt64, nonblockingRead: Bool, nonblockingWrite: Bool)] = []
    /// Saved queued bytes of those pipes, by identity.
    var pipeQueues: [String: QueuedData] = [:]
    /// Unix socket pairs whose sockets are in different members.
    var socketPairs: [FamilySocketPair] = []
    /// Image pids that pidfds point at; -1 for a pidfd of a reaped process.
    var pidfdTargets: Set<Int32> = []
    /// Objects and open file descriptions that several members share.
    var shared = SharedPlan()

    var root: FamilyMember { members[0] }
    var pids: Set<Int32> { Set(members.map(\.pid)) }
}

/// Turns a `--tree` checkpoint into a `FamilyPlan`, rejecting before any
/// process exists what restore cannot rebuild.
enum FamilyPlanning {
    static func build(_ checkpoint: Checkpoint) throws -> FamilyPlan {
        let pids = Set(checkpoint.processes.map(\.pid))
        let rootPid = checkpoint.info.rootPid
        let ordered = try order(checkpoint.processes, root: rootPid)
        var family = FamilyPlan(members: [])

        family.shared = try SharedPlanning.build(ordered, checkpoint: checkpoint)
        try checkSharedMemory(ordered, objects: Set(family.shared.objects.map(\.identity)))
        var external: [Int32: [Int32: FilePlan.Source]] = [:]
        try planPipes(ordered, into: &family, external: &external, queued: checkpoint.queued)
        try planSocketPairs(ordered, into: &family, external: &external, queued: checkpoint.queued, handled: family.shared.sockets)
        for image in ordered where !image.process.isZombie {
            for event in try image.items("events", as: EventFile.self) where event.type == "pidfd" {
                let target = event.targetPid ?? -1
                guard target < 0 || pids.contains(target) else {
                    throw ImagePlan.reject(image.pid, "fd \(event.fd) is a pidfd of process \(target), which is not in the image")
                }
                family.pidfdTargets.insert(target)
                external[image.pid, default: [:]][event.fd] = .restorerFile(key: RestorerFiles.pidfdKey(target), fd: -1)
            }
        }

        for image in ordered {
            let parent = image.pid == rootPid ? nil : image.process.ppid
            guard !image.process.isZombie else {
                guard image.pid != rootPid else { throw ImagePlan.reject(image.pid, "it is a zombie") }
                guard image.process.exitSignal == nil, let status = image.process.exitStatus else {
                    throw ImagePlan.reject(image.pid, "it is a zombie killed by \(image.process.exitSignal ?? "a signal"); restore recreates zombies that exited with a status only")
                }
                family.members.append(FamilyMember(image: image, plan: nil, parent: parent, exitStatus: status))
                continue
            }
            let plan = try ImagePlan.build(image, checkpoint: checkpoint, external: external[image.pid] ?? [:],
                                           shared: family.shared.member(image.pid))
            family.members.append(FamilyMember(image: image, plan: plan, parent: parent, exitStatus: nil))
        }
        return family
    }

    /// Sorts the images parents first, and rejects a member whose parent
    /// is not in the image (it was reparented to a process outside it).
    private static func order(_ images: [ProcessImage], root: Int32) throws -> [ProcessImage] {
        let byPid = Dictionary(images.map { ($0.pid, $0) }, uniquingKeysWith: { a, _ in a })
        func depth(_ image: ProcessImage) throws -> Int {
            var steps = 0
            var current = image
            while current.pid != root {
                guard let parent = byPid[current.process.ppid], steps < images.count else {
                    throw ImagePlan.reject(image.pid, "its parent \(current.process.ppid) is not in the image")
                }
                current = parent
                steps += 1
            }
            return steps
        }
        let depths = try Dictionary(images.map { ($0.pid, try depth($0)) }, uniquingKeysWith: { a, _ in a })
        return images.sorted { (depths[$0.pid]!, $0.pid) < (depths[$1.pid]!, $1.pid) }
    }

    /// Rejects other shared memory that several members map (SysV): restore
    /// would map a separate copy in each, and writes would no longer reach
    /// the other processes. A shared mapping of a file stays shared through
    /// the file, and `objects` are created once for every member.
    private static func checkSharedMemory(_ images: [ProcessImage], objects: Set<String>) throws {
        var owners: [String: Int32] = [:]
        for image in images where !image.process.isZombie {
            for saved in image.memory where saved.area.shared && saved.area.backing != .file && saved.contents != .kernel {
                let key = "\(saved.area.device):\(saved.area.inode)"
                if objects.contains(key) { continue }
                if let other = owners[key], other != image.pid {
                    throw ImagePlan.reject(image.pid, "its shared memory at \(Format.hex(saved.area.start)) (\(Escape.text(saved.area.path))) is shared with process \(other); restore of memory shared between processes is not supported yet")
                }
                owners[key] = image.pid
            }
        }
    }

    /// Finds the pipes whose ends are in more than one member. Restore
    /// creates each of them once, and every member copies its ends.
    private static func planPipes(_ images: [ProcessImage], into family: inout FamilyPlan,
                                  external: inout [Int32: [Int32: FilePlan.Source]], queued: (String) -> QueuedData?) throws {
        var ends: [String: [(pid: Int32, end: PipeEnd)]] = [:]
        for image in images where !image.process.isZombie {
            for end in try image.items("pipes", as: PipeEnd.self) where end.type == "pipe" && end.end != "read-write" {
                ends[end.identity, default: []].append((image.pid, end))
            }
        }
        for (identity, list) in ends.sorted(by: { $0.key < $1.key }) where Set(list.map(\.pid)).count > 1 {
            let queue = queued(identity)
            for (pid, end) in list where end.queued != UInt64(queue?.byteCount ?? 0) {
                throw ImagePlan.reject(pid, "fd \(end.fd) is \(identity) with \(end.queued) queued bytes, but the image contains \(queue?.byteCount ?? 0) of them; take the checkpoint again with this bpfcp")
            }
            family.pipeQueues[identity] = queue
            let nonblocking = { (side: String) in list.contains { $0.end.end == side && $0.end.flags.contains("O_NONBLOCK") } }
            family.pipes.append((identity, list[0].end.capacity, nonblocking("read"), nonblocking("write")))
            for (pid, end) in list {
                let key = RestorerFiles.pipeKey(identity, readEnd: end.end == "read")
                external[pid, default: [:]][end.fd] = .restorerFile(key: key, fd: -1)
            }
        }
    }
}
