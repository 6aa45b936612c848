import CBpfcpShim

/// The pages of one process that a capture saved, or that a live process
/// has present, each with its content hash, by virtual address.
public struct PageSnapshot: Sendable {
    public var areas: [MemoryArea]
    /// Content hash by page address.
    public var hashes: [UInt64: UInt64]
    /// Addresses of the threads' registered struct rseq, where known.
    public var rseqAreas: [UInt64]
    /// Reads the contents of the page at an address again, for the pages that hold an rseq area.
    public var readPage: @Sendable (UInt64) -> [UInt8]?

    public init(areas: [MemoryArea], hashes: [UInt64: UInt64], rseqAreas: [UInt64] = [],
                readPage: @escaping @Sendable (UInt64) -> [UInt8]? = { _ in nil }) {
        self.areas = areas.sorted { $0.start < $1.start }
        self.hashes = hashes
        self.rseqAreas = rseqAreas
        self.readPage = readPage
    }

    /// Takes the saved pages of `image`, hashed by `pageHashes` of its checkpoint, whose pages are in `store`.
    public init(image: ProcessImage, pageHashes: PageHashes, store: PageStore) {
        var hashes: [UInt64: UInt64] = [:]
        let pageSize = pageHashes.pageSize
        for area in image.memory {
            for run in area.runs {
                for page in 0..<run.pages {
                    let address = run.address + page * pageSize
                    hashes[address] = pageHashes.hash(atPayloadOffset: run.offset + page * pageSize)
                }
            }
        }
        self.init(areas: image.memory.map(\.area), hashes: hashes, rseqAreas: image.threads.compactMap(\.rseqArea)) { address in
            try? store.page(at: address, in: image, pageSize: pageSize)
        }
    }

    /// Finds the area that contains `address` by binary search.
    func area(containing address: UInt64) -> MemoryArea? {
        var low = 0
        var high = areas.count
        while low < high {
            let middle = (low + high) / 2
            if areas[middle].end <= address {
                low = middle + 1
            } else {
                high = middle
            }
        }
        guard low < areas.count, areas[low].start <= address else { return nil }
        return areas[low]
    }
}

/// Pages whose contents differ in one memory area, or in all areas with one path.
public struct AreaPageChange: Codable, Sendable, Equatable {
    /// The path ("[heap]", "[stack]", a file), or "START [anonymous]" for an unnamed area.
    public let area: String
    public let changedPages: Int
}

/// The result of comparing two captures page by page.
public struct PageComparison: Codable, Sendable, Equatable {
    public let changedPages: Int
    /// Areas with changed pages, most changed first.
    public let areas: [AreaPageChange]

    /// "37 pages changed in [heap], 2 in [stack]", or nil when no page changed.
    public var sentence: String? {
        guard let first = areas.first else { return nil }
        let rest = areas.dropFirst().map { "\($0.changedPages) in \($0.area)" }
        let noun = first.changedPages == 1 ? "page" : "pages"
        return (["\(first.changedPages) \(noun) changed in \(first.area)"] + rest).joined(separator: ", ")
    }
}

public enum PageDiff {
    /// Compares the pages at each address that lies in a memory area on both
    /// sides. A page counts as changed when its hash differs, or when only
    /// one side saved it (a page never touched reads as zeros). Pages of
    /// areas that only one side has are left to the memory kind's diff,
    /// which reports the area as added or removed.
    ///
    /// The kernel rewrites the CPU fields of each thread's struct rseq
    /// whenever the thread resumes, which a capture makes every thread do,
    /// so pages holding an rseq area are compared without those fields.
    public static func compare(_ before: PageSnapshot, _ after: PageSnapshot) -> PageComparison {
        let pageSize = Checkpointer.pageSize()
        var rseqOffsets: [UInt64: [UInt64]] = [:]
        for area in Set(before.rseqAreas + after.rseqAreas) {
            rseqOffsets[area & ~(pageSize - 1), default: []].append(area & (pageSize - 1))
        }

        var counts: [String: (first: UInt64, pages: Int)] = [:]
        for address in Set(before.hashes.keys).union(after.hashes.keys) {
            guard before.hashes[address] != after.hashes[address],
                  !sameWithoutRseq(address, offsets: rseqOffsets[address], before, after),
                  before.area(containing: address) != nil,
                  let area = after.area(containing: address) else { continue }
            let label = area.path.isEmpty ? "\(Format.hex(area.start)) [anonymous]" : area.path
            let known = counts[label]
            counts[label] = (min(known?.first ?? area.start, area.start), (known?.pages ?? 0) + 1)
        }
        let ordered = counts.sorted { a, b in
            a.value.pages != b.value.pages ? a.value.pages > b.value.pages : a.value.first < b.value.first
        }
        let areas = ordered.map { AreaPageChange(area: $0.key, changedPages: $0.value.pages) }
        return PageComparison(changedPages: areas.reduce(0) { $0 + $1.changedPages }, areas: areas)
    }

    /// Returns whether the page at `address` is the same on both sides once the kernel-written rseq fields are cleared.
    private static func sameWithoutRseq(_ address: UInt64, offsets: [UInt64]?, _ before: PageSnapshot, _ after: PageSnapshot) -> Bool {
        guard let offsets, var a = before.readPage(address), var b = after.readPage(address), a.count == b.count else { return false }
        for offset in offsets {
            a.withUnsafeMutableBytes { bpfcp_clear_rseq_fields($0.baseAddress, $0.count, Int(offset)) }
            b.withUnsafeMutableBytes { bpfcp_clear_rseq_fields($0.baseAddress, $0.count, Int(offset)) }
        }
        return a == b
    }
}

extension Differ {
    /// Compares two loaded captures: the resource kinds as `diff(_:_:...)`
    /// does, and, when the memory kind is compared, the pages by content
    /// hash. Against a live process, the sections only images have are left
    /// out and one line of `notCompared` states that.
    public static func diff(_ a: LoadedCapture, _ b: LoadedCapture, kinds: [String]? = nil,
                            showUnchanged: Bool = false) -> DumpDiff {
        var names = kinds ?? orderedKinds(a.dump, b.dump)
        var notCompared: [String] = []
        if let live = [a, b].first(where: \.isLive) {
            let imageOnly = CheckpointView.imageOnlyKinds
            if names.contains(where: imageOnly.contains), !(a.isLive && b.isLive) {
                notCompared.append("registers, saved memory and saved files are not compared: \(live.label) is a live process, for which they are not captured")
            }
            names.removeAll(where: imageOnly.contains)
        }

        var result = diff(a.dump, b.dump, beforeLabel: a.label, afterLabel: b.label, kinds: names, showUnchanged: showUnchanged)
        guard names.contains(MemoryKind.name) else { return result.with(notCompared: notCompared) }
        guard let before = a.pages, let after = b.pages else {
            let reason = a.pagesMissing ?? b.pagesMissing ?? "page hashes are missing"
            return result.with(notCompared: notCompared + ["page contents are not compared: \(reason)"])
        }
        let pages = PageDiff.compare(before, after)
        result.pageChanges = pages
        if let sentence = pages.sentence, let index = result.kinds.firstIndex(where: { $0.kind == MemoryKind.name }) {
            result.kinds[index] = result.kinds[index].adding(pages: pages, sentence: sentence)
        }
        return result.with(notCompared: notCompared)
    }
}
