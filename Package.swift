// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "bpfcp",
    targets: [
        // libbpf from Debian's libbpf-dev, linked with libelf and zlib.
        .systemLibrary(name: "CLibbpf", path: "Sources/CLibbpf"),

        // ncursesw from Debian's libncursesw5-dev. pkgConfig stays off because SwiftPM rejects its -D flags.
        .systemLibrary(name: "CNcursesw", path: "Sources/CNcursesw"),

        // C shim: embedded BPF objects, the iterator reader, the shared record header and wrappers for variadic calls.
        .target(
            name: "CBpfcpShim",
            dependencies: ["CLibbpf"],
            path: "Sources/CBpfcpShim",
            cSettings: [.unsafeFlags(["-Wno-unused-function"])],
            linkerSettings: [.linkedLibrary("bpf"), .linkedLibrary("elf"), .linkedLibrary("z")]
        ),

        // Collection, model, image, diff and restore. Never imports curses.
        .target(name: "BpfcpCore", dependencies: ["CBpfcpShim"], path: "Sources/BpfcpCore"),

        // The ncurses front end of bpfcp-top.
        .target(name: "BpfcpTUI", dependencies: ["BpfcpCore", "CNcursesw", "CBpfcpDemo"], path: "Sources/BpfcpTUI"),

        .executableTarget(name: "bpfcp", dependencies: ["BpfcpCore"], path: "Sources/bpfcp"),
        // The --demo workload, in C because it forks; linked into bpfcp-top.
        .target(name: "CBpfcpDemo", path: "Sources/CBpfcpDemo"),

        .executableTarget(name: "bpfcp-top", dependencies: ["BpfcpTUI", "BpfcpCore", "CBpfcpDemo"], path: "Sources/bpfcp-top"),
        // Benchmark of the eBPF collectors against /proc; run through `make bench`.
        .executableTarget(name: "bpfcp-bench", dependencies: ["BpfcpCore"], path: "Sources/bpfcp-bench"),

        // Fixture processes shared by both test targets. It imports XCTest, so only test targets may depend on it.
        .target(name: "BpfcpTestSupport", path: "Tests/BpfcpTestSupport"),
        .testTarget(name: "BpfcpCoreTests", dependencies: ["BpfcpCore", "CBpfcpShim", "BpfcpTestSupport"], path: "Tests/BpfcpCoreTests"),
        .testTarget(name: "BpfcpTUITests", dependencies: ["BpfcpTUI", "BpfcpCore", "CBpfcpDemo", "BpfcpTestSupport"],
                    path: "Tests/BpfcpTUITests"),
    ]
)
