import Foundation

/// Names the state components an XSAVE area contains, from the XSTATE_BV
/// bitmap of its header.
enum XsaveSummary {
    /// XSTATE_BV is the first 8 bytes of the XSAVE header, which follows the 512-byte legacy area.
    private static let headerOffset = 512

    /// Component names by XSTATE_BV bit, numbered as the kernel's `enum xfeature` (BTF of Linux 6.18).
    private static let names: [Int: String] = [
        0: "x87", 1: "SSE", 2: "AVX", 3: "MPX BNDREGS", 4: "MPX BNDCSR", 5: "AVX-512 opmask",
        6: "AVX-512 ZMM_Hi256", 7: "AVX-512 Hi16_ZMM", 8: "PT", 9: "PKRU", 10: "PASID",
        11: "CET user", 12: "CET kernel", 15: "LBR", 17: "AMX TILECFG", 18: "AMX TILEDATA", 19: "APX",
    ]

    /// Formats XSTATE_BV in hex with the components whose bit is set, as
    /// "0x207: x87, SSE, AVX, PKRU". A component whose bit is clear is in its
    /// initial state, so its bytes in the area are not used.
    static func components(_ xsave: Data) -> String {
        guard xsave.count >= headerOffset + 8 else { return "none (the area has no XSAVE header)" }
        let bitmap = xsave.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: headerOffset, as: UInt64.self) }
        let set = (0..<64).filter { bitmap & (1 << UInt64($0)) != 0 }
        let listed = set.map { names[$0] ?? "bit \($0)" }.joined(separator: ", ")
        return Format.hex(bitmap) + ": " + listed.ifEmpty("all in initial state")
    }
}
