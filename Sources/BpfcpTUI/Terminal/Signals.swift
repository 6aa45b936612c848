import CNcursesw
import Foundation

/// The termination signal received (SIGTERM, SIGHUP, SIGINT, SIGQUIT), or 0.
/// Written by the handler and read by the main loop every tick.
nonisolated(unsafe) private var receivedSignal: Int32 = 0

/// Signal handling that keeps the terminal usable on every way out.
enum Signals {
    static let termination = [SIGTERM, SIGHUP, SIGINT, SIGQUIT]
    /// Crashes, including Swift runtime traps (SIGILL and SIGTRAP on x86_64).
    static let fatal = [SIGSEGV, SIGBUS, SIGILL, SIGABRT, SIGFPE, SIGTRAP]

    /// Termination signals only set a flag, so the main loop stops cleanly
    /// (restores the terminal, stops the demo). Fatal signals restore the
    /// terminal at once and re-raise, so the process still dies of them.
    static func install() {
        for sig in termination {
            signal(sig) { received in receivedSignal = received }
        }
        for sig in fatal {
            signal(sig) { received in
                endwin()
                signal(received, SIG_DFL)
                raise(received)
            }
        }
        signal(SIGPIPE, SIG_IGN)
    }

    /// The termination signal received since start, or nil.
    static var pending: Int32? {
        receivedSignal == 0 ? nil : receivedSignal
    }
}
