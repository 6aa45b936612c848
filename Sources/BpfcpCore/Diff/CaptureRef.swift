/// One side of a diff: a live process ("live:PID") or an image directory.
public enum CaptureRef: Sendable, Equatable, CustomStringConvertible {
    case live(Int32)
    case image(String)

    /// Parses "live:PID" or a directory path.
    public init(parsing text: String) throws {
        if text.hasPrefix("live:") {
            let number = String(text.dropFirst(5))
            guard let pid = Int32(number), pid > 0 else { throw BpfcpError.invalidPid(number) }
            self = .live(pid)
        } else {
            self = .image(text)
        }
    }

    public var description: String {
        switch self {
        case .live(let pid): "live:\(pid)"
        case .image(let path): Escape.text(path)
        }
    }
}
