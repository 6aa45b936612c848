import BpfcpCore
import Foundation

/// Command-line options of bpfcp-top. Parsed before any privilege check, so
/// that `--help` and usage errors work for every user.
public struct TopOptions: Equatable, Sendable {
    public static let version = "0.1.0"

    /// Refresh interval in tenths of a second, as htop's -d.
    public var delayTenths = 15
    public var readOnly = false
    public var startPid: Int32?
    public var user: String?
    public var filter = ""
    public var color = true
    public var demo = false
    public var showHelp = false
    public var showVersion = false

    public init() {}

    public static let usage = """
    usage: bpfcp-top [OPTIONS]

    An interactive process inspector: lists processes from eBPF iterators and
    shows a live dump of one process (threads, files, memory...) per tab.

    options:
      -d, --delay TENTHS  refresh the process list every TENTHS tenths of a second (default 15)
      -p, --pid PID       start on the dump of process PID
      -u, --user USER     list only the processes of USER (a name or a numeric uid)
      -F, --filter TEXT   start with the list filtered to commands containing TEXT
      -C, --no-color      draw without colors (also when NO_COLOR is set)
          --readonly      disable checkpoint (c), image writing (w) and restore (R)
          --demo          start a small demo workload and open its dump
      -h, --help          show this help
          --version       print the version

    eBPF needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE): run it with sudo.
    Without root, bpfcp-top reads /proc instead and says "source: /proc".
    Diagnostics go to the log file in $BPFCP_LOG (default /tmp/bpfcp-UID.log).
    """

    /// Parses `arguments` (without the program name). `environment` supplies NO_COLOR.
    public static func parse(_ arguments: [String], environment: [String: String] = [:]) throws -> TopOptions {
        var options = TopOptions()
        if let noColor = environment["NO_COLOR"], !noColor.isEmpty { options.color = false }

        var rest = arguments[...]
        while let argument = rest.popFirst() {
            let (name, inline) = splitInline(argument)
            func value() throws -> String {
                if let inline { return inline }
                guard let next = rest.popFirst() else { throw usageError("option \(name) needs a value") }
                return next
            }

            switch name {
            case "-d", "--delay": options.delayTenths = try parseDelay(try value())
            case "-p", "--pid": options.startPid = try parsePid(try value())
            case "-u", "--user": options.user = try value()
            case "-F", "--filter": options.filter = try value()
            case "-C", "--no-color": options.color = false
            case "--readonly": options.readOnly = true
            case "--demo": options.demo = true
            case "-h", "--help": options.showHelp = true
            case "--version", "-V": options.showVersion = true
            default: throw usageError("unknown option '\(Escape.text(argument))'")
            }
        }

        if options.demo, options.startPid != nil {
            throw usageError("--demo and --pid both pick the starting process: give only one")
        }
        return options
    }

    /// Splits "--delay=5" into ("--delay", "5"); short options never take an inline value.
    private static func splitInline(_ argument: String) -> (String, String?) {
        guard argument.hasPrefix("--"), let eq = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<eq]), String(argument[argument.index(after: eq)...]))
    }

    private static func parseDelay(_ text: String) throws -> Int {
        guard let tenths = Int(text), tenths >= 1, tenths <= 36000 else {
            throw usageError("invalid delay '\(Escape.text(text))': give tenths of a second from 1 to 36000")
        }
        return tenths
    }

    private static func parsePid(_ text: String) throws -> Int32 {
        guard let pid = Int32(text), pid > 0 else { throw BpfcpError.invalidPid(text) }
        return pid
    }

    private static func usageError(_ message: String) -> BpfcpError {
        BpfcpError("usage", message + "; run `bpfcp-top --help` for the options")
    }
}

/// Looks a user up by name or numeric uid.
public enum UserNames {
    public static func uid(of user: String) throws -> UInt32 {
        if let uid = UInt32(user) { return uid }
        guard let entry = getpwnam(user) else {
            throw BpfcpError("unknown_user", "user '\(Escape.text(user))' not found: give a name from /etc/passwd or a numeric uid")
        }
        return entry.pointee.pw_uid
    }

    /// Returns the login name of `uid`, or the number when it has none.
    public static func name(of uid: UInt32) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "\(uid)" }
        return Escape.bytes(Array(String(cString: name).utf8))
    }
}
