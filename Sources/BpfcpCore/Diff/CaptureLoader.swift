/// Loads either side of a diff as a `Dump`.
public enum CaptureLoader {
    public static func load(_ ref: CaptureRef) throws -> Dump {
        switch ref {
        case .live(let pid):
            return try Dumper.dump(pid: pid)
        case .image(let path):
            let checkpoint = try CheckpointImage.open(path)
            guard let root = checkpoint.process(checkpoint.info.rootPid) else {
                throw ImageError.section("manifest", "does not list the root process \(checkpoint.info.rootPid)")
            }
            return CheckpointView.dump(root, info: checkpoint.info)
        }
    }
}
