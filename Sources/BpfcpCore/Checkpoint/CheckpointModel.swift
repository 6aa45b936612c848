import Foundation

/// A consistent capture of one process, or of a process family with
/// `--tree`: kernel state, registers and memory taken while every thread
/// was held. Kernel state lives in memory; page contents stay on disk in
/// `pages`, so a checkpoint of any size costs little memory.
public struct Checkpoint: Sendable {
    public var info: CheckpointInfo
    public var processes: [ProcessImage] {
        didSet { encodedSections = [:] }
    }
    public var pages: PageStore
    /// Hash of every page in `pages`; nil for images of format 1, which have none.
    public var pageHashes: PageHashes? = nil
    /// Format version of the image this checkpoint was read from; the
    /// current version for a capture that was not read from an image.
    public var formatVersion: UInt32 = ImageFormat.version
    /// Section payloads that the capture already encoded, by section name
    /// ("process-PID"), which the image writer uses as they are. Emptied by
    /// any change to `processes`.
    var encodedSections: [String: [UInt8]] = [:]

    public func process(_ pid: Int32) -> ProcessImage? {
        processes.first { $0.pid == pid }
    }
}

/// Image-wide facts, stored in the manifest.
public struct CheckpointInfo: Codable, Sendable, Equatable {
    public var rootPid: Int32
    /// Whether the descendants of `rootPid` were captured too.
    public var tree: Bool
    /// Wall-clock time of the capture, seconds since the epoch.
    public var takenAt: Double
    /// Version of the bpfcp that wrote the image.
    public var toolVersion: String
    public var kernelRelease: String
    public var pageSize: UInt64
    public var stats: CaptureStats
}

/// Timings and sizes of one capture, like CRIU's dump statistics.
public struct CaptureStats: Codable, Sendable, Equatable {
    /// From the first thread held to the last one released, in nanoseconds.
    public var frozenNs: UInt64
    /// From the start of the capture (BPF objects already loaded) to the
    /// image written and synced, in nanoseconds.
    public var totalNs: UInt64
    /// Part of `totalNs` spent waiting for fsync of the image files and
    /// directories. The pages sync partly overlaps encoding the other
    /// sections, and only the wait counts. Nil in images written before it was recorded.
    public var syncNs: UInt64?
    /// Time spent reading memory while held plus writing it out after release.
    public var memoryNs: UInt64
    /// Time spent in the resource-kind collectors.
    public var kindsNs: UInt64
    public var pagesWritten: UInt64
    /// Pages found but not stored because another captured process already stored them.
    public var pagesShared: UInt64
    public var threads: Int
    /// Source of the private pages: "snapshot" (a copy-on-write copy, read
    /// after the release), "held" (the held target), or "mixed" for a family
    /// where only some members had a copy. Nil in images written before snapshots.
    public var memorySource: String?
    /// Reason, process by process, that private pages were read while held. Nil when none were.
    public var snapshotFallback: String?
    /// Time one thread of a target was held a second time, after the
    /// release, to reap its snapshot copy (summed over processes); nil without snapshots.
    public var reapNs: UInt64?
    /// Writer of the snapshot copies' private pages to the pages file:
    /// "copy" (each copy wrote its own with injected pwrite64), "bpfcp"
    /// (bpfcp read them through /proc/PID/mem and wrote them), or "mixed".
    /// Nil without snapshot copies.
    public var pageWriter: String?
    /// Reason, process by process, that bpfcp read pages of a copy. Nil when it read none.
    public var pageWriterFallback: String?
    /// Time of each step, which add up to at most `totalNs`. In an image
    /// they end where `totalNs` does, before the manifest is written. Nil in
    /// images written before they were recorded.
    public var phases: CapturePhases?

    public init() {
        frozenNs = 0
        totalNs = 0
        memoryNs = 0
        kindsNs = 0
        pagesWritten = 0
        pagesShared = 0
        threads = 0
    }
}

/// Everything captured about one process.
public struct ProcessImage: Sendable, Equatable {
    public var pid: Int32
    /// The process as listed before it was held, so its state is the
    /// target's own (running, sleeping, stopped) and not "tracing stop".
    public var process: ProcessEntry
    /// Stop signal when the process was in a group stop (SIGSTOP, SIGTSTP...)
    /// before the capture; it is left stopped afterwards.
    public var stopSignal: String?
    /// Kernel state of every resource kind, collected while held.
    public var sections: [Section]
    public var threads: [ThreadState]
    public var memory: [MemoryAreaImage]
    /// Contents of open memfd and deleted tmpfs files, which exist nowhere else.
    public var files: [SavedFile] = []
    /// Bytes queued in its pipes, FIFOs and unix sockets, read without consuming them.
    public var queues: [QueuedData] = []
}

/// The saved contents of one file open in the process, by fd.
public struct SavedFile: Codable, Sendable, Equatable {
    public var fd: Int32
    /// The fd's link text (escaped), e.g. "/memfd:name (deleted)".
    public var path: String
    public var device: UInt64
    public var inode: UInt64
    public var size: UInt64
    /// Data extents; holes between them read as zeros.
    public var runs: [FileRun]
}

/// `length` bytes at `fileOffset` of a saved file, stored at byte `offset`
/// of the pages payload. Each run starts page-aligned in the payload.
public struct FileRun: Codable, Sendable, Equatable {
    public var fileOffset: UInt64
    public var length: UInt64
    public var offset: UInt64
}

/// Registers and signal state of one held thread.
public struct ThreadState: Codable, Sendable, Equatable {
    public var tid: Int32
    /// General-purpose registers by their user_regs_struct names ("rip",
    /// "rsp", "fs_base"...), as PTRACE_GETREGS returned them.
    public var registers: [String: UInt64]
    /// Blocked signals (PTRACE_GETSIGMASK); bit N-1 is signal N.
    public var sigmask: UInt64
    /// The XSAVE area (x87, SSE, AVX and the other enabled components), from
    /// PTRACE_GETREGSET NT_X86_XSTATE. Stored as base64 in JSON.
    public var xsave: Data
    /// Address of the thread's registered struct rseq (PTRACE_GET_RSEQ_CONFIGURATION);
    /// nil when it has none or the kernel did not report one.
    public var rseqArea: UInt64? = nil
}

/// How the contents of a memory area are kept.
public enum AreaContents: String, Codable, Sendable {
    /// Present and swapped pages of private anonymous memory, and the
    /// written (copied-on-write) pages of private file mappings, stored in pages.img.
    case privatePages = "private_pages"
    /// Shared anonymous, memfd, tmpfs or SysV memory: pages stored once per
    /// (device, inode, page offset) however many captured processes map them.
    case sharedPages = "shared_pages"
    /// A shared mapping of an ordinary file: the file holds the data.
    case file
    /// [vdso], [vvar], [vvar_vclock] and [vsyscall], which the kernel provides.
    case kernel
}

/// One memory area and where its saved pages are.
public struct MemoryAreaImage: Codable, Sendable, Equatable {
    public var area: MemoryArea
    public var contents: AreaContents
    public var runs: [PageRun]
}

/// Consecutive saved pages: `pages` pages starting at virtual address
/// `address`, stored back to back at byte `offset` of the pages section payload.
public struct PageRun: Codable, Sendable, Equatable {
    public var address: UInt64
    public var pages: UInt64
    public var offset: UInt64
}

/// Where the page contents of a checkpoint are: a pages section file,
/// either inside an image or in a temporary directory owned by the checkpoint.
public final class PageStore: Sendable {
    public let path: String
    /// Removed when the store is released; nil for a store inside an image.
    let temporaryDirectory: String?

    init(path: String, temporaryDirectory: String?) {
        self.path = path
        self.temporaryDirectory = temporaryDirectory
    }

    deinit {
        if let temporaryDirectory { try? FileManager.default.removeItem(atPath: temporaryDirectory) }
    }

    /// Reads `count` bytes at payload offset `offset`.
    public func read(offset: UInt64, count: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BpfcpError.system("opening \(Escape.text(path))", errno) }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let at = off_t(UInt64(ImageFormat.headerSize) + offset + UInt64(done))
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, at) }
            guard n > 0 else {
                let error = ImageError.section("pages", "is truncated at offset \(offset + UInt64(done))")
                throw ImageError.located(error, in: CheckpointImage.parentDirectory(of: path))
            }
            done += n
        }
        return bytes
    }

    /// Reads the saved page at virtual address `address` of `image`, or nil when it was not saved.
    public func page(at address: UInt64, in image: ProcessImage, pageSize: UInt64) throws -> [UInt8]? {
        for area in image.memory {
            for run in area.runs where address >= run.address && address < run.address + run.pages * pageSize {
                return try read(offset: run.offset + (address - run.address), count: Int(pageSize))
            }
        }
        return nil
    }
}
