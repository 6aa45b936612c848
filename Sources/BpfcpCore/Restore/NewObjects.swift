import Foundation

/// Pipes and sockets that restore creates anew get new inodes. This maps
/// each old inode to its new one through the fd that refers to it, so that the
/// verifier can tell these expected differences from real ones.
struct NewObjects {
    /// Old inode to new inode, both as decimal text.
    private(set) var inodes: [String: String] = [:]
    /// Keys ("fd N") of the unix stream sockets of the image.
    private var streamSockets: Set<String> = []

    init(before: Dump, after: Dump) {
        let old = Self.fields(before, kind: "files")
        let new = Self.fields(after, kind: "files")
        for (key, fields) in old where ["pipe", "socket"].contains(fields["type"]) {
            guard let from = fields["inode"], let to = new[key]?["inode"], from != to else { continue }
            inodes[from] = to
        }
        let newSockets = Self.fields(after, kind: "sockets")
        for (key, fields) in Self.fields(before, kind: "sockets") {
            if fields["family"] == "unix" && fields["type"] == "stream" { streamSockets.insert(key) }

            // The peer of a new socket is new too, and in a family it may be
            // in another process, whose fds this map does not see.
            guard let inode = fields["inode"], inodes[inode] == newSockets[key]?["inode"],
                  let peer = fields["peer inode"], let newPeer = newSockets[key]?["peer inode"], peer != newPeer else { continue }
            inodes[peer] = newPeer
        }
    }

    /// Rewrites the epoll entries of `dump`, whose keys and target inodes
    /// name the watched file by inode, to the new inodes.
    func aligned(_ dump: Dump) -> Dump {
        var copy = dump
        copy.sections = dump.sections.map { section in
            guard section.kind == "epoll" else { return section }
            let entries = section.entries.map { entry -> Entry in
                guard let old = entry.fields.first(where: { $0.name == "target inode" })?.value, let new = inodes[old] else { return entry }
                let fields = entry.fields.map { $0.name == "target inode" ? Field($0.name, new) : $0 }
                return Entry(key: entry.key.replacingOccurrences(of: "inode \(old)", with: "inode \(new)"), cells: entry.cells, fields: fields)
            }
            return Section(kind: section.kind, source: section.source, unavailable: section.unavailable,
                           elapsedNs: section.elapsedNs, items: section.items, entries: entries)
        }
        return copy
    }

    /// Returns why `field` of entry `key` differs, when a new pipe, socket or eventfd explains it.
    func reason(kind: String, key: String, field: FieldChange) -> String? {
        switch (kind, field.name) {
        case ("files", "inode"), ("sockets", "inode"), ("sockets", "peer inode"):
            return inodes[field.before] == field.after ? "a new pipe or socket has a new inode" : nil
        case ("files", "path"), ("sockets", "peer"):
            let old = field.before.replacingOccurrences(of: "socket:[", with: "").replacingOccurrences(of: "]", with: "")
            let new = field.after.replacingOccurrences(of: "socket:[", with: "").replacingOccurrences(of: "]", with: "")
            return field.before.hasPrefix("socket:[") && inodes[old] == new ? "a new pipe or socket has a new inode" : nil
        case ("sockets", "peer owners"):
            return Self.withoutRestore(field.after) == field.before
                ? "restore holds a copy of a socket it shares between restored processes while it verifies them" : nil
        case ("events", "eventfd id"):
            return "a new eventfd gets the lowest free id"
        case ("sockets", "receive queue messages"), ("sockets", "send queue"):
            return streamSockets.contains(key)
                ? "restore queues the saved bytes of a stream socket in fewer messages, so the message count and the buffer memory differ" : nil
        default:
            return nil
        }
    }

    /// Removes restore's own entries ("PID COMM fd N") from a list of socket owners.
    private static func withoutRestore(_ owners: String) -> String {
        let own = "\(getpid()) "
        let kept = owners.components(separatedBy: ", ").filter { !$0.hasPrefix(own) }
        return kept.isEmpty ? "-" : kept.joined(separator: ", ")
    }

    private static func fields(_ dump: Dump, kind: String) -> [String: [String: String]] {
        guard let section = dump.sections.first(where: { $0.kind == kind }) else { return [:] }
        var out: [String: [String: String]] = [:]
        for entry in section.entries {
            out[entry.key] = Dictionary(entry.fields.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        }
        return out
    }
}
