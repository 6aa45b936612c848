/// Writers for the types that make up most of a process section: `Section`,
/// its rendered `Entry` rows with their `Field`s, and the `JSONValue` items.
/// They write the bytes that the synthesized `Encodable` conformances give
/// through `JSONBytesEncoder`, without the Encoder protocol: the members of
/// each object in sorted key order, and a nil optional left out as
/// `encodeIfPresent` leaves it out. `JSONBytesEncoderTests` compares them
/// with JSONEncoder on captured sections.
extension JSONBytesWriter {
    func writeSections(_ sections: [Section]) throws {
        buffer.append(UInt8(ascii: "["))
        for (index, section) in sections.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: ",")) }
            try writeSection(section)
        }
        buffer.append(UInt8(ascii: "]"))
    }

    func writeSection(_ section: Section) throws {
        buffer.append("{\"elapsed_ns\":")
        buffer.appendInteger(section.elapsedNs)
        buffer.append(",\"entries\":")
        writeEntries(section.entries)
        buffer.append(",\"items\":")
        try writeJSONArray(section.items)
        buffer.append(",\"kind\":")
        buffer.appendString(section.kind)
        buffer.append(",\"source\":")
        buffer.appendString(section.source.rawValue)
        if let unavailable = section.unavailable {
            buffer.append(",\"unavailable\":")
            buffer.appendString(unavailable)
        }
        buffer.append(UInt8(ascii: "}"))
    }

    func writeEntries(_ entries: [Entry]) {
        buffer.append(UInt8(ascii: "["))
        for (index, entry) in entries.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: ",")) }
            writeEntry(entry)
        }
        buffer.append(UInt8(ascii: "]"))
    }

    func writeEntry(_ entry: Entry) {
        buffer.append("{\"cells\":")
        writeStrings(entry.cells)
        buffer.append(",\"fields\":[")
        for (index, field) in entry.fields.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: ",")) }
            writeField(field)
        }
        buffer.append("],\"key\":")
        buffer.appendString(entry.key)
        buffer.append(UInt8(ascii: "}"))
    }

    func writeField(_ field: Field) {
        buffer.append("{\"name\":")
        buffer.appendString(field.name)
        buffer.append(",\"value\":")
        buffer.appendString(field.value)
        buffer.append(UInt8(ascii: "}"))
    }

    func writeStrings(_ strings: [String]) {
        buffer.append(UInt8(ascii: "["))
        for (index, text) in strings.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: ",")) }
            buffer.appendString(text)
        }
        buffer.append(UInt8(ascii: "]"))
    }

    // MARK: - JSONValue

    func writeJSONValue(_ value: JSONValue) throws {
        switch value {
        case .null: buffer.append("null")
        case .bool(let flag): buffer.append(flag ? "true" : "false")
        case .int(let number): buffer.appendInteger(number)
        case .uint(let number): buffer.appendInteger(number)
        case .double(let number): try writeDouble(number)
        case .string(let text): buffer.appendString(text)
        case .array(let elements): try writeJSONArray(elements)
        case .object(let members): try writeJSONObject(members)
        }
    }

    func writeJSONArray(_ elements: [JSONValue]) throws {
        buffer.append(UInt8(ascii: "["))
        for (index, element) in elements.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: ",")) }
            try writeJSONValue(element)
        }
        buffer.append(UInt8(ascii: "]"))
    }

    /// Writes the members sorted by the UTF-8 bytes of their keys, as
    /// JSONEncoder's `.sortedKeys` does on Linux. Dictionary keys are
    /// unique, so no two members compare equal.
    private func writeJSONObject(_ members: [String: JSONValue]) throws {
        var sorted = Array(members)
        sorted.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        buffer.append(UInt8(ascii: "{"))
        for (index, member) in sorted.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: ",")) }
            buffer.appendString(member.key)
            buffer.append(UInt8(ascii: ":"))
            try writeJSONValue(member.value)
        }
        buffer.append(UInt8(ascii: "}"))
    }
}
