import Foundation

extension SharedPlanning {
    /// Plans the watches of an epoll instance that fds in several processes
    /// share. EPOLL_CTL_ADD names the watched file by an fd of the calling
    /// process, and the instance is one, so each watch is added once. The
    /// first process (parents first) whose fd of that number still refers
    /// to the watched file adds it, through its own fd of the instance.
    static func planSharedEpoll(_ list: [(pid: Int32, file: OpenFile)], images: [ProcessImage], files: [Int32: [OpenFile]],
                                into plan: inout SharedPlan) throws {
        let first = list[0]
        guard let image = images.first(where: { $0.pid == first.pid }) else { return }
        let watches = try image.items("epoll", as: EpollWatch.self).filter { $0.epollFd == first.file.fd }
        for watch in watches {
            guard let target = watch.targetFd else { continue }
            let adder = list.first { holder in
                (files[holder.pid] ?? []).contains { $0.fd == target && (watch.targetInode == nil || $0.inode == watch.targetInode) }
            }
            guard let adder else {
                let holders = list.map { "process \($0.pid) fd \($0.file.fd)" }.joined(separator: ", ")
                throw ImagePlan.reject(first.pid, "the epoll instance at \(holders) watches a file (inode \(watch.targetInode ?? 0)) through fd \(target), which no process of the instance has open on that file now; restore can add a watch only through an fd of its file")
            }
            let events = try EpollPlan.events(watch.events, epollFd: adder.file.fd, pid: adder.pid)
            let planned = EpollWatchPlan(targetFd: target, events: events, data: watch.data ?? 0, names: watch.events)
            plan.members[adder.pid, default: SharedMember()].epollWatches[adder.file.fd, default: []].append(planned)
        }
    }
}
