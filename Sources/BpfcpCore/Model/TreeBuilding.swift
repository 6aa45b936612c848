import Foundation

// Builders that read image values straight from a parsed `JSONValue`
// tree, without Codable. Opening an image builds thousands of entries and
// fields, and a restore plans hundreds of items, and decoding them through
// `JSONValueDecoder` took most of the time of both steps.
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
    private var taken = 0

    init?(_ value: JSONValue) {
        guard case .object(let members) = value else { return nil }
        self.members = members
    }

    /// Whether every member was read.
    var isComplete: Bool { taken == members.count }

    mutating func value(_ key: String) -> JSONValue? {
        guard let member = members[key] else { return nil }
        taken += 1
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
        switch value(key) {
        case .int(let number)?: I(exactly: number)
        case .uint(let number)?: I(exactly: number)
        case .double(let number)?: I(exactly: number)
        default: nil
        }
    }

    mutating func strings(_ key: String) -> [String]? {
        guard let elements = array(key) else { return nil }
        var strings: [String] = []
        strings.reserveCapacity(elements.count)
        for element in elements {
            guard case .string(let text) = element else { return nil }
            strings.append(text)
        }
        return strings
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

/// Builds every element of `values` with `build`, or returns nil when one fails.
func buildAll<T>(_ values: [JSONValue], _ build: (JSONValue) -> T?) -> [T]? {
    var built: [T] = []
    built.reserveCapacity(values.count)
    for value in values {
        guard let element = build(value) else { return nil }
        built.append(element)
    }
    return built
}

extension Field {
    init?(tree: JSONValue) {
        guard var object = TreeObject(tree), let name = object.string("name"), let value = object.string("value"),
              object.isComplete else { return nil }
        self.init(name, value)
    }
}

extension Entry {
    init?(tree: JSONValue) {
        guard var object = TreeObject(tree), let key = object.string("key"), let cells = object.strings("cells"),
              let fieldValues = object.array("fields"), object.isComplete,
              let fields = buildAll(fieldValues, Field.init(tree:)) else { return nil }
        self.init(key: key, cells: cells, fields: fields)
    }
}

extension Section {
    init?(tree: JSONValue) {
        guard var object = TreeObject(tree),
              let kind = object.string("kind"),
              let source = object.string("source").flatMap(CollectorSource.init(rawValue:)),
              let unavailable = object.optionalString("unavailable"),
              let elapsedNs = object.integer("elapsed_ns", as: UInt64.self),
              let items = object.array("items"),
              let entryValues = object.array("entries"), object.isComplete,
              let entries = buildAll(entryValues, Entry.init(tree:)) else { return nil }
        self.init(kind: kind, source: source, unavailable: unavailable, elapsedNs: elapsedNs, items: items, entries: entries)
    }
}

extension ProcessPayload {
    /// Builds the payload of a process section. Its `process` member, one
    /// small object, goes through `JSONValueDecoder`.
    init?(tree: JSONValue) {
        guard var object = TreeObject(tree),
              let pid = object.integer("pid", as: Int32.self),
              let processValue = object.value("process"),
              let process = try? JSONValueDecoder.decode(ProcessEntry.self, from: processValue),
              let stopSignal = object.optionalString("stop_signal"),
              let sectionValues = object.array("sections"), object.isComplete,
              let sections = buildAll(sectionValues, Section.init(tree:)) else { return nil }
        self.init(pid: pid, process: process, stopSignal: stopSignal, sections: sections)
    }
}
