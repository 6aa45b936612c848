/// Checks on decoded sections that checksums cannot give: a section can be
/// intact and still describe pages outside pages.img.
enum ImageValidation {
    static func checkRuns(_ memory: MemoryPayload, pagesLength: UInt64, pageSize: UInt64, section: String) throws {
        guard pageSize >= 4096, pageSize <= 1 << 30, pageSize & (pageSize - 1) == 0, memory.pageSize == pageSize else {
            throw ImageError.section(section, "has an invalid page size \(memory.pageSize)")
        }
        for area in memory.areas {
            let a = area.area
            guard a.start < a.end else {
                throw ImageError.section(section, "has an invalid memory area \(Format.hex(a.start))-\(Format.hex(a.end))")
            }
            for run in area.runs {
                try checkRun(run, area: a, pagesLength: pagesLength, pageSize: pageSize, section: section)
            }
        }
        for file in memory.files ?? [] {
            for run in file.runs {
                let (fileEnd, fileOverflow) = run.fileOffset.addingReportingOverflow(run.length)
                let (storeEnd, storeOverflow) = run.offset.addingReportingOverflow(run.length)
                guard !fileOverflow, !storeOverflow, fileEnd <= file.size, storeEnd <= pagesLength, run.offset % pageSize == 0 else {
                    throw ImageError.section(section, "has an invalid saved extent of fd \(file.fd) at file offset \(run.fileOffset)")
                }
            }
        }
    }

    private static func checkRun(_ run: PageRun, area: MemoryArea, pagesLength: UInt64, pageSize: UInt64, section: String) throws {
        let (bytes, overflow) = run.pages.multipliedReportingOverflow(by: pageSize)
        let (runEnd, endOverflow) = run.address.addingReportingOverflow(bytes)
        let (storeEnd, storeOverflow) = run.offset.addingReportingOverflow(bytes)
        guard !overflow, !endOverflow, run.pages > 0, run.address >= area.start, runEnd <= area.end else {
            throw ImageError.section(section, "has a page run at \(Format.hex(run.address)) outside its area \(Format.hex(area.start))-\(Format.hex(area.end))")
        }
        guard !storeOverflow, storeEnd <= pagesLength, run.offset % pageSize == 0 else {
            throw ImageError.section(section, "has a page run at \(Format.hex(run.address)) that points outside the pages section")
        }
    }

    /// One line for a JSON decoding failure: the path of the bad field and why.
    static func describe(_ error: DecodingError) -> String {
        let (context, what): (DecodingError.Context, String) = switch error {
        case .typeMismatch(_, let c): (c, "wrong type")
        case .valueNotFound(_, let c): (c, "missing value")
        case .keyNotFound(let key, let c): (c, "missing key \(key.stringValue)")
        case .dataCorrupted(let c): (c, "not valid JSON")
        @unknown default: (DecodingError.Context(codingPath: [], debugDescription: ""), "undecodable")
        }
        let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
        return path.isEmpty ? what : "\(what) at \(path)"
    }
}
