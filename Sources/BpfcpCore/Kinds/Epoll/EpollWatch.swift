/// One watch of an epoll instance, or an epoll fd without watches (target fields nil).
public struct EpollWatch: Codable, Sendable, Equatable {
    public var epollFd: Int32
    /// fd number given to EPOLL_CTL_ADD; it may since have been closed or reused.
    public var targetFd: Int32?
    public var targetInode: UInt64?
    /// Device of the target's file system as "major:minor".
    public var targetDevice: String?
    /// File type of the target ("socket", "pipe", "eventfd"...), when known.
    public var targetType: String?
    /// Event bits by name. epoll_ctl() adds EPOLLERR and EPOLLHUP to every watch.
    public var events: [String]
    /// epoll_event.data as given to epoll_ctl().
    public var data: UInt64?

    static func names(events: UInt32) -> [String] {
        let bits: [(UInt32, String)] = [
            (0x1, "EPOLLIN"), (0x2, "EPOLLPRI"), (0x4, "EPOLLOUT"), (0x8, "EPOLLERR"), (0x10, "EPOLLHUP"),
            (0x20, "EPOLLNVAL"), (0x40, "EPOLLRDNORM"), (0x80, "EPOLLRDBAND"), (0x100, "EPOLLWRNORM"),
            (0x200, "EPOLLWRBAND"), (0x400, "EPOLLMSG"), (0x2000, "EPOLLRDHUP"), (1 << 27, "EPOLLURING_WAKE"),
            (1 << 28, "EPOLLEXCLUSIVE"), (1 << 29, "EPOLLWAKEUP"), (1 << 30, "EPOLLONESHOT"), (1 << 31, "EPOLLET"),
        ]
        var names = bits.filter { events & $0.0 != 0 }.map(\.1)
        let unknown = events & ~bits.reduce(UInt32(0)) { $0 | $1.0 }
        if unknown != 0 { names.append(Format.hex(UInt64(unknown))) }
        return names
    }
}
