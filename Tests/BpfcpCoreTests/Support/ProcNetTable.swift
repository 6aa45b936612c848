@testable import BpfcpCore
import Foundation

/// Parses /proc/PID/net/{tcp,tcp6,udp,udp6,unix}, the text tables the sockets
/// tests use as a second oracle beside sock_diag.
enum ProcNetTable {
    struct InetRow {
        var localPort: UInt16
        var state: Int
        var txQueue: UInt32
        var rxQueue: UInt32
    }

    struct UnixRow {
        /// Path as the kernel prints it, with "@" for the NUL bytes of abstract names.
        var path: String
        /// St column SS_CONNECTED (3).
        var connected: Bool
    }

    /// Rows keyed by inode. Columns: sl local rem st tx:rx tr:when retrnsmt uid timeout inode.
    static func load(_ path: String) throws -> [UInt64: InetRow] {
        var rows: [UInt64: InetRow] = [:]
        for line in try ProcFS.readText(path).split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ")
            guard f.count >= 10, let inode = UInt64(f[9]) else { continue }
            let port = f[1].split(separator: ":").last.flatMap { UInt16($0, radix: 16) } ?? 0
            let queues = f[4].split(separator: ":").map { UInt32($0, radix: 16) ?? 0 }
            rows[inode] = InetRow(localPort: port, state: Int(f[3], radix: 16) ?? -1,
                                  txQueue: queues.first ?? 0, rxQueue: queues.last ?? 0)
        }
        return rows
    }

    /// Rows keyed by inode. Columns: Num RefCount Protocol Flags Type St Inode [Path].
    static func loadUnix(_ path: String) throws -> [UInt64: UnixRow] {
        var rows: [UInt64: UnixRow] = [:]
        for line in try ProcFS.readText(path).split(separator: "\n").dropFirst() {
            let f = line.split(separator: " ", maxSplits: 7)
            guard f.count >= 7, let inode = UInt64(f[6]) else { continue }
            rows[inode] = UnixRow(path: f.count > 7 ? String(f[7]) : "", connected: f[5] == "03")
        }
        return rows
    }
}
