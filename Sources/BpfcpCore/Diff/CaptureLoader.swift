/// Loads either side of a diff as a `Dump`.
public enum CaptureLoader {
    public static func load(_ ref: CaptureRef) throws -> Dump {
        switch ref {
        case .live(let pid):
            return try Dumper.dump(pid: pid)
        case .image(let path):
            throw BpfcpError("image_unsupported", "cannot read image \(Escape.text(path)) yet")
        }
    }
}
