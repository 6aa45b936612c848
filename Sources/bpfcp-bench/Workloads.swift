import Foundation

/// Processes the benchmark owns: 1,000 sleepers, a holder of open fds and a
/// holder of memory areas. Each is killed by pid when the benchmark ends.
final class Workloads {
    private(set) var pids: [Int32] = []

    /// Starts `count` copies of /bin/sleep and returns once all exist.
    func spawnSleepers(_ count: Int) throws {
        for _ in 0..<count {
            _ = try spawn(["/bin/sleep", "100000"])
        }
    }

    /// Starts this binary in a holder mode (`--hold-fds N`, `--hold-maps N`)
    /// and waits for its READY line.
    func spawnHolder(_ arguments: [String]) throws -> Int32 {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw BenchError("pipe() failed: \(String(cString: strerror(errno)))") }
        let pid = try spawn([selfPath()] + arguments, stdout: fds[1])
        close(fds[1])
        defer { close(fds[0]) }

        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(fds[0], &byte, 1) == 1 && byte != 0x0A {
            line.append(byte)
        }
        guard String(decoding: line, as: UTF8.self) == "READY" else {
            throw BenchError("holder \(arguments.joined(separator: " ")) did not start: \(String(decoding: line, as: UTF8.self))")
        }
        return pid
    }

    /// Kills and reaps every process started here.
    func stopAll() {
        for pid in pids {
            kill(pid, SIGKILL)
        }
        for pid in pids {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        pids.removeAll()
    }

    deinit {
        stopAll()
    }

    private func spawn(_ argv: [String], stdout: Int32? = nil) throws -> Int32 {
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let stdout {
            posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        }

        var pid: Int32 = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
        guard rc == 0 else { throw BenchError("starting \(argv[0]) failed: \(String(cString: strerror(rc)))") }
        pids.append(pid)
        return pid
    }
}

/// Path of the running benchmark binary, for re-executing it as a holder.
func selfPath() -> String {
    ProcessInfo.processInfo.arguments[0].hasPrefix("/")
        ? ProcessInfo.processInfo.arguments[0]
        : (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ProcessInfo.processInfo.arguments[0]
}

/// The holder modes, run in a child process: set up state, print READY, wait.
enum Holder {
    /// Opens `count` fds, alternately /dev/null and one regular file.
    static func holdFds(_ count: Int) -> Never {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = min(limit.rlim_max, rlim_t(count + 64))
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)

        let file = "/tmp/bpfcp-bench-\(getpid())"
        let created = open(file, O_RDWR | O_CREAT, 0o600)
        unlink(file)
        var opened = 1
        while opened < count {
            let fd = opened % 2 == 0 ? open("/dev/null", O_RDONLY) : dup(created)
            if fd < 0 { fail("opening fd \(opened) failed: \(String(cString: strerror(errno)))") }
            opened += 1
        }
        ready()
    }

    /// Creates `count` anonymous areas: a run of pages whose protection
    /// alternates, so that no two neighbours merge, with every writable page
    /// touched, plus a 16 TiB PROT_NONE reservation.
    static func holdMaps(_ count: Int) -> Never {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let base = mmap(nil, count * page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), base != MAP_FAILED else {
            fail("mmap of \(count) pages failed")
        }
        for i in stride(from: 0, to: count, by: 2) {
            let pageAddress = base + i * page
            if mprotect(pageAddress, page, PROT_READ | PROT_WRITE) != 0 { fail("mprotect failed at area \(i)") }
            pageAddress.storeBytes(of: UInt8(1), as: UInt8.self)
        }
        let reservation = mmap(nil, 16 << 40, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        if reservation == MAP_FAILED { fail("16 TiB reservation failed") }
        ready()
    }

    private static func ready() -> Never {
        writeLine("READY")
        while true { pause() }
    }

    private static func fail(_ message: String) -> Never {
        writeLine("FAILED " + message)
        exit(1)
    }

    /// Writes straight to fd 1, unbuffered, because the parent waits for the line.
    private static func writeLine(_ text: String) {
        let bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
