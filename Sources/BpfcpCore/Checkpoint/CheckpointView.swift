import Foundation

/// Renders checkpoints like live dumps: the kernel state of every kind, plus
/// two sections only checkpoints have, registers and saved memory.
public enum CheckpointView {
    public static let registersKind = "registers"
    public static let pagesKind = "pages"
    public static let savedFilesKind = "saved_files"
    /// The sections only checkpoints have, which a live process cannot be compared on.
    public static let imageOnlyKinds = [registersKind, pagesKind, savedFilesKind]

    public static let registerColumns = [
        Column("TID", width: 8, alignRight: true), Column("RIP", width: 18), Column("RSP", width: 18),
        Column("FS_BASE", width: 18), Column("XSAVE", width: 7, alignRight: true), Column("BLOCKED", width: 30),
    ]

    public static let pageColumns = [
        Column("START", width: 14), Column("END", width: 14), Column("CONTENTS", width: 14),
        Column("SAVED", width: 9, alignRight: true), Column("PATH", width: 40),
    ]

    public static let savedFileColumns = [
        Column("FD", width: 5, alignRight: true), Column("SIZE", width: 9, alignRight: true),
        Column("SAVED", width: 9, alignRight: true), Column("EXTENTS", width: 7, alignRight: true), Column("PATH", width: 40),
    ]

    /// Titles and columns of the checkpoint-only sections, by kind name.
    public static func layout(_ kind: String) -> (title: String, columns: [Column])? {
        if let registered = KindRegistry.named(kind) { return (registered.title, registered.columns) }
        switch kind {
        case registersKind: return ("Registers", registerColumns)
        case pagesKind: return ("Saved memory", pageColumns)
        case savedFilesKind: return ("Saved files", savedFileColumns)
        default: return nil
        }
    }

    /// The processes of `checkpoint` as dumps, in capture order.
    public static func dumps(_ checkpoint: Checkpoint) -> [Dump] {
        checkpoint.processes.map { dump($0, info: checkpoint.info) }
    }

    public static func dump(_ image: ProcessImage, info: CheckpointInfo) -> Dump {
        var sections = image.sections.map(rerendered)
        sections.append(registers(image))
        sections.append(pages(image, pageSize: info.pageSize))
        sections.append(savedFiles(image))
        return Dump(pid: image.pid, process: image.process, source: .bpf, takenAt: info.takenAt,
                    totalNs: info.stats.totalNs, sections: sections)
    }

    /// Renders the items again with this build's kind, so `show` matches `dump`
    /// even when the image came from another bpfcp version.
    private static func rerendered(_ section: Section) -> Section {
        guard let kind = KindRegistry.named(section.kind), let entries = try? kind.render(section.items) else { return section }
        return Section(kind: section.kind, source: section.source, unavailable: section.unavailable,
                       elapsedNs: section.elapsedNs, items: section.items, entries: entries)
    }

    private static func registers(_ image: ProcessImage) -> Section {
        let entries = image.threads.map { thread in
            let blocked = SignalName.describe(mask: thread.sigmask)
            var fields = thread.registers.sorted { $0.key < $1.key }.map { Field($0.key, Format.hex($0.value)) }
            fields.append(Field("blocked signals", blocked))
            fields.append(Field("signal mask", Format.hex(thread.sigmask)))
            fields.append(Field("xsave bytes", "\(thread.xsave.count)"))
            fields.append(Field("xsave components", XsaveSummary.components(thread.xsave)))
            let cells = ["\(thread.tid)", Format.hex(thread.registers["rip"] ?? 0), Format.hex(thread.registers["rsp"] ?? 0),
                         Format.hex(thread.registers["fs_base"] ?? 0), "\(thread.xsave.count)", blocked]
            return Entry(key: "thread \(thread.tid)", cells: cells, fields: fields)
        }
        let items = (try? image.threads.map { try JSONValue.from($0) }) ?? []
        return Section(kind: registersKind, source: .bpf, unavailable: nil, elapsedNs: 0, items: items, entries: entries)
    }

    private static func pages(_ image: ProcessImage, pageSize: UInt64) -> Section {
        let entries = image.memory.map { area in
            let saved = area.runs.reduce(UInt64(0)) { $0 + $1.pages } * pageSize
            let path = area.area.path.ifEmpty("[anonymous]")
            let cells = [String(area.area.start, radix: 16), String(area.area.end, radix: 16), area.contents.rawValue,
                         Format.bytes(saved), path]
            let fields = [Field("start", Format.hex(area.area.start)), Field("end", Format.hex(area.area.end)),
                          Field("permissions", area.area.permissions), Field("contents", area.contents.rawValue),
                          Field("saved", Format.bytes(saved)), Field("runs", "\(area.runs.count)"), Field("path", path)]
            return Entry(key: "\(Format.hex(area.area.start))-\(Format.hex(area.area.end)) \(path)", cells: cells, fields: fields)
        }
        let items = (try? image.memory.map { try JSONValue.from($0) }) ?? []
        return Section(kind: pagesKind, source: .bpf, unavailable: nil, elapsedNs: 0, items: items, entries: entries)
    }

    private static func savedFiles(_ image: ProcessImage) -> Section {
        let fileEntries = image.files.map { file in
            let saved = file.runs.reduce(UInt64(0)) { $0 + $1.length }
            let cells = ["\(file.fd)", Format.bytes(file.size), Format.bytes(saved), "\(file.runs.count)", file.path]
            let fields = [Field("fd", "\(file.fd)"), Field("size", Format.bytes(file.size)), Field("saved", Format.bytes(saved)),
                          Field("extents", "\(file.runs.count)"), Field("inode", "\(file.inode)"), Field("path", file.path)]
            return Entry(key: "fd \(file.fd) \(file.path)", cells: cells, fields: fields)
        }
        let items = (try? image.files.map { try JSONValue.from($0) }) ?? []
        return Section(kind: savedFilesKind, source: .bpf, unavailable: nil, elapsedNs: 0, items: items, entries: fileEntries)
    }
}
