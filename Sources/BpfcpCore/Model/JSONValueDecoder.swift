import Foundation

/// Decodes Decodable values from a `JSONValue` tree, with the settings of
/// `JSONCoding.decoder`: snake_case keys converted as `convertFromSnakeCase`
/// converts them, the keys of a `[String: X]` dictionary left as they are,
/// and `Data` read as base64. A `JSONValue` inside the value is taken from
/// the tree as it is, without decoding it again.
///
/// `JSONValue.decode(as:)` used to encode the tree to bytes and decode them
/// again with JSONDecoder, and restore does that for every item of every
/// kind it plans. The errors thrown are DecodingErrors with the coding path,
/// like JSONDecoder's.
enum JSONValueDecoder {
    static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try TreeDecoder(value: value, codingPath: [], keys: .shared).unbox(value, as: T.self, path: [])
    }

    /// Parses `bytes` with `JSONParser` and decodes them as `T`. A syntax error becomes a
    /// `DecodingError.dataCorrupted` whose description gives the byte offset.
    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        let tree: JSONValue
        do {
            tree = try JSONParser.parse(bytes)
        } catch let failure as JSONParser.Failure {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: failure.description, underlyingError: failure))
        }
        return try decode(type, from: tree)
    }
}

/// Converts snake_case JSON keys to the camelCase of Swift properties. The
/// conversions are kept for the life of the process, because restore decodes
/// each item of a kind on its own and the keys repeat from item to item.
private final class SnakeCaseKeyCache: @unchecked Sendable {
    static let shared = SnakeCaseKeyCache()

    private let lock = NSLock()
    private var cache: [String: String] = [:]

    func convert(_ key: String) -> String {
        lock.lock()
        let hit = cache[key]
        lock.unlock()
        if let hit { return hit }
        let converted = Self.camelCase(key)
        lock.lock()
        cache[key] = converted
        lock.unlock()
        return converted
    }

    /// Returns whether `type` is Swift's internal _DictionaryCodingKey, whose
    /// keys JSONDecoder leaves unconverted. It compares type identities,
    /// because naming each type with String(describing:) searched the
    /// runtime's conformance tables and took milliseconds per restore.
    func isDictionaryKey<Key: CodingKey>(_ type: Key.Type) -> Bool {
        ObjectIdentifier(type) == DictionaryKeyProbe.keyType
    }

    /// Converts a key as `JSONDecoder.KeyDecodingStrategy.convertFromSnakeCase`
    /// does: leading and trailing underscores stay, a key without inner underscores
    /// stays as it is, and otherwise the first word is lowercased and every
    /// later word capitalized.
    static func camelCase(_ key: String) -> String {
        guard key.utf8.contains(UInt8(ascii: "_")), let first = key.firstIndex(where: { $0 != "_" }) else { return key }
        var last = key.index(before: key.endIndex)
        while last > first && key[last] == "_" { key.formIndex(before: &last) }
        let words = key[first...last].split(separator: "_")
        let leading = key[key.startIndex..<first]
        let trailing = key[key.index(after: last)...]
        guard words.count > 1 else { return key }
        let joined = ([words[0].lowercased()] + words.dropFirst().map { $0.capitalized }).joined()
        return leading + joined + trailing
    }
}

/// Finds the key type that `Dictionary<String, _>.init(from:)` requests
/// from a decoder, by decoding a dictionary from a decoder that records it.
private struct DictionaryKeyProbe: Decoder {
    static let keyType: ObjectIdentifier? = {
        let probe = DictionaryKeyProbe()
        _ = try? [String: Int](from: probe)
        return probe.recorded.keyType
    }()

    private final class Recorded {
        var keyType: ObjectIdentifier?
    }

    private let recorded = Recorded()
    var codingPath: [CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        recorded.keyType = ObjectIdentifier(type)
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "The probe only records the key type."))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "The probe only records the key type."))
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer {
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "The probe only records the key type."))
    }
}

private struct TreeDecoder: Decoder {
    let value: JSONValue
    let codingPath: [CodingKey]
    let keys: SnakeCaseKeyCache
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw mismatch([String: JSONValue].self, value, codingPath) }
        let converted = keys.isDictionaryKey(Key.self) ? members : convertKeys(members)
        return KeyedDecodingContainer(TreeKeyedContainer<Key>(members: converted, decoder: self))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw mismatch([JSONValue].self, value, codingPath) }
        return TreeUnkeyedContainer(elements: elements, decoder: self)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer {
        TreeSingleValueContainer(decoder: self)
    }

    /// Converts the keys of one object. An object whose keys have no
    /// underscore keeps its dictionary, which is the common case for short items.
    private func convertKeys(_ members: [String: JSONValue]) -> [String: JSONValue] {
        guard members.keys.contains(where: { $0.utf8.contains(UInt8(ascii: "_")) }) else { return members }
        var converted: [String: JSONValue] = [:]
        converted.reserveCapacity(members.count)
        for (key, member) in members { converted[keys.convert(key)] = member }
        return converted
    }

    // MARK: unboxing

    func unbox<T: Decodable>(_ value: JSONValue, as type: T.Type, path: [CodingKey]) throws -> T {
        if T.self == JSONValue.self { return value as! T }
        if T.self == Data.self {
            guard case .string(let text) = value else { throw mismatch(String.self, value, path) }
            guard let data = Data(base64Encoded: text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "Encountered Data is not valid Base64."))
            }
            return data as! T
        }
        if T.self == URL.self {
            let text: String = try unboxString(value, path: path)
            guard let url = URL(string: text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "Invalid URL string."))
            }
            return url as! T
        }
        return try T(from: TreeDecoder(value: value, codingPath: path, keys: keys))
    }

    func unboxString(_ value: JSONValue, path: [CodingKey]) throws -> String {
        guard case .string(let text) = value else { throw mismatch(String.self, value, path) }
        return text
    }

    func unboxBool(_ value: JSONValue, path: [CodingKey]) throws -> Bool {
        guard case .bool(let flag) = value else { throw mismatch(Bool.self, value, path) }
        return flag
    }

    func unboxInteger<I: FixedWidthInteger>(_ value: JSONValue, as type: I.Type, path: [CodingKey]) throws -> I {
        let result: I?
        switch value {
        case .int(let number): result = I(exactly: number)
        case .uint(let number): result = I(exactly: number)
        case .double(let number): result = I(exactly: number)
        default: throw mismatch(I.self, value, path)
        }
        guard let result else {
            throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "Number \(value) does not fit in \(I.self)."))
        }
        return result
    }

    func unboxDouble(_ value: JSONValue, path: [CodingKey]) throws -> Double {
        switch value {
        case .int(let number): return Double(number)
        case .uint(let number): return Double(number)
        case .double(let number): return number
        default: throw mismatch(Double.self, value, path)
        }
    }
}

/// Returns the error JSONDecoder throws for a value of the wrong type: valueNotFound for null, typeMismatch otherwise.
private func mismatch(_ expected: Any.Type, _ value: JSONValue, _ path: [CodingKey]) -> DecodingError {
    if value == .null {
        return .valueNotFound(expected, .init(codingPath: path, debugDescription: "Expected \(expected) value but found null instead."))
    }
    return .typeMismatch(expected, .init(codingPath: path, debugDescription: "Expected to decode \(expected) but found another type instead."))
}

/// A key of an array element in a coding path, as JSONDecoder names it.
private struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }

    init(_ index: Int) { intValue = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}

private struct TreeKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONValue]
    let decoder: TreeDecoder
    var codingPath: [CodingKey] { decoder.codingPath }
    var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    private func member(_ key: Key) throws -> JSONValue {
        guard let value = members[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "No value associated with key \(key.stringValue)."))
        }
        return value
    }

    func decodeNil(forKey key: Key) throws -> Bool { try member(key) == .null }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decoder.unboxBool(try member(key), path: codingPath + [key]) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try decoder.unboxString(try member(key), path: codingPath + [key]) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decoder.unboxDouble(try member(key), path: codingPath + [key]) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { Float(try decode(Double.self, forKey: key)) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try integer(key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try integer(key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try integer(key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try integer(key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try integer(key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try integer(key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try integer(key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try integer(key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try integer(key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try integer(key) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decoder.unbox(try member(key), as: T.self, path: codingPath + [key])
    }

    private func integer<I: FixedWidthInteger>(_ key: Key) throws -> I {
        try decoder.unboxInteger(try member(key), as: I.self, path: codingPath + [key])
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try TreeDecoder(value: try member(key), codingPath: codingPath + [key], keys: decoder.keys).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try TreeDecoder(value: try member(key), codingPath: codingPath + [key], keys: decoder.keys).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder {
        TreeDecoder(value: members["super"] ?? .null, codingPath: codingPath, keys: decoder.keys)
    }

    func superDecoder(forKey key: Key) throws -> Decoder {
        TreeDecoder(value: members[key.stringValue] ?? .null, codingPath: codingPath + [key], keys: decoder.keys)
    }
}

private struct TreeUnkeyedContainer: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let decoder: TreeDecoder
    var currentIndex = 0
    var codingPath: [CodingKey] { decoder.codingPath }
    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    init(elements: [JSONValue], decoder: TreeDecoder) {
        self.elements = elements
        self.decoder = decoder
    }

    /// Returns the next element and its coding path, without moving past it.
    private func next(_ type: Any.Type) throws -> (JSONValue, [CodingKey]) {
        let path = codingPath + [IndexKey(currentIndex)]
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: path, debugDescription: "Unkeyed container is at end."))
        }
        return (elements[currentIndex], path)
    }

    mutating func decodeNil() throws -> Bool {
        let (value, _) = try next(Never.self)
        guard value == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try take { try $0.unboxBool($1, path: $2) } }
    mutating func decode(_ type: String.Type) throws -> String { try take { try $0.unboxString($1, path: $2) } }
    mutating func decode(_ type: Double.Type) throws -> Double { try take { try $0.unboxDouble($1, path: $2) } }
    mutating func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
    mutating func decode(_ type: Int.Type) throws -> Int { try integer() }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try integer() }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try integer() }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try integer() }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try integer() }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try integer() }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try integer() }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try integer() }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try integer() }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try integer() }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try take { try $0.unbox($1, as: T.self, path: $2) }
    }

    private mutating func integer<I: FixedWidthInteger>() throws -> I {
        try take { try $0.unboxInteger($1, as: I.self, path: $2) }
    }

    /// Decodes the next element with `body` and moves past it only when that succeeds, as JSONDecoder does.
    private mutating func take<T>(_ body: (TreeDecoder, JSONValue, [CodingKey]) throws -> T) throws -> T {
        let (value, path) = try next(T.self)
        let result = try body(decoder, value, path)
        currentIndex += 1
        return result
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try take { try TreeDecoder(value: $1, codingPath: $2, keys: $0.keys).container(keyedBy: type) }
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
        try take { try TreeDecoder(value: $1, codingPath: $2, keys: $0.keys).unkeyedContainer() }
    }

    mutating func superDecoder() throws -> Decoder {
        try take { TreeDecoder(value: $1, codingPath: $2, keys: $0.keys) }
    }
}

private struct TreeSingleValueContainer: SingleValueDecodingContainer {
    let decoder: TreeDecoder
    var codingPath: [CodingKey] { decoder.codingPath }
    private var value: JSONValue { decoder.value }

    init(decoder: TreeDecoder) {
        self.decoder = decoder
    }

    func decodeNil() -> Bool { value == .null }
    func decode(_ type: Bool.Type) throws -> Bool { try decoder.unboxBool(value, path: codingPath) }
    func decode(_ type: String.Type) throws -> String { try decoder.unboxString(value, path: codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try decoder.unboxDouble(value, path: codingPath) }
    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
    func decode(_ type: Int.Type) throws -> Int { try decoder.unboxInteger(value, as: Int.self, path: codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try decoder.unboxInteger(value, as: Int8.self, path: codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try decoder.unboxInteger(value, as: Int16.self, path: codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try decoder.unboxInteger(value, as: Int32.self, path: codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try decoder.unboxInteger(value, as: Int64.self, path: codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try decoder.unboxInteger(value, as: UInt.self, path: codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try decoder.unboxInteger(value, as: UInt8.self, path: codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try decoder.unboxInteger(value, as: UInt16.self, path: codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try decoder.unboxInteger(value, as: UInt32.self, path: codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try decoder.unboxInteger(value, as: UInt64.self, path: codingPath) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try decoder.unbox(value, as: T.self, path: codingPath)
    }
}
