import Foundation

/// Derives the fields of PR_SET_MM_MAP from the saved memory itself: the
/// block execve() leaves at the top of the stack (argc, argv, envp, auxv)
/// gives start_stack, the argv and environment bounds and the auxv; the
/// executable's areas give the code and data bounds, and [heap] the brk.
enum InitialStack {
    static let atNull: UInt64 = 0, atPhdr: UInt64 = 3, atPageSize: UInt64 = 6, atMaxType: UInt64 = 51

    /// Returns the fields and the path of the executable, or nil when the
    /// saved stack does not hold the execve() block (then the mm fields are left alone).
    static func derive(areas: [AreaPlan], pages: PageReader) -> (MMFields, exe: String?)? {
        guard let stack = areas.last(where: { $0.growsDown }) else { return nil }
        let words = pages.words(of: stack)
        guard let block = findBlock(words, base: stack.start, stackEnd: stack.end) else { return nil }

        let phdr = block.auxv.enumerated().first { $0.offset % 2 == 0 && $0.element == atPhdr }.map { block.auxv[$0.offset + 1] }
        let exeArea = phdr.flatMap { address in areas.first { $0.start <= address && address < $0.end } }
        var exePath: String?
        if case .file(let path, _)? = exeArea?.backing { exePath = path }
        let exeAreas = areas.filter { area in
            if case .file(let path, _) = area.backing { return path == exePath }
            return false
        }
        let code = exeAreas.first { $0.prot & MemoryRestore.protExec != 0 }
        let data = exeAreas.last { $0.prot & MemoryRestore.protWrite != 0 }
        let heap = areas.first { $0.isHeap }
        let exeEnd = exeAreas.last?.end ?? stack.start

        let fields = MMFields(
            startCode: code?.start ?? exeAreas.first?.start ?? 0, endCode: code?.end ?? exeAreas.first?.end ?? 0,
            startData: data?.start ?? code?.end ?? 0, endData: data?.end ?? code?.end ?? 0,
            startBrk: heap?.start ?? exeEnd, brk: heap?.end ?? exeEnd,
            startStack: block.startStack, argStart: block.argStart, argEnd: block.argEnd,
            envStart: block.envStart, envEnd: block.envEnd, auxv: block.auxv)
        return (fields, exePath)
    }

    struct Block {
        var startStack: UInt64
        var argStart: UInt64, argEnd: UInt64
        var envStart: UInt64, envEnd: UInt64
        var auxv: [UInt64]
    }

    /// Finds the highest auxv in the stack (an AT_PAGESZ pair inside a run
    /// of valid AT_* pairs ending in AT_NULL), then walks down over envp and
    /// argv to argc, whose value equals the number of argv pointers below the NULL.
    static func findBlock(_ words: [UInt64], base: UInt64, stackEnd: UInt64) -> Block? {
        let inStack = { (v: UInt64) in v >= base && v < stackEnd }
        var i = words.count - 2
        while i > 2 {
            defer { i -= 1 }
            guard words[i] == atPageSize, words[i + 1] == 4096 else { continue }
            var start = i
            while start >= 2, words[start - 2] != atNull, words[start - 2] <= atMaxType { start -= 2 }
            var end = i
            while end + 1 < words.count, words[end] != atNull, words[end] <= atMaxType { end += 2 }
            guard end + 1 < words.count, words[end] == atNull, start >= 1, words[start - 1] == 0 else { continue }

            var cursor = start - 2
            var env: [UInt64] = []
            while cursor >= 0, words[cursor] != 0, inStack(words[cursor]) {
                env.append(words[cursor])
                cursor -= 1
            }
            guard cursor >= 0, words[cursor] == 0 else { continue }
            cursor -= 1
            var argv: [UInt64] = []
            while cursor >= 0, words[cursor] != UInt64(argv.count), inStack(words[cursor]) {
                argv.append(words[cursor])
                cursor -= 1
            }
            guard cursor >= 0, words[cursor] == UInt64(argv.count) else { continue }

            env.reverse()
            argv.reverse()
            let auxv = Array(words[start...(end + 1)])
            let stringsEnd = { (address: UInt64) -> UInt64 in stringEnd(words, base: base, from: address) }
            let argStart = argv.first ?? 0
            let argEnd = argv.last.map(stringsEnd) ?? argStart
            let envStart = env.first ?? argEnd
            let envEnd = env.last.map(stringsEnd) ?? envStart
            return Block(startStack: base + UInt64(cursor * 8), argStart: argStart, argEnd: argEnd,
                         envStart: envStart, envEnd: envEnd, auxv: auxv)
        }
        return nil
    }

    /// Address just past the NUL that ends the string at `address`.
    private static func stringEnd(_ words: [UInt64], base: UInt64, from address: UInt64) -> UInt64 {
        var at = address
        let limit = base + UInt64(words.count * 8)
        while at < limit {
            let word = words[Int((at - base) / 8)]
            let byte = UInt8(truncatingIfNeeded: word >> ((at % 8) * 8))
            at += 1
            if byte == 0 { return at }
        }
        return limit
    }
}

/// Reads saved page contents by virtual address, from the page files of a plan.
final class PageReader {
    private var files: [String: MappedFile] = [:]

    /// The saved contents of `area` as words; pages never saved read as zero.
    func words(of area: AreaPlan) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: Int(area.size / 8))
        for run in area.runs {
            guard let file = try? file(run.file), run.offset + UInt64(run.count) <= UInt64(file.size) else { continue }
            words.withUnsafeMutableBytes { buffer in
                let at = Int(run.address - area.start)
                let count = min(run.count, buffer.count - at)
                buffer.baseAddress!.advanced(by: at).copyMemory(from: file.base + Int(run.offset), byteCount: count)
            }
        }
        return words
    }

    func file(_ path: String) throws -> MappedFile {
        if let hit = files[path] { return hit }
        let file = try MappedFile(path: path)
        files[path] = file
        return file
    }
}
