import Foundation

/// Encodes an Encodable value into exactly the bytes that `JSONCoding.encoder`
/// (Foundation's JSONEncoder with sorted keys, snake_case keys and unescaped
/// slashes) writes for it, several times faster. Images are written with it,
/// and `JSONBytesEncoderTests` compares both encoders on captured sections.
///
/// Each value is written into one `JSONByteBuffer` as soon as its
/// `encode(to:)` returns, and its parent keeps only the byte range. An
/// object is assembled once all its members are known, in key order, and
/// moved down over the parts it was made of. Sections with their rendered
/// entries and `JSONValue` items, which are most of a process section, are
/// written directly without the Encoder protocol (JSONBytesSections.swift).
///
/// Rules kept from JSONEncoder:
/// - keys of a `[String: X]` dictionary stay as they are, not snake_case.
///   Such a dictionary is recognised by the coding key type it encodes
///   with, so no dynamic cast to a protocol is needed: in a short-lived
///   process each first cast of a type scans the conformance tables;
/// - `Data` is base64, `URL` its absolute string, `Decimal` its description;
/// - a value that encodes nothing is `{}`, and a key encoded twice keeps the last value;
/// - NaN and infinities are rejected.
///
/// NOTE: the keys of `[Int: X]` and other CodingKeyRepresentable-keyed
/// dictionaries are left unconverted too, as newer swift-foundation versions
/// do; older ones converted them. No image type has such a dictionary.
enum JSONBytesEncoder {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let writer = JSONBytesWriter()
        guard let slot = try writer.encodeValue(value, parent: nil, key: nil) else {
            throw EncodingError.invalidValue(value, EncodingError.Context(codingPath: [], debugDescription: "Top-level \(T.self) did not encode any values."))
        }
        let range = writer.render(slot)
        return writer.buffer.bytes(range)
    }
}

/// A member of an object or array: written bytes, or a container still open.
enum JSONSlot {
    case written(Range<Int>)
    case object(JSONObjectBox)
    case array(JSONArrayBox)
    /// The value of an encoder handed out by `superEncoder()`, read when the parent is written.
    case encoder(JSONBytesValueEncoder)
}

final class JSONObjectBox {
    var members: [(key: JSONKey, slot: JSONSlot)] = []
}

final class JSONArrayBox {
    var elements: [JSONSlot] = []
}

/// The state shared by one encode: the buffer and the caches.
final class JSONBytesWriter {
    let buffer = JSONByteBuffer()
    private var convertedKeys: [String: JSONKey] = [:]
    private var plainKeys: [String: JSONKey] = [:]
    private var dictionaryKeyTypes: [ObjectIdentifier: Bool] = [:]

    /// Returns the key for a coded property, in snake_case.
    func convertedKey(_ name: String) -> JSONKey {
        if let key = convertedKeys[name] { return key }
        let key = JSONKey(SnakeCase.convert(name))
        convertedKeys[name] = key
        return key
    }

    /// Returns the key for a dictionary entry, as it is.
    func plainKey(_ name: String) -> JSONKey {
        if let key = plainKeys[name] { return key }
        let key = JSONKey(name)
        plainKeys[name] = key
        return key
    }

    /// Returns whether `type` is Swift's internal _DictionaryCodingKey, with
    /// which a dictionary encodes its keys. The result is cached per type,
    /// because the name is built anew each time. `_typeName` is used, not
    /// String(describing:), which looks up protocol conformances of the
    /// type, and in a fresh process each lookup scans the conformance tables.
    func isDictionaryKey<Key: CodingKey>(_ type: Key.Type) -> Bool {
        if let known = dictionaryKeyTypes[ObjectIdentifier(type)] { return known }
        let result = _typeName(type, qualified: false).hasPrefix("_DictionaryCodingKey")
        dictionaryKeyTypes[ObjectIdentifier(type)] = result
        return result
    }

    /// Encodes `value` into the buffer. Returns nil when it encoded nothing.
    func encodeValue<T: Encodable>(_ value: T, parent: JSONBytesValueEncoder?, key: CodingKey?) throws -> JSONSlot? {
        let start = buffer.count
        // The type checks compare metadata pointers, so the casts below are of a value to its own type.
        if T.self == JSONValue.self {
            try writeJSONValue(unsafeBitCast(value, to: JSONValue.self))
        } else if T.self == [JSONValue].self {
            try writeJSONArray(unsafeBitCast(value, to: [JSONValue].self))
        } else if T.self == [Section].self {
            try writeSections(unsafeBitCast(value, to: [Section].self))
        } else if T.self == Section.self {
            try writeSection(unsafeBitCast(value, to: Section.self))
        } else if T.self == [Entry].self {
            writeEntries(unsafeBitCast(value, to: [Entry].self))
        } else if T.self == Entry.self {
            writeEntry(unsafeBitCast(value, to: Entry.self))
        } else if T.self == Field.self {
            writeField(unsafeBitCast(value, to: Field.self))
        } else if T.self == String.self {
            buffer.appendString(unsafeBitCast(value, to: String.self))
        } else if T.self == [String].self {
            writeStrings(unsafeBitCast(value, to: [String].self))
        } else if T.self == Int.self {
            buffer.appendInteger(unsafeBitCast(value, to: Int.self))
        } else if T.self == Int32.self {
            buffer.appendInteger(unsafeBitCast(value, to: Int32.self))
        } else if T.self == UInt64.self {
            buffer.appendInteger(unsafeBitCast(value, to: UInt64.self))
        } else if T.self == Data.self {
            buffer.appendString(unsafeBitCast(value, to: Data.self).base64EncodedString())
        } else if T.self == URL.self {
            buffer.appendString(unsafeBitCast(value, to: URL.self).absoluteString)
        } else if T.self == Decimal.self {
            buffer.appendRaw(unsafeBitCast(value, to: Decimal.self).description)
        } else {
            let encoder = JSONBytesValueEncoder(writer: self, parent: parent, key: key)
            try value.encode(to: encoder)
            return encoder.finish(from: start)
        }
        return .written(start..<buffer.count)
    }

    /// Writes the open containers of `slot` and returns where its bytes are.
    func render(_ slot: JSONSlot) -> Range<Int> {
        if case .written(let range) = slot { return range }
        let start = buffer.count
        write(slot)
        return start..<buffer.count
    }

    /// Writes an object box, or an array box, that `encode(to:)` filled, and
    /// moves it down to `start`, where its parts began.
    func finish(_ slot: JSONSlot, from start: Int) -> JSONSlot {
        if case .written = slot { return slot }
        return .written(buffer.compact(render(slot), to: start))
    }

    private func write(_ slot: JSONSlot) {
        switch slot {
        case .written(let range):
            buffer.appendCopy(of: range)
        case .array(let box):
            buffer.append(UInt8(ascii: "["))
            for (index, element) in box.elements.enumerated() {
                if index > 0 { buffer.append(UInt8(ascii: ",")) }
                write(element)
            }
            buffer.append(UInt8(ascii: "]"))
        case .object(let box):
            writeObject(box)
        case .encoder(let encoder):
            write(encoder.content ?? .object(JSONObjectBox()))
        }
    }

    private func writeObject(_ box: JSONObjectBox) {
        let members = box.members
        // Sorted by key, and among equal keys by position, so the last one written wins.
        let order = members.indices.sorted { a, b in
            if members[a].key === members[b].key { return a < b }
            return members[a].key.precedes(members[b].key)
        }
        buffer.append(UInt8(ascii: "{"))
        var first = true
        for (position, index) in order.enumerated() {
            if position + 1 < order.count, members[order[position + 1]].key.utf8 == members[index].key.utf8 { continue }
            if !first { buffer.append(UInt8(ascii: ",")) }
            first = false
            buffer.append(members[index].key.written)
            write(members[index].slot)
        }
        buffer.append(UInt8(ascii: "}"))
    }

    func writeDouble(_ number: Double, codingPath: [CodingKey] = []) throws {
        guard number.isFinite else { throw nonConforming(number, codingPath) }
        buffer.appendFloatingPoint(number.description)
    }

    func writeFloat(_ number: Float, codingPath: [CodingKey] = []) throws {
        guard number.isFinite else { throw nonConforming(number, codingPath) }
        buffer.appendFloatingPoint(number.description)
    }

    private func nonConforming<F: FloatingPoint>(_ number: F, _ codingPath: [CodingKey]) -> EncodingError {
        EncodingError.invalidValue(number, EncodingError.Context(codingPath: codingPath, debugDescription: "Unable to encode \(F.self).\(number) directly in JSON."))
    }
}

/// A coding key made from a string or an index, for coding paths.
struct JSONStringKey: CodingKey {
    var stringValue: String
    var intValue: Int?

    init(_ name: String) {
        stringValue = name
        intValue = nil
    }

    init(index: Int) {
        stringValue = "Index \(index)"
        intValue = index
    }

    init?(stringValue: String) { self.init(stringValue) }
    init?(intValue: Int) { self.init(index: intValue) }
}
