/// Reads the payload of a process section straight from its bytes. The
/// entries and fields, most of the payload, become `Entry` and `Field`
/// values without the dictionaries of a `JSONValue` tree. Only the items
/// and the process entry are parsed into trees.
///
/// It reads only the form the image writer produces: the known keys,
/// unescaped and at most once each, with values of the expected types. It
/// returns nil for anything else, invalid JSON included. The caller then
/// parses the payload and decodes it (see
/// `CheckpointImage.decodeProcessPayload`), which gives the same value or the error.
enum ProcessPayloadScanner {
    static func scan(_ payload: [UInt8]) -> ProcessPayload? {
        payload.withUnsafeBufferPointer { buffer in
            var reader = JSONReader(bytes: buffer)
            do {
                reader.skipWhitespace()
                let scanned = try reader.processPayload()
                reader.skipWhitespace()
                return reader.atEnd ? scanned : nil
            } catch {
                return nil
            }
        }
    }
}

/// Input outside the form that `ProcessPayloadScanner` reads.
private struct OutsideForm: Error {}

/// Object keys as their bytes in the payload.
private enum Keys {
    static let payload = ["pid", "process", "stop_signal", "sections"].map { Array($0.utf8) }
    static let section = ["kind", "source", "unavailable", "elapsed_ns", "items", "entries"].map { Array($0.utf8) }
    static let entry = ["key", "cells", "fields"].map { Array($0.utf8) }
    static let field = ["name", "value"].map { Array($0.utf8) }
}

private extension JSONReader {
    // The depths passed to `value(depth:)` are those at which `JSONParser`
    // reads the same values, so that both reject the same nesting.

    mutating func processPayload() throws -> ProcessPayload {
        var pid: Int32?
        var process: ProcessEntry?
        var stopSignal: String?
        var sections: [Section]?
        try object(keys: Keys.payload) { reader, key in
            switch key {
            case 0: pid = try reader.value(depth: 1).integer(Int32.self)
            case 1: process = try JSONValueDecoder.decode(ProcessEntry.self, from: try reader.value(depth: 1))
            case 2: stopSignal = try reader.optionalString(depth: 1)
            default: sections = try reader.array { try $0.section() }
            }
        }
        guard let pid, let process, let sections else { throw OutsideForm() }
        return ProcessPayload(pid: pid, process: process, stopSignal: stopSignal, sections: sections)
    }

    mutating func section() throws -> Section {
        var kind: String?
        var source: CollectorSource?
        var unavailable: String?
        var elapsedNs: UInt64?
        var items: [JSONValue]?
        var entries: [Entry]?
        try object(keys: Keys.section) { reader, key in
            switch key {
            case 0: kind = try reader.quotedString()
            case 1: source = CollectorSource(rawValue: try reader.quotedString())
            case 2: unavailable = try reader.optionalString(depth: 3)
            case 3: elapsedNs = try reader.value(depth: 3).integer(UInt64.self)
            case 4:
                guard case .array(let elements) = try reader.value(depth: 3) else { throw OutsideForm() }
                items = elements
            default: entries = try reader.array { try $0.entry() }
            }
        }
        guard let kind, let source, let elapsedNs, let items, let entries else { throw OutsideForm() }
        return Section(kind: kind, source: source, unavailable: unavailable, elapsedNs: elapsedNs, items: items, entries: entries)
    }

    mutating func entry() throws -> Entry {
        var key: String?
        var cells: [String]?
        var fields: [Field]?
        try object(keys: Keys.entry) { reader, member in
            switch member {
            case 0: key = try reader.quotedString()
            case 1: cells = try reader.array { try $0.quotedString() }
            default: fields = try reader.array { try $0.field() }
            }
        }
        guard let key, let cells, let fields else { throw OutsideForm() }
        return Entry(key: key, cells: cells, fields: fields)
    }

    mutating func field() throws -> Field {
        var name: String?
        var value: String?
        try object(keys: Keys.field) { reader, key in
            if key == 0 { name = try reader.quotedString() } else { value = try reader.quotedString() }
        }
        guard let name, let value else { throw OutsideForm() }
        return Field(name, value)
    }

    // MARK: structure

    /// Reads an object whose keys are all in `keys`, none twice, and
    /// calls `member` to read the value of each with the index of its key.
    mutating func object(keys: [[UInt8]], _ member: (inout JSONReader, Int) throws -> Void) throws {
        try expect(UInt8(ascii: "{"))
        var seen: UInt32 = 0
        if try peek() == UInt8(ascii: "}") {
            offset += 1
            return
        }
        while true {
            skipWhitespace()
            let index = try key(in: keys)
            guard seen & (1 << index) == 0 else { throw OutsideForm() }
            seen |= 1 << index
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            try member(&self, index)
            if try peek() == UInt8(ascii: ",") {
                offset += 1
                continue
            }
            try expect(UInt8(ascii: "}"))
            return
        }
    }

    mutating func array<T>(_ element: (inout JSONReader) throws -> T) throws -> [T] {
        try expect(UInt8(ascii: "["))
        var elements: [T] = []
        if try peek() == UInt8(ascii: "]") {
            offset += 1
            return elements
        }
        while true {
            skipWhitespace()
            elements.append(try element(&self))
            if try peek() == UInt8(ascii: ",") {
                offset += 1
                continue
            }
            try expect(UInt8(ascii: "]"))
            return elements
        }
    }

    /// Reads a key and returns its index in `keys`. An unknown or escaped key is outside the form.
    mutating func key(in keys: [[UInt8]]) throws -> Int {
        guard !atEnd, bytes[offset] == UInt8(ascii: "\"") else { throw OutsideForm() }
        let start = offset + 1
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\") {
            end += 1
        }
        guard end < bytes.count, bytes[end] == UInt8(ascii: "\"") else { throw OutsideForm() }
        let name = UnsafeBufferPointer(rebasing: bytes[start..<end])
        guard let index = keys.firstIndex(where: { $0.elementsEqual(name) }) else { throw OutsideForm() }
        offset = end + 1
        skipWhitespace()
        return index
    }

    /// Reads a string. `string()` expects its opening quote without checking for it.
    mutating func quotedString() throws -> String {
        guard try peek() == UInt8(ascii: "\"") else { throw OutsideForm() }
        return try string()
    }

    /// Reads a string or null, as `decodeIfPresent` reads an optional string.
    mutating func optionalString(depth: Int) throws -> String? {
        guard try peek() == UInt8(ascii: "\"") else {
            guard try value(depth: depth) == .null else { throw OutsideForm() }
            return nil
        }
        return try string()
    }

    /// Returns the next byte after any whitespace, without reading it.
    mutating func peek() throws -> UInt8 {
        skipWhitespace()
        guard !atEnd else { throw OutsideForm() }
        return bytes[offset]
    }

    mutating func expect(_ byte: UInt8) throws {
        guard try peek() == byte else { throw OutsideForm() }
        offset += 1
    }
}

private extension JSONValue {
    /// Converts the number to `I` when it fits exactly, as `JSONValueDecoder` converts it, and throws otherwise.
    func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        let converted: I? = switch self {
        case .int(let number): I(exactly: number)
        case .uint(let number): I(exactly: number)
        case .double(let number): I(exactly: number)
        default: nil
        }
        guard let converted else { throw OutsideForm() }
        return converted
    }
}
