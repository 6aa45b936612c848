@testable import BpfcpCore

/// Random changes to a JSON tree, for tests that compare two ways of
/// decoding it: a value of another type, a number out of range, a known
/// enum name, or a removed, renamed or added key.
enum TreeMutation {
    enum Step {
        case index(Int)
        case key(String)
    }

    /// Returns `tree` with one change at a node chosen by `generator`.
    static func apply(to tree: JSONValue, with generator: inout SeededGenerator) -> JSONValue {
        var paths: [[Step]] = []
        collect(tree, path: [], into: &paths)
        let path = paths[generator.below(paths.count)]
        let choice = generator.below(13)
        guard choice >= 9, case .key(let key)? = path.last else {
            return modify(tree, at: path[...]) { $0 = replacement(for: $0, choice: choice, with: &generator) }
        }
        return modify(tree, at: path.dropLast()) { parent in
            guard case .object(var members) = parent else { return }
            changeKey(key, of: &members, choice: choice, with: &generator)
            parent = .object(members)
        }
    }

    private static func collect(_ value: JSONValue, path: [Step], into paths: inout [[Step]]) {
        if !path.isEmpty { paths.append(path) }
        switch value {
        case .array(let elements):
            for (index, element) in elements.enumerated() { collect(element, path: path + [.index(index)], into: &paths) }
        case .object(let members):
            for (key, member) in members { collect(member, path: path + [.key(key)], into: &paths) }
        default:
            break
        }
    }

    private static func modify(_ value: JSONValue, at path: ArraySlice<Step>, _ body: (inout JSONValue) -> Void) -> JSONValue {
        guard let step = path.first else {
            var changed = value
            body(&changed)
            return changed
        }
        switch (step, value) {
        case (.index(let index), .array(var elements)):
            elements[index] = modify(elements[index], at: path.dropFirst(), body)
            return .array(elements)
        case (.key(let key), .object(var members)):
            members[key] = modify(members[key]!, at: path.dropFirst(), body)
            return .object(members)
        default:
            return value
        }
    }

    private static func replacement(for value: JSONValue, choice: Int, with generator: inout SeededGenerator) -> JSONValue {
        switch choice {
        case 0: return .null
        case 1: return .string("x")
        case 2: return .int(-1)
        case 3: return .uint(UInt64.max)
        case 4: return .double(0.5)
        case 5: return .bool(true)
        case 6: return .array([])
        case 7: return .object([:])
        default:
            let names = ["bpf", "proc", "regular", "socket", "anon-inode", "S", "Z"]
            let numbers: [JSONValue] = [.int(Int64(Int32.max) + 1), .int(3), .uint(UInt64(Int64.max) + 1), .int(-7)]
            if case .string = value { return .string(names[generator.below(names.count)]) }
            return numbers[generator.below(numbers.count)]
        }
    }

    /// Removes `key`, renames it to camelCase (or capitalizes it), or adds
    /// an extra key or an optional key that the image types define.
    private static func changeKey(_ key: String, of members: inout [String: JSONValue], choice: Int,
                                  with generator: inout SeededGenerator) {
        switch choice {
        case 9:
            members[key] = nil
        case 10:
            let renamed = key.contains("_") ? camelCase(key) : key.prefix(1).uppercased() + key.dropFirst()
            members[renamed] = members.removeValue(forKey: key)
        case 11:
            members["extra_key"] = .int(1)
        default:
            let optional = ["unavailable", "stop_signal", "anon_kind", "open_file_id"][generator.below(4)]
            members[optional] = generator.below(2) == 0 ? .null : .string("x")
        }
    }

    private static func camelCase(_ key: String) -> String {
        let words = key.split(separator: "_")
        return String(words[0]) + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }
}

/// A small seeded generator (SplitMix64), so that every run makes the same changes.
struct SeededGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Returns a number in 0..<count.
    mutating func below(_ count: Int) -> Int {
        Int(next() % UInt64(count))
    }
}
