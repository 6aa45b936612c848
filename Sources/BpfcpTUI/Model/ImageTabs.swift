import BpfcpCore
import Foundation

/// Tabs of the sections only checkpoints have (registers, saved memory and
/// saved files), shown for captures and opened images. Rows and fields are
/// those that `bpfcp show` prints. An expanded Saved memory row also lists
/// its page count and every saved page run.
enum ImageTabs {
    static func tabs(_ dump: Dump) -> [DetailTab] {
        CheckpointView.imageOnlyKinds.compactMap { kind in
            guard let section = dump.section(kind), let layout = CheckpointView.layout(kind) else { return nil }
            return DetailTab(title: layout.title, columns: layout.columns, entries: entries(section),
                             unavailable: section.unavailable, section: section)
        }
    }

    static func entries(_ section: Section) -> [Entry] {
        guard section.kind == CheckpointView.pagesKind, section.items.count == section.entries.count,
              let areas = try? section.items.map({ try $0.decode(as: MemoryAreaImage.self) }) else {
            return section.entries
        }
        return zip(section.entries, areas).map { entry, area in
            Entry(key: entry.key, cells: entry.cells, fields: entry.fields + runFields(area))
        }
    }

    /// Lists "pages: 3", then "run 1: 0x7f0000001000, 2 pages at offset 0x5000 of pages.img"
    /// per run. These fields stay out of the section itself, so that a diff
    /// does not report every run whose place in pages.img moved.
    static func runFields(_ area: MemoryAreaImage) -> [Field] {
        let pages = area.runs.reduce(UInt64(0)) { $0 + $1.pages }
        var fields = [Field("pages", "\(pages)")]
        for (index, run) in area.runs.enumerated() {
            let count = run.pages == 1 ? "1 page" : "\(run.pages) pages"
            fields.append(Field("run \(index + 1)", "\(Format.hex(run.address)), \(count) at offset \(Format.hex(run.offset)) of pages.img"))
        }
        return fields
    }
}
