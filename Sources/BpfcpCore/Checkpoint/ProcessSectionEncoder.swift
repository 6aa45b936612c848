/// Encodes the process section of an image one kind section at a time, so
/// that a capture encodes the sections built early while it waits for the
/// rest. The payload has the bytes that `CheckpointImage.encode` writes for
/// `ProcessPayload`: its members in sorted key order, and no "stop_signal"
/// when there is none.
struct ProcessSectionEncoder: Sendable {
    let pid: Int32
    let process: ProcessEntry
    let stopSignal: String?

    func encode(_ section: Section) throws -> [UInt8] {
        try JSONBytesEncoder.encode(section)
    }

    /// Returns the payload whose sections are `sections`, each encoded by `encode(_:)`, in kind order.
    func payload(_ sections: [[UInt8]]) throws -> [UInt8] {
        var bytes = Array("{\"pid\":\(pid),\"process\":".utf8)
        bytes += try JSONBytesEncoder.encode(process)
        bytes += Array(",\"sections\":[".utf8)
        for (index, section) in sections.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes += section
        }
        bytes.append(UInt8(ascii: "]"))
        if let stopSignal {
            bytes += Array(",\"stop_signal\":".utf8)
            bytes += try JSONBytesEncoder.encode(stopSignal)
        }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}
