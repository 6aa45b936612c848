import CBpfcpShim
import Foundation

/// Puts the saved pages into the new process.
///
/// Private anonymous areas (heap, stack, anonymous memory: nearly every
/// saved page) are filled with userfaultfd: the process creates a uffd for
/// its own address space, restore takes a copy with pidfd_getfd, registers
/// the areas and places the page runs with UFFDIO_COPY from its mapping of
/// pages.img, in slices spread over one thread per core. Each page is allocated already holding its bytes, so the
/// kernel copies once, skips zeroing it, and takes no page fault for it.
/// Writing through process_vm_writev instead costs a fault, a zeroed page
/// and the copy.
///
/// Everything else (file-backed private areas such as a library's data,
/// shared areas), and any page the copy could not place, is written with
/// `Tracee.write` after the areas are unregistered: a write into a
/// registered area that misses a page would wait for restore itself.
struct PageLoader {
    let plan: RestorePlan
    let injector: Injector
    let fds: FdTable

    private var tracee: Tracee { injector.tracee }

    /// Areas whose pages UFFDIO_COPY can place.
    static func copyable(_ area: AreaPlan) -> Bool {
        !area.shared && area.backing == .anonymous && !area.runs.isEmpty
    }

    func run() throws {
        var files: [String: MappedFile] = [:]
        var writes: [(PageRunPlan, done: Int)] = []
        let copyable = plan.areas.filter(Self.copyable)
        let uffd = copyable.isEmpty ? nil : try openUffd()

        if let uffd {
            defer { close(uffd) }
            var registered: [AreaPlan] = []
            defer { for area in registered { _ = bpfcp_uffd_unregister(uffd, area.start, area.size) } }
            var runs: [PageRunPlan] = []
            for area in copyable {
                let rc = bpfcp_uffd_register(uffd, area.start, area.size)
                guard rc == 0 else {
                    injector.log?("UFFDIO_REGISTER \(Format.hex(area.start))-\(Format.hex(area.end)): \(String(cString: strerror(-rc))), written instead")
                    writes += area.runs.map { ($0, 0) }
                    continue
                }
                registered.append(area)
                runs += area.runs
            }
            writes += try copy(runs, uffd: uffd, files: &files)
        }

        for area in plan.areas where !Self.copyable(area) || uffd == nil {
            writes += area.runs.map { ($0, 0) }
        }
        for (run, done) in writes {
            let source = try bytes(of: run, files: &files)
            try tracee.write(UnsafeRawBufferPointer(rebasing: source[done...]), at: run.address + UInt64(done))
        }
    }

    /// Bytes of one UFFDIO_COPY slice. Slices of this size spread the
    /// pages evenly over the copying threads.
    static let sliceBytes = 4 << 20

    /// Places `runs` with UFFDIO_COPY from up to four threads, one per
    /// core, each taking every Nth slice. The copies into one address space
    /// run in parallel, because UFFDIO_COPY takes the mmap lock only for reading.
    /// Returns each slice the copy did not fill whole, with the bytes it did place.
    private func copy(_ runs: [PageRunPlan], uffd: Int32, files: inout [String: MappedFile]) throws -> [(PageRunPlan, done: Int)] {
        var slices: [PageRunPlan] = []
        var copies: [CopySlice] = []
        for run in runs {
            let source = try bytes(of: run, files: &files)
            for start in stride(from: 0, to: run.count, by: Self.sliceBytes) {
                let count = min(Self.sliceBytes, run.count - start)
                slices.append(PageRunPlan(address: run.address + UInt64(start), count: count, file: run.file, offset: run.offset + UInt64(start)))
                copies.append(CopySlice(destination: run.address + UInt64(start), source: UInt(bitPattern: source.baseAddress! + start), count: count))
            }
        }
        let workers = max(1, min(4, ProcessInfo.processInfo.activeProcessorCount, copies.count))
        let copied = CopyResults(count: copies.count)
        let plannedCopies = copies
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in stride(from: worker, to: plannedCopies.count, by: workers) {
                let slice = plannedCopies[index]
                var error: Int32 = 0
                copied.counts[index] = Int(bpfcp_uffd_copy(uffd, slice.destination, UnsafeRawPointer(bitPattern: slice.source), UInt64(slice.count), &error))
            }
        }
        return slices.indices.filter { copied.counts[$0] < slices[$0].count }.map { (slices[$0], done: copied.counts[$0]) }
    }

    /// The bytes of `run` in the mapped page file, checked against its length.
    private func bytes(of run: PageRunPlan, files: inout [String: MappedFile]) throws -> UnsafeRawBufferPointer {
        if files[run.file] == nil { files[run.file] = try MappedFile(path: run.file, populate: true) }
        let file = files[run.file]!
        guard run.offset + UInt64(run.count) <= UInt64(file.size) else {
            throw BpfcpError("image_corrupt", "\(Escape.text(run.file)) is too short for the \(run.count) bytes at offset \(run.offset) saved for \(Format.hex(run.address)); \(ImageError.damaged)")
        }
        return UnsafeRawBufferPointer(start: file.base + Int(run.offset), count: run.count)
    }

    /// Makes the process create a userfaultfd and takes a copy of it.
    /// Returns nil when either step fails (a kernel without userfaultfd, a
    /// seccomp filter), and the pages are then written.
    private func openUffd() throws -> Int32? {
        let remote = fds.allocate()
        defer { fds.release(remote) }
        do {
            try injector.call(SyscallNumber.userfaultfd, [.int(Int(O_CLOEXEC | O_NONBLOCK))],
                              text: "userfaultfd(O_CLOEXEC|O_NONBLOCK)", expected: Int64(remote))
        } catch {
            injector.log?("no userfaultfd (\(error)): the pages are written instead")
            return nil
        }
        let local = bpfcp_uffd_take(tracee.pid, remote)
        try injector.call(SyscallNumber.close, [.int(Int(remote))], text: "close(\(remote)) /* restore holds a copy of the userfaultfd */")
        guard local >= 0 else {
            injector.log?("pidfd_getfd of the userfaultfd: \(String(cString: strerror(-local))), the pages are written instead")
            return nil
        }
        return local
    }
}

/// One UFFDIO_COPY of a slice: its address in the process, the address of
/// its bytes in restore's mapping of the page file, and its length.
private struct CopySlice: Sendable {
    let destination: UInt64
    let source: UInt
    let count: Int
}

/// Bytes each slice's UFFDIO_COPY placed. Each slot is written by one thread only.
private final class CopyResults: @unchecked Sendable {
    let counts: UnsafeMutableBufferPointer<Int>

    init(count: Int) {
        counts = .allocate(capacity: count)
        counts.initialize(repeating: 0)
    }

    deinit {
        counts.deallocate()
    }
}
