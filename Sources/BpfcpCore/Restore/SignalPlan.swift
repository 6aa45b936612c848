import Foundation

/// Signal actions of an image, as restore installs them.
enum SignalPlan {
    static let saRestorer: UInt64 = 0x0400_0000

    /// The non-default actions, with the flags, masks and restorer addresses decoded.
    static func actions(_ image: ProcessImage, areas: [AreaPlan], pages: PageReader) throws -> [ActionPlan] {
        var finder = RestorerFinder(areas: areas, pages: pages)
        return try image.items("signals", as: SignalAction.self).compactMap { action in
            guard action.number != SIGKILL, action.number != SIGSTOP else { return nil }
            let handler: UInt64
            switch action.disposition {
            case .default:
                // A SIG_DFL action set with sigaction() keeps its flags and mask (a shell's SA_RESTORER).
                guard !(action.flags ?? []).isEmpty || !(action.handlerMask ?? []).isEmpty else { return nil }
                handler = 0
            case .ignore: handler = 1
            case .handler:
                guard let text = action.handler, let address = parseHex(text) else {
                    throw ImagePlan.reject(image.pid, "the image has no handler address for \(action.signal)")
                }
                handler = address
            }
            let flags = flagValue(action.flags ?? [])
            let mask = (action.handlerMask ?? []).reduce(UInt64(0)) { mask, name in
                guard let n = SignalName.number(name) else { return mask }
                return mask | (UInt64(1) << UInt64(n - 1))
            }
            var restorer = action.restorer.flatMap(parseHex) ?? 0
            if flags & saRestorer != 0 && restorer == 0 {
                guard let found = finder.find() else {
                    throw ImagePlan.reject(image.pid, "the image has no sa_restorer for the \(action.signal) handler, and no __restore_rt code was found in its memory")
                }
                restorer = found
            }
            return ActionPlan(signal: action.number, handler: handler, flags: flags, restorer: restorer, mask: mask)
        }
    }

    /// SA_* bits of flag names as `SignalNames.actionFlagNames` writes them.
    static func flagValue(_ names: [String]) -> UInt64 {
        var value: UInt64 = 0
        for bit in 0..<64 {
            let single = UInt64(1) << UInt64(bit)
            if let name = SignalNames.actionFlagNames(single).first, names.contains(name) { value |= single }
        }
        for name in names where name.hasPrefix("0x") {
            value |= parseHex(name) ?? 0
        }
        return value
    }

    static func parseHex(_ text: String) -> UInt64? {
        guard text.hasPrefix("0x") else { return nil }
        return UInt64(text.dropFirst(2), radix: 16)
    }
}

/// Finds glibc's __restore_rt (mov $15, %rax; syscall) in the executable
/// file mappings of an image, for images that did not store sa_restorer.
struct RestorerFinder {
    let areas: [AreaPlan]
    let pages: PageReader
    private var cached: UInt64??

    init(areas: [AreaPlan], pages: PageReader) {
        self.areas = areas
        self.pages = pages
    }

    static let code: [UInt8] = [0x48, 0xC7, 0xC0, 0x0F, 0x00, 0x00, 0x00, 0x0F, 0x05]

    mutating func find() -> UInt64? {
        if let cached { return cached }
        var found: UInt64?
        for area in areas where area.prot & MemoryRestore.protExec != 0 {
            guard case .file(let path, let offset) = area.backing, let file = try? pages.file(path) else { continue }
            let start = Int(offset)
            let end = min(file.size, start + Int(area.size))
            guard start < end else { continue }
            let bytes = UnsafeRawBufferPointer(start: file.base + start, count: end - start)
            if let index = Self.search(bytes) {
                found = area.start + UInt64(index)
                break
            }
        }
        cached = .some(found)
        return found
    }

    private static func search(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard bytes.count >= code.count else { return nil }
        for i in 0...(bytes.count - code.count) where bytes[i] == 0x48 {
            if (1..<code.count).allSatisfy({ bytes[i + $0] == code[$0] }) { return i }
        }
        return nil
    }
}
