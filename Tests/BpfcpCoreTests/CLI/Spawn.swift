import Foundation

/// A child process started with posix_spawn and reaped with waitpid, for
/// programs whose exit the tests must see reliably. Foundation's
/// Process.waitUntilExit() was seen to hang on a child that had already
/// exited (a zombie left unreaped), so these tests do not rely on it.
final class Spawned {
    let pid: pid_t
    private var reaped: (exitedNormally: Bool, status: Int32)?

    /// Starts `path` with `arguments` (argv[0] is added), stdin from
    /// /dev/null and stdout and stderr written to the files given.
    init(_ path: String, _ arguments: [String], stdout: String, stderr: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        // The child starts with no signal blocked, whatever the spawning thread blocks.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, path, &actions, &attributes, argv, environ)
        guard rc == 0 else { throw FixtureError("posix_spawn \(path) failed: \(String(cString: strerror(rc)))") }
        pid = child
    }

    deinit {
        if reaped == nil {
            kill(pid, SIGKILL)
            _ = try? wait(timeout: 10)
        }
    }

    /// Waits for the child to end and returns how it ended. Throws, after
    /// killing it, when it runs longer than `timeout` seconds.
    func wait(timeout: TimeInterval) throws -> (exitedNormally: Bool, status: Int32) {
        if let reaped { return reaped }
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while true {
            let rc = waitpid(pid, &status, WNOHANG)
            if rc == pid { break }
            if rc < 0 && errno != EINTR { throw FixtureError("waitpid \(pid) failed: \(String(cString: strerror(errno)))") }
            if Date() > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                reaped = (false, -1)
                throw FixtureError("process \(pid) did not finish within \(Int(timeout)) s")
            }
            usleep(5_000)
        }
        // WIFEXITED and WEXITSTATUS are macros that Swift does not import.
        let result = (status & 0x7F == 0, (status >> 8) & 0xFF)
        reaped = result
        return result
    }
}
