import Foundation

// Builders that read image values straight from a parsed `JSONValue`
// tree, without Codable. A restore plans hundreds of items, and decoding
// them through `JSONValueDecoder` took most of the time of planning.
//
// A builder accepts only the form the image writer produces: the
// snake_case keys of the type and no other keys, with values of the
// expected JSON types. It returns nil for anything else, even for input
// that Codable accepts (a camelCase key, say). The caller then decodes the
// tree with `JSONValueDecoder`, which returns the value or throws the
// DecodingError that names the path, so both ways give the same results
// and the same errors.

/// A value that a builder can read from a `JSONValue` tree, returning nil
/// where `JSONValueDecoder` must decide.
protocol TreeBuildable: Decodable {
    init?(tree: JSONValue)
}

/// The members of one JSON object, read by a builder. It counts the keys
/// read, so that `isComplete` can tell whether the object has others.
struct TreeObject {
    private let members: [String: JSONValue]
    private var readCount = 0

    init?(_ value: JSONValue) {
        guard case .object(let members) = value else { return nil }
        self.members = members
    }

    /// Whether every member was read.
    var isComplete: Bool { readCount == members.count }

    mutating func value(_ key: String) -> JSONValue? {
        guard let member = members[key] else { return nil }
        readCount += 1
        return member
    }

    mutating func string(_ key: String) -> String? {
        guard case .string(let text)? = value(key) else { return nil }
        return text
    }

    mutating func bool(_ key: String) -> Bool? {
        guard case .bool(let flag)? = value(key) else { return nil }
        return flag
    }

    mutating func array(_ key: String) -> [JSONValue]? {
        guard case .array(let elements)? = value(key) else { return nil }
        return elements
    }

    /// The number at `key` when it converts to `I` exactly, as `JSONValueDecoder` converts it.
    mutating func integer<I: FixedWidthInteger>(_ key: String, as type: I.Type) -> I? {
        value(key).flatMap { Self.integer($0, as: I.self) }
    }

    mutating func strings(_ key: String) -> [String]? {
        array(key).flatMap(Self.strings(of:))
    }

    mutating func integers<I: FixedWidthInteger>(_ key: String, as type: I.Type) -> [I]? {
        guard let elements = array(key) else { return nil }
        var integers: [I] = []
        integers.reserveCapacity(elements.count)
        for element in elements {
            guard let integer = Self.integer(element, as: I.self) else { return nil }
            integers.append(integer)
        }
        return integers
    }

    /// Reads an optional array of strings like `optionalString`.
    mutating func optionalStrings(_ key: String) -> [String]?? {
        switch value(key) {
        case nil, .null?: .some(nil)
        case .array(let elements)?: Self.strings(of: elements).map { .some($0) }
        default: nil
        }
    }

    private static func strings(of elements: [JSONValue]) -> [String]? {
        var strings: [String] = []
        strings.reserveCapacity(elements.count)
        for element in elements {
            guard case .string(let text) = element else { return nil }
            strings.append(text)
        }
        return strings
    }

    private static func integer<I: FixedWidthInteger>(_ value: JSONValue, as type: I.Type) -> I? {
        switch value {
        case .int(let number): I(exactly: number)
        case .uint(let number): I(exactly: number)
        case .double(let number): I(exactly: number)
        default: nil
        }
    }

    /// Reads an optional string as `decodeIfPresent` does: `.some(nil)`
    /// when the key is absent or null, and nil when it has another type.
    mutating func optionalString(_ key: String) -> String?? {
        switch value(key) {
        case nil, .null?: .some(nil)
        case .string(let text)?: .some(text)
        default: nil
        }
    }
}
