import Foundation

/// A growable byte buffer that `JSONBytesEncoder` writes into. Every finished
/// value is a range of it, so a parent object can copy its members out of
/// the same buffer in sorted key order without one allocation per value.
final class JSONByteBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int = 64 << 10) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit {
        base.deallocate()
    }

    private func reserve(_ extra: Int) {
        let needed = count + extra
        guard needed > capacity else { return }
        var grown = capacity * 2
        while grown < needed { grown *= 2 }
        let moved = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        moved.update(from: base, count: count)
        base.deallocate()
        base = moved
        capacity = grown
    }

    func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        UnsafeMutableRawPointer(base + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends a copy of `range`, which lies before the current end.
    func appendCopy(of range: Range<Int>) {
        reserve(range.count)
        (base + count).update(from: base + range.lowerBound, count: range.count)
        count += range.count
    }

    /// Moves the bytes from `range` down to start at `offset` and drops
    /// everything after them. The bytes between `offset` and the range are
    /// the parts a finished value was assembled from, no longer needed.
    /// Returns the range the bytes now occupy.
    func compact(_ range: Range<Int>, to offset: Int) -> Range<Int> {
        if offset != range.lowerBound {
            memmove(base + offset, base + range.lowerBound, range.count)
        }
        count = offset + range.count
        return offset..<count
    }

    func bytes(_ range: Range<Int>) -> [UInt8] {
        Array(UnsafeBufferPointer(start: base + range.lowerBound, count: range.count))
    }

    // MARK: - scalars, written as JSONEncoder writes them

    func appendInteger<T: FixedWidthInteger>(_ value: T) {
        if value < 0 { append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { scratch in
            var at = scratch.count
            repeat {
                at -= 1
                scratch[at] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude != 0
            append(UnsafeRawBufferPointer(rebasing: scratch[at...]))
        }
    }

    /// Writes `text` as Swift's `description` gives it, without a trailing
    /// ".0", which is how JSONEncoder writes a Double or Float. Callers reject
    /// NaN and infinities first.
    func appendFloatingPoint(_ description: String) {
        var text = description
        if text.hasSuffix(".0") { text.removeLast(2) }
        appendRaw(text)
    }

    /// Writes `text` as it is, for numbers.
    func appendRaw(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    /// Writes `text` as a quoted JSON string, escaped as JSONEncoder escapes
    /// it with `.withoutEscapingSlashes`. `"` and `\` get a backslash, and
    /// \b \f \n \r \t their short escapes. Every other byte below 0x20 becomes
    /// \u00XX in lowercase hex. All other bytes, DEL and non-ASCII included,
    /// are copied as they are.
    func appendString(_ text: String) {
        var text = text
        append(UInt8(ascii: "\""))
        text.withUTF8 { appendEscaped($0) }
        append(UInt8(ascii: "\""))
    }

    private func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        var pending = 0
        for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            append(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[pending..<index]))
            pending = index + 1
            appendEscape(byte)
        }
        append(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(utf8)[pending...]))
    }

    private func appendEscape(_ byte: UInt8) {
        append(UInt8(ascii: "\\"))
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): append(byte)
        case 0x08: append(UInt8(ascii: "b"))
        case 0x0c: append(UInt8(ascii: "f"))
        case 0x0a: append(UInt8(ascii: "n"))
        case 0x0d: append(UInt8(ascii: "r"))
        case 0x09: append(UInt8(ascii: "t"))
        default:
            let hex: StaticString = "0123456789abcdef"
            append("u00")
            append(hex.utf8Start[Int(byte >> 4)])
            append(hex.utf8Start[Int(byte & 0xf)])
        }
    }
}

/// A coding key as written: its UTF-8 bytes, which decide the sort order,
/// and the same key quoted and escaped, followed by the colon. On Linux,
/// JSONEncoder's `.sortedKeys` compares keys by their UTF-8 bytes
/// (JSONWriter.swift in swift-foundation).
final class JSONKey {
    let utf8: [UInt8]
    let written: [UInt8]

    init(_ name: String) {
        utf8 = Array(name.utf8)
        let buffer = JSONByteBuffer(capacity: utf8.count + 8)
        buffer.appendString(name)
        buffer.append(UInt8(ascii: ":"))
        written = buffer.bytes(0..<buffer.count)
    }

    /// Returns whether this key sorts before `other`.
    func precedes(_ other: JSONKey) -> Bool {
        utf8.lexicographicallyPrecedes(other.utf8)
    }
}

/// Converts camelCase property names to snake_case exactly as JSONEncoder's
/// `.convertToSnakeCase` does. A word ends before an upper-case letter. A run
/// of capitals is one word, which ends before the capital that starts the
/// next lower-case word ("myURLValue" gives "my_url_value").
enum SnakeCase {
    /// Converts a name made of ASCII letters, digits and underscores with the
    /// same steps as JSONEncoder. Any other name is converted by JSONEncoder
    /// itself, because its idea of an upper-case letter outside ASCII comes
    /// from Unicode tables inside Foundation.
    static func convert(_ name: String) -> String {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { return name }
        guard bytes.allSatisfy(isIdentifierByte) else { return convertWithJSONEncoder(name) }

        var words: [Range<Int>] = []
        var wordStart = 0
        var searchStart = 1
        let end = bytes.count
        while let upper = bytes[searchStart..<end].firstIndex(where: isUpper) {
            words.append(wordStart..<upper)
            guard let lower = bytes[upper..<end].firstIndex(where: isLower) else {
                wordStart = upper
                break
            }
            if lower == upper + 1 {
                wordStart = upper
            } else {
                words.append(upper..<(lower - 1))
                wordStart = lower - 1
            }
            searchStart = lower + 1
        }
        words.append(wordStart..<end)
        return words.map { String(decoding: bytes[$0], as: UTF8.self).lowercased() }.joined(separator: "_")
    }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        isUpper(byte) || isLower(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
    }

    private static func isUpper(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }

    private static func isLower(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
    }

    /// Encodes a one-key object with `JSONCoding.encoder` and reads the key back.
    private static func convertWithJSONEncoder(_ name: String) -> String {
        struct NameKey: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        struct Probe: Encodable {
            let name: String
            func encode(to encoder: Encoder) throws {
                var container = encoder.container(keyedBy: NameKey.self)
                try container.encode(0, forKey: NameKey(stringValue: name))
            }
        }
        guard let data = try? JSONCoding.encoder.encode(Probe(name: name)),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let converted = object.keys.first else { return name }
        return converted
    }
}
