import Foundation

/// Encodes an Encodable value straight into a `JSONValue` tree, with the
/// snake_case keys of `JSONCoding.encoder`. Going through JSONEncoder and
/// decoding the bytes back into `JSONValue` took seconds for 20,000 memory
/// areas, because JSONValue's decoder tries each type in turn.
enum JSONValueEncoder {
    static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        let root = JSONNode()
        try value.encode(to: NodeEncoder(node: root, keys: SnakeCaseKeys(), codingPath: []))
        return root.resolve()
    }
}

/// A value under construction. Containers write into nodes by reference, so
/// nested containers can be filled in any order, and children are appended
/// in place rather than copied.
private final class JSONNode {
    var value: JSONValue?
    var object: [String: JSONNode]?
    var array: [JSONNode]?

    func resolve() -> JSONValue {
        if let array { return .array(array.map { $0.resolve() }) }
        if let object { return .object(object.mapValues { $0.resolve() }) }
        return value ?? .object([:])
    }

    func child(forKey key: String) -> JSONNode {
        if let existing = object?[key] { return existing }
        let node = JSONNode()
        if object == nil { object = [:] }
        object![key] = node
        return node
    }

    func appendChild() -> JSONNode {
        let node = JSONNode()
        if array == nil { array = [] }
        array!.append(node)
        return node
    }
}

/// Converts camelCase keys as JSONEncoder's convertToSnakeCase does, and
/// remembers each conversion for the rest of one encode.
private final class SnakeCaseKeys {
    private var cache: [String: String] = [:]
    private var dictionaryKeyTypes: [ObjectIdentifier: Bool] = [:]

    /// Returns whether `type` is Swift's internal _DictionaryCodingKey, which
    /// codes the keys of a [String: X] dictionary. The result is cached per
    /// type, because the name is built anew each time. `_typeName` is used,
    /// not String(describing:), which looks up protocol conformances of the
    /// type: in a fresh process each lookup scans the conformance tables,
    /// about 3 ms per checkpoint.
    func isDictionaryKey<Key: CodingKey>(_ type: Key.Type) -> Bool {
        if let known = dictionaryKeyTypes[ObjectIdentifier(type)] { return known }
        let result = _typeName(type, qualified: false).hasPrefix("_DictionaryCodingKey")
        dictionaryKeyTypes[ObjectIdentifier(type)] = result
        return result
    }

    func convert(_ key: String) -> String {
        if let hit = cache[key] { return hit }
        let chars = Array(key)
        var out = ""
        for i in chars.indices {
            let c = chars[i]
            guard c.isUppercase else {
                out.append(c)
                continue
            }
            let afterLowerOrDigit = i > 0 && (chars[i - 1].isLowercase || chars[i - 1].isNumber)
            let endsCapitalRun = i > 0 && chars[i - 1].isUppercase && i + 1 < chars.count && chars[i + 1].isLowercase
            if afterLowerOrDigit || endsCapitalRun { out.append("_") }
            out += c.lowercased()
        }
        cache[key] = out
        return out
    }
}

/// Maps numbers the way decoding JSONEncoder output into JSONValue did:
/// integers that fit Int64 become `.int`, larger ones `.uint`, and doubles
/// with an integral value `.int`.
private func number<T: BinaryInteger>(_ v: T) -> JSONValue {
    if let signed = Int64(exactly: v) { return .int(signed) }
    return .uint(UInt64(v))
}

private func number(_ v: Double) -> JSONValue {
    if v.rounded() == v, let signed = Int64(exactly: v) { return .int(signed) }
    return .double(v)
}

private struct NodeEncoder: Encoder {
    let node: JSONNode
    let keys: SnakeCaseKeys
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if node.object == nil { node.object = [:] }
        return KeyedEncodingContainer(KeyedNodeContainer<Key>(node: node, keys: keys, codingPath: codingPath))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if node.array == nil { node.array = [] }
        return UnkeyedNodeContainer(node: node, keys: keys, codingPath: codingPath)
    }

    func singleValueContainer() -> SingleValueEncodingContainer {
        SingleNodeContainer(node: node, keys: keys, codingPath: codingPath)
    }
}

private struct KeyedNodeContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: JSONNode
    let keys: SnakeCaseKeys
    let codingPath: [CodingKey]

    /// JSONEncoder converts the keys of coded properties but leaves the keys
    /// of a [String: X] dictionary as they are, which Swift codes with its
    /// internal _DictionaryCodingKey type.
    private func name(_ key: Key) -> String {
        keys.isDictionaryKey(Key.self) ? key.stringValue : keys.convert(key.stringValue)
    }

    private func set(_ value: JSONValue, _ key: Key) {
        node.child(forKey: name(key)).value = value
    }

    mutating func encodeNil(forKey key: Key) throws { set(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { set(number(value), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { set(number(Double(value)), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(number(value), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(number(value), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(number(value), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(number(value), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(number(value), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { set(number(value), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(number(value), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(number(value), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(number(value), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(number(value), key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        let child = node.child(forKey: name(key))
        try value.encode(to: NodeEncoder(node: child, keys: keys, codingPath: codingPath + [key]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = node.child(forKey: name(key))
        return NodeEncoder(node: child, keys: keys, codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        let child = node.child(forKey: name(key))
        return NodeEncoder(node: child, keys: keys, codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> Encoder {
        NodeEncoder(node: node.child(forKey: "super"), keys: keys, codingPath: codingPath)
    }

    mutating func superEncoder(forKey key: Key) -> Encoder {
        NodeEncoder(node: node.child(forKey: name(key)), keys: keys, codingPath: codingPath + [key])
    }
}

private struct UnkeyedNodeContainer: UnkeyedEncodingContainer {
    let node: JSONNode
    let keys: SnakeCaseKeys
    let codingPath: [CodingKey]

    var count: Int { node.array?.count ?? 0 }

    private func append(_ value: JSONValue) {
        node.appendChild().value = value
    }

    mutating func encodeNil() throws { append(.null) }
    mutating func encode(_ value: Bool) throws { append(.bool(value)) }
    mutating func encode(_ value: String) throws { append(.string(value)) }
    mutating func encode(_ value: Double) throws { append(number(value)) }
    mutating func encode(_ value: Float) throws { append(number(Double(value))) }
    mutating func encode(_ value: Int) throws { append(number(value)) }
    mutating func encode(_ value: Int8) throws { append(number(value)) }
    mutating func encode(_ value: Int16) throws { append(number(value)) }
    mutating func encode(_ value: Int32) throws { append(number(value)) }
    mutating func encode(_ value: Int64) throws { append(number(value)) }
    mutating func encode(_ value: UInt) throws { append(number(value)) }
    mutating func encode(_ value: UInt8) throws { append(number(value)) }
    mutating func encode(_ value: UInt16) throws { append(number(value)) }
    mutating func encode(_ value: UInt32) throws { append(number(value)) }
    mutating func encode(_ value: UInt64) throws { append(number(value)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try value.encode(to: NodeEncoder(node: node.appendChild(), keys: keys, codingPath: codingPath))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        NodeEncoder(node: node.appendChild(), keys: keys, codingPath: codingPath).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        NodeEncoder(node: node.appendChild(), keys: keys, codingPath: codingPath).unkeyedContainer()
    }

    mutating func superEncoder() -> Encoder {
        NodeEncoder(node: node.appendChild(), keys: keys, codingPath: codingPath)
    }
}

private struct SingleNodeContainer: SingleValueEncodingContainer {
    let node: JSONNode
    let keys: SnakeCaseKeys
    let codingPath: [CodingKey]

    private func set(_ value: JSONValue) {
        node.value = value
    }

    mutating func encodeNil() throws { set(.null) }
    mutating func encode(_ value: Bool) throws { set(.bool(value)) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws { set(number(value)) }
    mutating func encode(_ value: Float) throws { set(number(Double(value))) }
    mutating func encode(_ value: Int) throws { set(number(value)) }
    mutating func encode(_ value: Int8) throws { set(number(value)) }
    mutating func encode(_ value: Int16) throws { set(number(value)) }
    mutating func encode(_ value: Int32) throws { set(number(value)) }
    mutating func encode(_ value: Int64) throws { set(number(value)) }
    mutating func encode(_ value: UInt) throws { set(number(value)) }
    mutating func encode(_ value: UInt8) throws { set(number(value)) }
    mutating func encode(_ value: UInt16) throws { set(number(value)) }
    mutating func encode(_ value: UInt32) throws { set(number(value)) }
    mutating func encode(_ value: UInt64) throws { set(number(value)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try value.encode(to: NodeEncoder(node: node, keys: keys, codingPath: codingPath))
    }
}
