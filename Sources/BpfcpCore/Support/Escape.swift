/// Escapes untrusted bytes (process names, arguments, paths) for terminals and JSON.
///
/// Printable ASCII and valid, printable UTF-8 pass through. Control bytes, C1
/// controls, bidirectional overrides and invalid UTF-8 become `\xNN`, and a
/// backslash becomes `\\`, so the escaping can be undone with `unescape`.
public enum Escape {
    public static func bytes<C: Collection>(_ input: C) -> String where C.Element == UInt8 {
        let bytes = Array(input)
        // Most names and paths are plain printable ASCII, which needs no escaping.
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x5C }) {
            return String(decoding: bytes, as: UTF8.self)
        }
        var out = ""
        out.reserveCapacity(bytes.count)
        var i = 0

        while i < bytes.count {
            let b = bytes[i]
            if b == 0x5C {
                out += "\\\\"
                i += 1
            } else if b >= 0x20 && b < 0x7F {
                out.unicodeScalars.append(Unicode.Scalar(b))
                i += 1
            } else if b >= 0x80, let (scalar, length) = decodeScalar(bytes, at: i), isPrintable(scalar) {
                out.unicodeScalars.append(scalar)
                i += length
            } else {
                out += hex(b)
                i += 1
            }
        }
        return out
    }

    /// Escapes a Swift string the same way, for text that came from outside.
    public static func text(_ s: String) -> String {
        bytes(Array(s.utf8))
    }

    /// Reverses `bytes(_:)`.
    public static func unescape(_ s: String) -> [UInt8] {
        let input = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var i = 0

        while i < input.count {
            if input[i] == 0x5C, i + 1 < input.count {
                if input[i + 1] == 0x5C {
                    out.append(0x5C)
                    i += 2
                    continue
                }
                if input[i + 1] == 0x78, i + 3 < input.count,
                   let value = UInt8(String(decoding: input[(i + 2)...(i + 3)], as: UTF8.self), radix: 16) {
                    out.append(value)
                    i += 4
                    continue
                }
            }
            out.append(input[i])
            i += 1
        }
        return out
    }

    private static func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return "\\x" + String(digits[Int(b >> 4)]) + String(digits[Int(b & 0xF)])
    }

    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        let v = scalar.value
        if v < 0xA0 { return false }
        if (0x200B...0x200F).contains(v) || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v) {
            return false
        }
        if v == 0xFEFF || (0xE000...0xF8FF).contains(v) { return false }
        return true
    }

    /// Decodes one multi-byte UTF-8 scalar, rejecting overlong and surrogate forms.
    private static func decodeScalar(_ bytes: [UInt8], at i: Int) -> (Unicode.Scalar, Int)? {
        let b0 = bytes[i]
        let length: Int
        var value: UInt32
        switch b0 {
        case 0xC2...0xDF: length = 2; value = UInt32(b0 & 0x1F)
        case 0xE0...0xEF: length = 3; value = UInt32(b0 & 0x0F)
        case 0xF0...0xF4: length = 4; value = UInt32(b0 & 0x07)
        default: return nil
        }
        guard i + length <= bytes.count else { return nil }

        for k in 1..<length {
            let b = bytes[i + k]
            guard b & 0xC0 == 0x80 else { return nil }
            value = (value << 6) | UInt32(b & 0x3F)
        }
        let minimum: UInt32 = length == 2 ? 0x80 : (length == 3 ? 0x800 : 0x10000)
        guard value >= minimum, let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, length)
    }
}
