import BpfcpCore
import Foundation

/// A finished piece of background work, applied to the state by the main loop.
enum WorkerResult: Sendable {
    /// A process-list read. `fallback` contains the eBPF error when /proc was read instead.
    case processes(Result<[ProcessEntry], BpfcpError>, source: CollectorSource, sampleNs: UInt64, readNs: UInt64, fallback: String?)
    case dump(pid: Int32, Result<Dump, BpfcpError>)
    case comparison(pid: Int32, Result<(proc: Dump, bpf: Dump), BpfcpError>)
    case capture(CaptureResult)
}

/// Runs collection off the UI thread, so the screen never freezes on the
/// first BPF load, a slow dump or the /proc comparison. The list refresh
/// and the jobs have a queue each, so a long job does not delay the list.
final class Worker: @unchecked Sendable {
    private let lock = NSLock()
    private var finished: [WorkerResult] = []
    private let listQueue = DispatchQueue(label: "bpfcp-top.list")
    let jobQueue = DispatchQueue(label: "bpfcp-top.jobs")

    /// Takes every result posted since the last call.
    func drain() -> [WorkerResult] {
        lock.lock()
        defer { lock.unlock() }
        let results = finished
        finished = []
        return results
    }

    func post(_ result: WorkerResult) {
        lock.lock()
        finished.append(result)
        lock.unlock()
    }

    /// Loads every embedded BPF object before the first job runs, so that
    /// dump timings measure reads and the header can show the load times apart.
    func preload() {
        jobQueue.async {
            for name in BPFRuntime.embeddedObjects {
                do {
                    _ = try BPFRuntime.shared.object(name)
                } catch {
                    Log.shared.write("bpfcp-top: loading BPF object \(name) failed: \(error)")
                }
            }
        }
    }

    /// Reads the process list from `source`, falling back to /proc when eBPF cannot load.
    func refresh(source: CollectorSource) {
        listQueue.async { [self] in
            let start = Clock.now()
            do {
                let list = source == .bpf ? try ProcessListCache.shared.collect() : try ProcessListProc.collect()
                let end = Clock.now()
                post(.processes(.success(list), source: source, sampleNs: end, readNs: end - start, fallback: nil))
            } catch let error as BpfcpError where source == .bpf && error.code == "bpf_unavailable" {
                Log.shared.write("bpfcp-top: eBPF failed, reading /proc: \(error.message)")
                let procStart = Clock.now()
                let list = Result { try ProcessListProc.collect() }.mapError(Worker.oneLine)
                let end = Clock.now()
                post(.processes(list, source: .proc, sampleNs: end, readNs: end - procStart, fallback: error.message))
            } catch {
                post(.processes(.failure(Worker.oneLine(error)), source: source, sampleNs: Clock.now(), readNs: 0, fallback: nil))
            }
        }
    }

    func run(_ job: JobRequest, source: CollectorSource) {
        jobQueue.async { [self] in
            switch job {
            case .dump(let pid):
                let result = Result { try Dumper.dump(pid: pid, source: source) }.mapError(Worker.oneLine)
                post(.dump(pid: pid, result))
            case .compare(let pid):
                // eBPF first: its objects are loaded by now, so the two times compare reads, not loads.
                let result = Result { () throws -> (proc: Dump, bpf: Dump) in
                    let bpf = try Dumper.dump(pid: pid, source: .bpf)
                    let proc = try Dumper.dump(pid: pid, source: .proc)
                    return (proc, bpf)
                }.mapError(Worker.oneLine)
                post(.comparison(pid: pid, result))
            }
        }
    }

    static func oneLine(_ error: Error) -> BpfcpError {
        (error as? BpfcpError) ?? BpfcpError("internal", "\(error)")
    }
}
