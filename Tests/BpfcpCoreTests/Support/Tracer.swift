import CBpfcpShim
import Foundation

/// Ptrace of a set of threads for tests, through the C shim because ptrace()
/// is variadic. Every call must come from the thread that attached, so a
/// test uses one Tracer on its own thread and calls `detachAll()` before it ends.
final class Tracer {
    private(set) var attached: [Int32] = []

    private static func request(_ name: String) -> Int {
        Int(bpfcp_ptrace_request(name))
    }

    /// Attaches with PTRACE_SEIZE, which stops nothing by itself. A thread
    /// already in group stop is moved to a ptrace stop by the kernel.
    func seize(_ tid: Int32) throws {
        guard bpfcp_ptrace(Self.request("PTRACE_SEIZE"), tid, nil, nil) == 0 else {
            throw FixtureError("PTRACE_SEIZE of \(tid) failed: \(String(cString: strerror(errno)))")
        }
        attached.append(tid)
    }

    /// Stops a seized thread with PTRACE_INTERRUPT and waits for the stop.
    func interrupt(_ tid: Int32) throws {
        guard bpfcp_ptrace(Self.request("PTRACE_INTERRUPT"), tid, nil, nil) == 0 else {
            throw FixtureError("PTRACE_INTERRUPT of \(tid) failed: \(String(cString: strerror(errno)))")
        }
        var status: Int32 = 0
        guard waitpid(tid, &status, Int32(__WALL)) == tid, status & 0xFF == 0x7F else {
            throw FixtureError("thread \(tid) did not enter a ptrace stop (status \(status))")
        }
    }

    /// Returns the 27 fields of struct user_regs_struct from PTRACE_GETREGS.
    func registers(_ tid: Int32) throws -> [UInt64] {
        var regs = [UInt64](repeating: 0, count: 27)
        let rc = regs.withUnsafeMutableBytes { bpfcp_ptrace(Self.request("PTRACE_GETREGS"), tid, nil, $0.baseAddress) }
        guard rc == 0 else {
            throw FixtureError("PTRACE_GETREGS of \(tid) failed: \(String(cString: strerror(errno)))")
        }
        return regs
    }

    /// Detaches from every thread, leaving each as it was before the seize
    /// (still in group stop if the process was stopped).
    func detachAll() {
        for tid in attached {
            _ = bpfcp_ptrace(Self.request("PTRACE_DETACH"), tid, nil, nil)
        }
        attached.removeAll()
    }

    deinit {
        detachAll()
    }
}
