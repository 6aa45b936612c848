import Foundation

/// Parses JSON bytes straight into a `JSONValue` tree in one pass.
///
/// Decoding a section with JSONDecoder into `[JSONValue]` items tried each
/// type in turn and threw a DecodingError for every miss, which made opening
/// an image the largest part of a restore. This parser returns the tree that
/// `JSONValue.init(from:)` builds through JSONDecoder. An integer is `.int`
/// when it fits in Int64, else `.uint` when it fits in UInt64, else `.double`.
/// A number with a fraction or exponent is `.int` or `.uint` when its value
/// is a whole number in range, because JSONDecoder's Int64 and UInt64
/// decoding accept it, and `.double` otherwise.
/// The grammar is RFC 8259's, without comments or trailing commas.
/// Strings must be valid UTF-8. A key that appears twice in one object keeps its last value.
enum JSONParser {
    /// Nesting deeper than this is rejected, so that a corrupt payload cannot
    /// overflow the stack. Image sections nest fewer than ten levels.
    static let maxDepth = 512

    struct Failure: Error, CustomStringConvertible {
        let offset: Int
        let reason: String

        var description: String { "\(reason) at byte \(offset)" }
    }

    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer in
            var reader = JSONReader(bytes: buffer)
            reader.skipWhitespace()
            let value = try reader.value(depth: 0)
            reader.skipWhitespace()
            guard reader.offset == buffer.count else { throw reader.failure("unexpected data after the JSON value") }
            return value
        }
    }
}

/// The parser's reader, which `ProcessPayloadScanner` also uses.
struct JSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var offset = 0
    /// Members of the objects being read, innermost last. Each object
    /// builds its dictionary at its closing brace, at its final size,
    /// so that no dictionary grows and rehashes member by member.
    private var members: [(key: String, value: JSONValue)] = []

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    func failure(_ reason: String) -> JSONParser.Failure {
        JSONParser.Failure(offset: offset, reason: reason)
    }

    var atEnd: Bool { offset >= bytes.count }

    mutating func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard !atEnd else { throw failure("unexpected end of data") }
        switch bytes[offset] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw failure("unexpected character '\(Character(Unicode.Scalar(bytes[offset])))'")
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        guard offset + count <= bytes.count else { throw failure("unexpected end of data") }
        for i in 0..<count where bytes[offset + i] != word.utf8Start[i] {
            throw failure("invalid literal, expected \(word)")
        }
        offset += count
    }

    private mutating func object(depth: Int) throws -> JSONValue {
        guard depth <= JSONParser.maxDepth else { throw failure("nesting deeper than \(JSONParser.maxDepth) levels") }
        offset += 1
        skipWhitespace()
        if !atEnd && bytes[offset] == UInt8(ascii: "}") {
            offset += 1
            return .object([:])
        }
        let first = members.count
        while true {
            skipWhitespace()
            guard !atEnd, bytes[offset] == UInt8(ascii: "\"") else { throw failure(atEnd ? "unexpected end of data" : "expected a string key") }
            let key = try string()
            skipWhitespace()
            guard !atEnd, bytes[offset] == UInt8(ascii: ":") else { throw failure(atEnd ? "unexpected end of data" : "expected ':' after a key") }
            offset += 1
            skipWhitespace()
            members.append((key, try value(depth: depth)))
            skipWhitespace()
            guard !atEnd else { throw failure("unexpected end of data") }
            switch bytes[offset] {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "}"): offset += 1; return .object(takeMembers(from: first))
            default: throw failure("expected ',' or '}' in an object")
            }
        }
    }

    /// Removes the members read since index `first` and returns them as a
    /// dictionary in which a repeated key keeps its last value.
    private mutating func takeMembers(from first: Int) -> [String: JSONValue] {
        var object = [String: JSONValue](minimumCapacity: members.count - first)
        for index in first..<members.count {
            object[members[index].key] = members[index].value
        }
        members.removeSubrange(first...)
        return object
    }

    private mutating func array(depth: Int) throws -> JSONValue {
        guard depth <= JSONParser.maxDepth else { throw failure("nesting deeper than \(JSONParser.maxDepth) levels") }
        offset += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if !atEnd && bytes[offset] == UInt8(ascii: "]") {
            offset += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try value(depth: depth))
            skipWhitespace()
            guard !atEnd else { throw failure("unexpected end of data") }
            switch bytes[offset] {
            case UInt8(ascii: ","): offset += 1
            case UInt8(ascii: "]"): offset += 1; return .array(elements)
            default: throw failure("expected ',' or ']' in an array")
            }
        }
    }

    // MARK: strings

    /// Reads a string starting at its opening quote. Runs without escapes
    /// are validated and copied as a whole.
    mutating func string() throws -> String {
        offset += 1
        let start = offset
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                let text = try utf8(start..<offset)
                offset += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            guard byte >= 0x20 else { throw failure("unescaped control character in a string") }
            offset += 1
        }
        guard offset < bytes.count else { throw failure("unterminated string") }
        var text = try utf8(start..<offset)
        return try escapedRest(appendingTo: &text)
    }

    /// Creates the string of the bytes in `range`, rejecting invalid UTF-8.
    /// ASCII, the common case, skips `String(validating:as:)`, which is
    /// generic and instantiated its metadata on every call in profiles of the release build.
    private func utf8(_ range: Range<Int>) throws -> String {
        let run = UnsafeBufferPointer(rebasing: bytes[range])
        if run.allSatisfy({ $0 < 0x80 }) { return String(decoding: run, as: UTF8.self) }
        guard let text = String(validating: run, as: UTF8.self) else {
            throw JSONParser.Failure(offset: range.lowerBound, reason: "invalid UTF-8 in a string")
        }
        return text
    }

    /// Reads the rest of a string from its first backslash.
    private mutating func escapedRest(appendingTo text: inout String) throws -> String {
        var runStart = offset
        while offset < bytes.count {
            let byte = bytes[offset]
            switch byte {
            case UInt8(ascii: "\""):
                text += try utf8(runStart..<offset)
                offset += 1
                return text
            case UInt8(ascii: "\\"):
                text += try utf8(runStart..<offset)
                try escape(into: &text)
                runStart = offset
            case ..<0x20:
                throw failure("unescaped control character in a string")
            default:
                offset += 1
            }
        }
        throw failure("unterminated string")
    }

    private mutating func escape(into text: inout String) throws {
        offset += 1
        guard !atEnd else { throw failure("unterminated string") }
        let byte = bytes[offset]
        offset += 1
        switch byte {
        case UInt8(ascii: "\""): text.append("\"")
        case UInt8(ascii: "\\"): text.append("\\")
        case UInt8(ascii: "/"): text.append("/")
        case UInt8(ascii: "b"): text.append("\u{08}")
        case UInt8(ascii: "f"): text.append("\u{0C}")
        case UInt8(ascii: "n"): text.append("\n")
        case UInt8(ascii: "r"): text.append("\r")
        case UInt8(ascii: "t"): text.append("\t")
        case UInt8(ascii: "u"): text.unicodeScalars.append(try unicodeEscape())
        default:
            offset -= 1
            throw failure("invalid escape sequence in a string")
        }
    }

    /// Reads the four hex digits after "\u", and a second escape for a surrogate pair.
    private mutating func unicodeEscape() throws -> Unicode.Scalar {
        let first = try hex4()
        if let scalar = Unicode.Scalar(first) { return scalar }
        guard (0xD800...0xDBFF).contains(first) else { throw failure("lone low surrogate in a \\u escape") }
        guard offset + 2 <= bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") else {
            throw failure("high surrogate without a low surrogate in a \\u escape")
        }
        offset += 2
        let second = try hex4()
        guard (0xDC00...0xDFFF).contains(second) else { throw failure("high surrogate without a low surrogate in a \\u escape") }
        let combined = 0x10000 + ((UInt32(first) - 0xD800) << 10) + (UInt32(second) - 0xDC00)
        return Unicode.Scalar(combined)!
    }

    private mutating func hex4() throws -> UInt16 {
        guard offset + 4 <= bytes.count else { throw failure("unterminated \\u escape") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("invalid hex digit in a \\u escape")
            }
            value = value << 4 | UInt16(digit)
            offset += 1
        }
        return value
    }

    // MARK: numbers

    private mutating func number() throws -> JSONValue {
        let start = offset
        let negative = bytes[offset] == UInt8(ascii: "-")
        if negative { offset += 1 }
        guard !atEnd, isDigit(bytes[offset]) else { throw failure("invalid number") }
        var magnitude: UInt64 = 0
        var overflow = false
        if bytes[offset] == UInt8(ascii: "0") {
            offset += 1
        } else {
            while !atEnd, isDigit(bytes[offset]) {
                let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(bytes[offset] - UInt8(ascii: "0")))
                overflow = overflow || o1 || o2
                magnitude = sum
                offset += 1
            }
        }
        var integral = true
        if !atEnd, bytes[offset] == UInt8(ascii: ".") {
            integral = false
            offset += 1
            try digits()
        }
        if !atEnd, bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E") {
            integral = false
            offset += 1
            if !atEnd, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") { offset += 1 }
            try digits()
        }
        if !atEnd, !isDelimiter(bytes[offset]) { throw failure("invalid number") }

        if integral && !overflow {
            if !negative { return magnitude <= UInt64(Int64.max) ? .int(Int64(magnitude)) : .uint(magnitude) }
            if magnitude <= UInt64(Int64.max) { return .int(-Int64(magnitude)) }
            if magnitude == UInt64(Int64.max) + 1 { return .int(Int64.min) }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
        guard let double = Double(text), double.isFinite else {
            throw JSONParser.Failure(offset: start, reason: "number \(text) is out of range")
        }
        // An integer literal out of range is a Double for JSONDecoder too, even when the Double is a whole number.
        if integral { return .double(double) }
        if let whole = Int64(exactly: double) { return .int(whole) }
        if let whole = UInt64(exactly: double) { return .uint(whole) }
        return .double(double)
    }

    private mutating func digits() throws {
        guard !atEnd, isDigit(bytes[offset]) else { throw failure("invalid number") }
        while !atEnd, isDigit(bytes[offset]) { offset += 1 }
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private func isDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), 0x20, 0x09, 0x0A, 0x0D: true
        default: false
        }
    }
}
