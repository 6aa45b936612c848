import Foundation

/// The vm_area_struct flags that only madvise(2) sets, such as the
/// VM_NOHUGEPAGE that glibc gives thread stacks. Besides their own effect,
/// they keep an area apart from a neighbour that lacks them, as in the original.
enum MemoryAdvice {
    /// Each flag with the MADV_* value that sets it (include/uapi/asm-generic/mman-common.h).
    static let advice: [(flag: String, value: Int32, name: String)] = [
        ("VM_RAND_READ", 1, "MADV_RANDOM"), ("VM_SEQ_READ", 2, "MADV_SEQUENTIAL"), ("VM_DONTCOPY", 10, "MADV_DONTFORK"),
        ("VM_HUGEPAGE", 14, "MADV_HUGEPAGE"), ("VM_NOHUGEPAGE", 15, "MADV_NOHUGEPAGE"), ("VM_DONTDUMP", 16, "MADV_DONTDUMP"),
        ("VM_WIPEONFORK", 18, "MADV_WIPEONFORK"),
    ]

    /// Returns the MADV_* values that give an area the flags it had.
    static func values(_ flags: [String]?) -> [Int32] {
        guard let flags else { return [] }
        return advice.filter { flags.contains($0.flag) }.map(\.value)
    }

    /// Queues one madvise per advice of every mapped area.
    static func apply(_ areas: [AreaPlan], injector: Injector) throws {
        for area in areas where !area.advice.isEmpty {
            if case .kernel = area.backing { continue }
            for value in area.advice {
                let name = advice.first { $0.value == value }?.name ?? "\(value)"
                try injector.queue(SyscallNumber.madvise, [.value(area.start), .value(area.size), .int(Int(value))],
                                   text: "madvise(\(Format.hex(area.start)), \(area.size), \(name))")
            }
        }
        try injector.flush()
    }
}
