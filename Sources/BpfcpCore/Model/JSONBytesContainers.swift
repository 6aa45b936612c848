import Foundation

/// The Encoder that `JSONBytesEncoder` hands to one value's `encode(to:)`.
/// Its containers write scalars straight into the shared buffer and keep
/// nested values as byte ranges until the value is finished.
final class JSONBytesValueEncoder: Encoder {
    let writer: JSONBytesWriter
    let parent: JSONBytesValueEncoder?
    let key: CodingKey?
    /// The encoded value (a scalar, an object or an array), nil until something is encoded.
    var content: JSONSlot?

    init(writer: JSONBytesWriter, parent: JSONBytesValueEncoder?, key: CodingKey?) {
        self.writer = writer
        self.parent = parent
        self.key = key
    }

    var codingPath: [CodingKey] {
        var path: [CodingKey] = []
        var node: JSONBytesValueEncoder? = self
        while let current = node {
            if let key = current.key { path.append(key) }
            node = current.parent
        }
        return path.reversed()
    }

    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        switch content {
        case .object(let box):
            return KeyedEncodingContainer(JSONBytesKeyedContainer<Key>(encoder: self, box: box))
        case nil:
            let box = JSONObjectBox()
            content = .object(box)
            return KeyedEncodingContainer(JSONBytesKeyedContainer<Key>(encoder: self, box: box))
        default:
            preconditionFailure("Attempt to push new keyed encoding container when already previously encoded at this path.")
        }
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        switch content {
        case .array(let box):
            return JSONBytesUnkeyedContainer(encoder: self, box: box)
        case nil:
            let box = JSONArrayBox()
            content = .array(box)
            return JSONBytesUnkeyedContainer(encoder: self, box: box)
        default:
            preconditionFailure("Attempt to push new unkeyed encoding container when already previously encoded at this path.")
        }
    }

    func singleValueContainer() -> SingleValueEncodingContainer {
        JSONBytesSingleValueContainer(encoder: self)
    }

    /// Returns the finished value, written from `start` on, or nil when nothing was encoded.
    func finish(from start: Int) -> JSONSlot? {
        guard let content else { return nil }
        return writer.finish(content, from: start)
    }

    /// Writes a scalar with `body` and returns its bytes.
    func scalar(_ body: (JSONByteBuffer) throws -> Void) rethrows -> JSONSlot {
        let start = writer.buffer.count
        try body(writer.buffer)
        return .written(start..<writer.buffer.count)
    }

    /// Encodes a nested value. One that encodes nothing is `{}`, as in JSONEncoder.
    func nested<T: Encodable>(_ value: T, key: CodingKey?) throws -> JSONSlot {
        try writer.encodeValue(value, parent: self, key: key) ?? .object(JSONObjectBox())
    }
}

struct JSONBytesKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: JSONBytesValueEncoder
    let box: JSONObjectBox
    /// Whether this container codes a dictionary's entries, whose keys JSONEncoder leaves as they are.
    private let codesDictionary: Bool

    init(encoder: JSONBytesValueEncoder, box: JSONObjectBox) {
        self.encoder = encoder
        self.box = box
        codesDictionary = encoder.writer.isDictionaryKey(Key.self)
    }

    var codingPath: [CodingKey] { encoder.codingPath }

    private func set(_ slot: JSONSlot, _ key: Key) {
        let name = key.stringValue
        box.members.append((codesDictionary ? encoder.writer.plainKey(name) : encoder.writer.convertedKey(name), slot))
    }

    private func setInteger<T: FixedWidthInteger>(_ value: T, _ key: Key) {
        set(encoder.scalar { $0.appendInteger(value) }, key)
    }

    mutating func encodeNil(forKey key: Key) throws { set(encoder.scalar { $0.append("null") }, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(encoder.scalar { $0.append(value ? "true" : "false") }, key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(encoder.scalar { $0.appendString(value) }, key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { setInteger(value, key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { setInteger(value, key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { setInteger(value, key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { setInteger(value, key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { setInteger(value, key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { setInteger(value, key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { setInteger(value, key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { setInteger(value, key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { setInteger(value, key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { setInteger(value, key) }

    mutating func encode(_ value: Double, forKey key: Key) throws {
        let path = codingPath + [key]
        set(try encoder.scalar { _ in try encoder.writer.writeDouble(value, codingPath: path) }, key)
    }

    mutating func encode(_ value: Float, forKey key: Key) throws {
        let path = codingPath + [key]
        set(try encoder.scalar { _ in try encoder.writer.writeFloat(value, codingPath: path) }, key)
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        set(try encoder.nested(value, key: key), key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = JSONBytesValueEncoder(writer: encoder.writer, parent: encoder, key: key)
        let container = nested.container(keyedBy: keyType)
        set(nested.content!, key)
        return container
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        let nested = JSONBytesValueEncoder(writer: encoder.writer, parent: encoder, key: key)
        let container = nested.unkeyedContainer()
        set(nested.content!, key)
        return container
    }

    mutating func superEncoder() -> Encoder {
        let nested = JSONBytesValueEncoder(writer: encoder.writer, parent: encoder, key: JSONStringKey("super"))
        box.members.append((encoder.writer.convertedKey("super"), .encoder(nested)))
        return nested
    }

    mutating func superEncoder(forKey key: Key) -> Encoder {
        let nested = JSONBytesValueEncoder(writer: encoder.writer, parent: encoder, key: key)
        set(.encoder(nested), key)
        return nested
    }
}

struct JSONBytesUnkeyedContainer: UnkeyedEncodingContainer {
    let encoder: JSONBytesValueEncoder
    let box: JSONArrayBox

    var codingPath: [CodingKey] { encoder.codingPath }
    var count: Int { box.elements.count }

    private func append(_ slot: JSONSlot) {
        box.elements.append(slot)
    }

    private func appendInteger<T: FixedWidthInteger>(_ value: T) {
        append(encoder.scalar { $0.appendInteger(value) })
    }

    mutating func encodeNil() throws { append(encoder.scalar { $0.append("null") }) }
    mutating func encode(_ value: Bool) throws { append(encoder.scalar { $0.append(value ? "true" : "false") }) }
    mutating func encode(_ value: String) throws { append(encoder.scalar { $0.appendString(value) }) }
    mutating func encode(_ value: Int) throws { appendInteger(value) }
    mutating func encode(_ value: Int8) throws { appendInteger(value) }
    mutating func encode(_ value: Int16) throws { appendInteger(value) }
    mutating func encode(_ value: Int32) throws { appendInteger(value) }
    mutating func encode(_ value: Int64) throws { appendInteger(value) }
    mutating func encode(_ value: UInt) throws { appendInteger(value) }
    mutating func encode(_ value: UInt8) throws { appendInteger(value) }
    mutating func encode(_ value: UInt16) throws { appendInteger(value) }
    mutating func encode(_ value: UInt32) throws { appendInteger(value) }
    mutating func encode(_ value: UInt64) throws { appendInteger(value) }

    mutating func encode(_ value: Double) throws {
        let path = codingPath + [JSONStringKey(index: count)]
        append(try encoder.scalar { _ in try encoder.writer.writeDouble(value, codingPath: path) })
    }

    mutating func encode(_ value: Float) throws {
        let path = codingPath + [JSONStringKey(index: count)]
        append(try encoder.scalar { _ in try encoder.writer.writeFloat(value, codingPath: path) })
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        append(try encoder.nested(value, key: JSONStringKey(index: count)))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = JSONBytesValueEncoder(writer: encoder.writer, parent: encoder, key: JSONStringKey(index: count))
        let container = nested.container(keyedBy: keyType)
        append(nested.content!)
        return container
    }

    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        let nested = JSONBytesValueEncoder(writer: encoder.writer, parent: encoder, key: JSONStringKey(index: count))
        let container = nested.unkeyedContainer()
        append(nested.content!)
        return container
    }

    mutating func superEncoder() -> Encoder {
        let nested = JSONBytesValueEncoder(writer: encoder.writer, parent: encoder, key: JSONStringKey(index: count))
        append(.encoder(nested))
        return nested
    }
}

struct JSONBytesSingleValueContainer: SingleValueEncodingContainer {
    let encoder: JSONBytesValueEncoder

    var codingPath: [CodingKey] { encoder.codingPath }

    private func set(_ slot: JSONSlot) {
        precondition(encoder.content == nil, "Attempt to encode value through single value container when previously value already encoded.")
        encoder.content = slot
    }

    private func setInteger<T: FixedWidthInteger>(_ value: T) {
        set(encoder.scalar { $0.appendInteger(value) })
    }

    mutating func encodeNil() throws { set(encoder.scalar { $0.append("null") }) }
    mutating func encode(_ value: Bool) throws { set(encoder.scalar { $0.append(value ? "true" : "false") }) }
    mutating func encode(_ value: String) throws { set(encoder.scalar { $0.appendString(value) }) }
    mutating func encode(_ value: Int) throws { setInteger(value) }
    mutating func encode(_ value: Int8) throws { setInteger(value) }
    mutating func encode(_ value: Int16) throws { setInteger(value) }
    mutating func encode(_ value: Int32) throws { setInteger(value) }
    mutating func encode(_ value: Int64) throws { setInteger(value) }
    mutating func encode(_ value: UInt) throws { setInteger(value) }
    mutating func encode(_ value: UInt8) throws { setInteger(value) }
    mutating func encode(_ value: UInt16) throws { setInteger(value) }
    mutating func encode(_ value: UInt32) throws { setInteger(value) }
    mutating func encode(_ value: UInt64) throws { setInteger(value) }

    mutating func encode(_ value: Double) throws {
        let path = codingPath
        set(try encoder.scalar { _ in try encoder.writer.writeDouble(value, codingPath: path) })
    }

    mutating func encode(_ value: Float) throws {
        let path = codingPath
        set(try encoder.scalar { _ in try encoder.writer.writeFloat(value, codingPath: path) })
    }

    /// JSONEncoder encodes the value with the same encoder, at the same coding path.
    mutating func encode<T: Encodable>(_ value: T) throws {
        precondition(encoder.content == nil, "Attempt to encode value through single value container when previously value already encoded.")
        encoder.content = try encoder.writer.encodeValue(value, parent: encoder.parent, key: encoder.key) ?? .object(JSONObjectBox())
    }
}
