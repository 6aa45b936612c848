import BpfcpCore
import Foundation

/// A process, its parent chain and its descendants, with the pipes and
/// sockets that join them: who talks to whom.
struct FamilyGraph: Sendable {
    struct Member: Sendable {
        var process: ProcessEntry
        /// 0 for the oldest ancestor shown.
        var depth: Int
    }

    /// One channel between two processes.
    struct Link: Sendable, Equatable {
        /// The pipe identity ("pipe:[123]") or the socket type ("unix stream socket", "inet tcp socket").
        var channel: String
        var fromPid: Int32
        var fromFd: Int32
        /// "write", "read", "read-write" for pipes; empty for sockets.
        var fromEnd: String
        var toPid: Int32
        var toFd: Int32
        var toEnd: String
    }

    var focus: Int32
    var members: [Member]
    var links: [Link]

    /// Collects the family of `pid` and the channels between its members.
    static func collect(around pid: Int32, source: CollectorSource) throws -> FamilyGraph {
        let all = source == .bpf ? try ProcessListBPF.collect() : try ProcessListProc.collect()
        let byPid = Dictionary(all.map { ($0.pid, $0) }, uniquingKeysWith: { first, _ in first })
        guard let target = byPid[pid] else { throw BpfcpError.noSuchProcess(pid) }

        var chain: [ProcessEntry] = []
        var current = target
        while current.ppid > 1, let parent = byPid[current.ppid], chain.count < 64 {
            chain.insert(parent, at: 0)
            current = parent
        }
        var members = chain.enumerated().map { Member(process: $0.element, depth: $0.offset) }
        let children = Dictionary(grouping: all.filter { !$0.isKernelThread }, by: \.ppid)
        appendTree(target, depth: chain.count, children: children, into: &members)

        let pids = Set(members.map(\.process.pid))
        let links = pipeLinks(members.map(\.process.pid), source: source) + socketLinks(members.map(\.process.pid), within: pids, source: source)
        return FamilyGraph(focus: pid, members: members, links: links)
    }

    private static func appendTree(_ process: ProcessEntry, depth: Int, children: [Int32: [ProcessEntry]], into members: inout [Member]) {
        members.append(Member(process: process, depth: depth))
        guard members.count < 512 else { return }
        for child in (children[process.pid] ?? []).sorted(by: { $0.pid < $1.pid }) where child.pid != process.pid {
            appendTree(child, depth: depth + 1, children: children, into: &members)
        }
    }

    /// Pipe ends of different members that share one pipe identity, writers first.
    private static func pipeLinks(_ pids: [Int32], source: CollectorSource) -> [Link] {
        var ends: [String: [(pid: Int32, end: PipeEnd)]] = [:]
        for pid in pids {
            let list = (try? (source == .bpf ? PipesKind.collectBPF(pid: pid) : PipesProc.collect(pid: pid))) ?? []
            for end in list { ends[end.identity, default: []].append((pid, end)) }
        }
        var links: [Link] = []
        for (identity, holders) in ends.sorted(by: { $0.key < $1.key }) where Set(holders.map(\.pid)).count > 1 {
            let writers = holders.filter { $0.end.end != "read" }
            let readers = holders.filter { $0.end.end == "read" }
            for w in writers {
                for r in readers where r.pid != w.pid {
                    links.append(Link(channel: identity, fromPid: w.pid, fromFd: w.end.fd, fromEnd: w.end.end,
                                      toPid: r.pid, toFd: r.end.fd, toEnd: r.end.end))
                }
            }
        }
        return links
    }

    /// Sockets of members whose peer is held by another process, each pair once.
    private static func socketLinks(_ pids: [Int32], within family: Set<Int32>, source: CollectorSource) -> [Link] {
        var links: [Link] = []
        var seen = Set<String>()
        for pid in pids {
            let sockets = (try? (source == .bpf ? SocketsKind.collectBPF(pid: pid) : SocketsProc.collect(pid: pid))) ?? []
            for socket in sockets {
                for owner in socket.peerOwners where owner.pid != pid {
                    let pair = [("\(pid)/\(socket.fd)"), ("\(owner.pid)/\(owner.fd)")].sorted().joined(separator: " ")
                    guard seen.insert(pair).inserted else { continue }
                    let kind = ["", "-", socket.family].contains(socket.protocol) ? socket.type : socket.protocol
                    links.append(Link(channel: "\(socket.family) \(kind) socket",
                                      fromPid: pid, fromFd: socket.fd, fromEnd: "", toPid: owner.pid, toFd: owner.fd, toEnd: ""))
                }
            }
        }
        return links
    }
}

/// Finds the processes at the other end of a socket or pipe fd.
enum PeerFinder {
    static func peers(of pid: Int32, fd: Int32) throws -> [Int32] {
        let links: [SocketPeerLink]
        if let viaBPF = try? SocketPeers.links(pid: pid) {
            links = viaBPF
        } else {
            links = try SocketPeers.links(pid: pid, source: .proc)
        }
        if let link = links.first(where: { $0.fd == fd }) {
            let others = link.peerPids.filter { $0 != pid }
            return others.isEmpty ? link.peerPids : others
        }
        guard let target = ProcFS.readLink("/proc/\(pid)/fd/\(fd)").map({ String(decoding: $0, as: UTF8.self) }) else {
            throw BpfcpError("no_fd", "process \(pid) has no fd \(fd) any more: press r to dump it again")
        }
        if target.hasPrefix("socket:") {
            throw BpfcpError("no_peer", "peer not found: no process has the other end of socket fd \(fd) of process \(pid)")
        }
        guard target.hasPrefix("pipe:") || isFifo(pid: pid, fd: fd) else {
            throw BpfcpError("not_a_channel", "fd \(fd) of process \(pid) is not a pipe or a socket: pick a pipe or socket row")
        }
        let holders = holdersOf(target, excluding: pid)
        guard !holders.isEmpty else {
            throw BpfcpError("no_peer", "peer not found: no other process has \(Escape.text(target)) open (fd \(fd) of process \(pid))")
        }
        return holders
    }

    private static func isFifo(pid: Int32, fd: Int32) -> Bool {
        var st = stat()
        return stat("/proc/\(pid)/fd/\(fd)", &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO
    }

    /// Pids other than `pid` with an fd whose link reads `target`, from /proc.
    private static func holdersOf(_ target: String, excluding pid: Int32) -> [Int32] {
        let expected = Array(target.utf8)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        var found: [Int32] = []
        for name in names {
            guard let other = Int32(name), other != pid else { continue }
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(other)/fd")) ?? []
            if fds.contains(where: { ProcFS.readLink("/proc/\(other)/fd/\($0)") == expected }) { found.append(other) }
        }
        return found.sorted()
    }
}
