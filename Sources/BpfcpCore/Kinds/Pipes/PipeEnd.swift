/// One fd that refers to a pipe or a FIFO.
public struct PipeEnd: Codable, Sendable, Equatable {
    public var fd: Int32
    /// "pipe" for pipe(2), "fifo" for a named pipe.
    public var type: String
    /// Identity shared by both ends in every process: "pipe:[INODE]", or "fifo:[MAJOR:MINOR:INODE]".
    public var identity: String
    /// "read", "write" or "read-write" (a FIFO opened O_RDWR).
    public var end: String
    /// Buffer capacity in bytes, as F_GETPIPE_SZ reports it.
    public var capacity: UInt64
    /// Bytes written and not yet read.
    public var queued: UInt64
    /// Open file descriptions of the read and write ends over all processes (fds
    /// shared through fork or dup count once). Nil when the source cannot tell.
    public var readers: UInt32?
    public var writers: UInt32?
    public var device: String
    public var inode: UInt64
    /// Path of a FIFO (escaped), empty for pipes.
    public var path: String
    public var flags: [String]

    static func identity(type: String, device: String, inode: UInt64) -> String {
        type == "pipe" ? "pipe:[\(inode)]" : "fifo:[\(device):\(inode)]"
    }

    static func end(readable: Bool, writable: Bool) -> String {
        switch (readable, writable) {
        case (true, true): "read-write"
        case (true, false): "read"
        case (false, true): "write"
        default: "none"
        }
    }
}
