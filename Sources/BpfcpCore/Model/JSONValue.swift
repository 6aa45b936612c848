import Foundation

/// A JSON tree, so that sections of any kind can be stored, compared and
/// printed without knowing their Swift type.
public enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Each failed attempt throws a DecodingError, which is slow, so the
    /// common types come first. Only a JSON string decodes as a String,
    /// only an object as a dictionary and only true or false as a Bool, so
    /// their place in the order changes no result. Among numbers, Int64
    /// still goes before UInt64 and Double.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let v = try? c.decode(String.self) { self = .string(v) }
        else if let v = try? c.decode(Int64.self) { self = .int(v) }
        else if let v = try? c.decode([String: JSONValue].self) { self = .object(v) }
        else if let v = try? c.decode([JSONValue].self) { self = .array(v) }
        else if let v = try? c.decode(Bool.self) { self = .bool(v) }
        else if let v = try? c.decode(UInt64.self) { self = .uint(v) }
        else { self = .double(try c.decode(Double.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let v): try c.encode(v)
        case .int(let v): try c.encode(v)
        case .uint(let v): try c.encode(v)
        case .double(let v): try c.encode(v)
        case .string(let v): try c.encode(v)
        case .array(let v): try c.encode(v)
        case .object(let v): try c.encode(v)
        }
    }

    /// Converts any Encodable value, with the keys and numbers that
    /// `JSONCoding.encoder` would give.
    public static func from<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONValueEncoder.encode(value)
    }

    /// Decodes this tree as `T`, as `JSONCoding.decoder` would decode its JSON text.
    public func decode<T: Decodable>(as type: T.Type) throws -> T {
        try JSONValueDecoder.decode(T.self, from: self)
    }
}

/// The JSON settings used everywhere: snake_case keys, and sorted keys so
/// that output and images are byte-stable. Swift property names must stay
/// camelCase without runs of capitals, so that the key conversion round-trips.
public enum JSONCoding {
    public static var encoder: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }

    public static var prettyEncoder: JSONEncoder {
        let e = encoder
        e.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return e
    }

    public static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}
