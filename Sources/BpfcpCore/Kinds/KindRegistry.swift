/// Every resource kind bpfcp knows, in tab order. Adding a kind means adding
/// its BPF program in bpf/, its file in Kinds/ and one line here.
public enum KindRegistry {
    public static let all: [KindDescriptor] = [
        KindDescriptor(ThreadsKind.self),
        KindDescriptor(FilesKind.self),
        KindDescriptor(MemoryKind.self),
        KindDescriptor(SignalsKind.self),
        KindDescriptor(PendingSignalsKind.self),
        KindDescriptor(ThreadSignalsKind.self),
        KindDescriptor(PipesKind.self),
        KindDescriptor(EventFilesKind.self),
        KindDescriptor(SocketsKind.self),
        KindDescriptor(EpollKind.self),
        KindDescriptor(NotifyKind.self),
        KindDescriptor(MemfdKind.self),
        KindDescriptor(IoUringKind.self),
        KindDescriptor(CredentialsKind.self),
        KindDescriptor(NamespacesKind.self),
        KindDescriptor(ContextKind.self),
        KindDescriptor(LimitsKind.self),
        KindDescriptor(TimersKind.self),
    ]

    /// Kinds collected only when named, e.g. with `--only environ`, because
    /// they may contain secrets. `all` never includes them.
    public static let optIn: [KindDescriptor] = [
        KindDescriptor(EnvironKind.self),
    ]

    public static func named(_ name: String) -> KindDescriptor? {
        (all + optIn).first { $0.name == name }
    }

    /// Parses a comma-separated `--only` list, rejecting unknown names.
    public static func parseOnly(_ list: String) throws -> [KindDescriptor] {
        try list.split(separator: ",").map { raw in
            let name = raw.trimmingCharacters(in: .whitespaces)
            guard let kind = named(name) else {
                let known = (all + optIn).map(\.name).joined(separator: ", ")
                throw BpfcpError("unknown_kind", "unknown resource kind '\(Escape.text(name))': choose from \(known)")
            }
            return kind
        }
    }
}
