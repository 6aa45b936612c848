import Foundation

/// Loads the BPF objects that verification dumps the restored process
/// with, on a thread of its own, while restore rebuilds the process.
///
/// Loading an object (its BTF and the kernel's verification of its
/// programs) costs far more than the iterator runs of the dump, and the
/// dump loads them one after another. The thread loads them in the reverse
/// of that order, so that once verification starts, it and this thread load
/// from both ends. A failed load is kept by `BPFRuntime` and reported when
/// verification uses the object, as without the preload.
///
/// NOTE: the thread competes with the restore for the cores, so restore_ms
/// with verification is higher than with `--no-verify`, while the whole
/// command is shorter. A lower scheduling priority for the thread until
/// verification starts has not been tried yet.
enum VerifyPreload {
    /// The objects that a dump of every kind loads for a process without
    /// sockets, epoll, notify or memfd fds (kinds that load theirs only
    /// for such fds), last used first. A name missing here is loaded by
    /// verification itself, so the list affects only the time.
    static let objects = ["procctx", "ns", "cred", "io_uring", "signal", "vmapages", "vma", "fdtable", "task"]

    static func start() {
        let thread = Thread {
            for name in objects {
                _ = try? BPFRuntime.shared.object(name)
            }
        }
        thread.name = "bpfcp-preload"
        thread.start()
    }
}
