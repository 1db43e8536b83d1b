/// The canonical serialisation that dedupe keys are computed over.
///
/// Two deliveries of the same vendor event must produce the same bytes however the vendor's JSON library
/// formatted them, and different events must not. So: object members sorted by key (bytewise on the decoded
/// UTF-8, which is code-point order), no insignificant whitespace, strings with escapes decoded and re-escaped
/// minimally (only `"`, `\` and control characters; `\/` becomes `/`, `\u00e9` becomes `é`), numbers exactly as
/// written (`70` and `70.0` differ, as do `70` and `"70"`). This matches RFC 8785 except for number
/// normalisation, which would round IDs through a double.
///
/// Every request runs through here, so the walk works on the document's buffers directly: member order is
/// sorted in stack scratch space, and escaped strings are re-escaped in one pass without decoding them first.
public enum JSONCanonicalForm {
    static func write(_ document: JSONDocument, _ index: Int, into output: inout [UInt8]) {
        document.bytes.withUnsafeBufferPointer { bytes in
            document.tape.withUnsafeBufferPointer { tape in
                Walk(bytes: bytes, tape: tape).write(index, into: &output)
            }
        }
    }

    /// The document's bytes and tape while one serialisation is written: canonical (keys sorted) or compact in
    /// document order (``JSONObjectWriter`` copying a vendor value into `detail`).
    struct Walk {
        let bytes: UnsafeBufferPointer<UInt8>
        let tape: UnsafeBufferPointer<JSONToken>
        var sortsKeys = true

        func write(_ index: Int, into output: inout [UInt8]) {
            let token = tape[index]
            switch token.kind {
            case .null: output.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
            case .true: output.append(contentsOf: [0x74, 0x72, 0x75, 0x65])
            case .false: output.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])
            case .number: output.append(contentsOf: slice(token))
            case .string: writeString(token, into: &output)
            case .array:
                output.append(UInt8(ascii: "["))
                var cursor = index + 1
                let end = Int(token.next)
                while cursor < end {
                    if cursor > index + 1 { output.append(UInt8(ascii: ",")) }
                    write(cursor, into: &output)
                    cursor = Int(tape[cursor].next)
                }
                output.append(UInt8(ascii: "]"))
            case .object:
                writeObject(index, token, into: &output)
            }
        }

        func writeObject(_ index: Int, _ object: JSONToken, into output: inout [UInt8]) {
            let count = Int(object.count)
            output.append(UInt8(ascii: "{"))
            withUnsafeTemporaryAllocation(of: Int.self, capacity: max(count, 1)) { keys in
                var cursor = index + 1
                var anyEscaped = false
                for position in 0..<count {
                    keys[position] = cursor
                    anyEscaped = anyEscaped || tape[cursor].escaped
                    cursor = Int(tape[cursor + 1].next)
                }
                if !sortsKeys {
                    // Document order.
                } else if anyEscaped {
                    sortByDecodedKey(keys, count: count)
                } else {
                    JSONKeyOrder.sortRaw(UnsafeMutableBufferPointer(rebasing: keys[..<count]), bytes: bytes, tape: tape)
                }
                for position in 0..<count {
                    if position > 0 { output.append(UInt8(ascii: ",")) }
                    let keyIndex = keys[position]
                    writeString(tape[keyIndex], into: &output)
                    output.append(UInt8(ascii: ":"))
                    write(keyIndex + 1, into: &output)
                }
            }
            output.append(UInt8(ascii: "}"))
        }

        /// Escaped keys are rare (`"\u0062"`): decode them all and sort by the decoded bytes.
        func sortByDecodedKey(_ keys: UnsafeMutableBufferPointer<Int>, count: Int) {
            let decoded = (0..<count).map { position in
                var key: [UInt8] = []
                JSONStringDecoding.append(bytes, tape[keys[position]], to: &key)
                return (index: keys[position], key: key)
            }
            let sorted = decoded.sorted { $0.key.lexicographicallyPrecedes($1.key) }
            for (position, member) in sorted.enumerated() { keys[position] = member.index }
        }

        @inline(__always)
        func slice(_ token: JSONToken) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(rebasing: bytes[Int(token.start)..<Int(token.end)])
        }

        func writeString(_ token: JSONToken, into output: inout [UInt8]) {
            output.append(UInt8(ascii: "\""))
            if token.escaped {
                writeReescaped(token, into: &output)
            } else {
                // A valid JSON string without backslashes has no quotes or control characters: copy verbatim.
                output.append(contentsOf: slice(token))
            }
            output.append(UInt8(ascii: "\""))
        }

        /// Decodes each escape of a validated string and writes its character as ``JSONEscaping`` would: the
        /// same bytes as decoding the whole string and escaping it again, without the intermediate copy.
        func writeReescaped(_ token: JSONToken, into output: inout [UInt8]) {
            var i = Int(token.start)
            let end = Int(token.end)
            var runStart = i
            while i < end {
                i = JSONByteScan.nextBackslash(bytes, from: i, end: end)
                guard i < end else { break }
                if runStart < i { output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
                let escape = bytes[i + 1]
                i += 2
                switch escape {
                case UInt8(ascii: "b"): JSONEscaping.appendEscapedByte(0x08, to: &output)
                case UInt8(ascii: "f"): JSONEscaping.appendEscapedByte(0x0C, to: &output)
                case UInt8(ascii: "n"): JSONEscaping.appendEscapedByte(0x0A, to: &output)
                case UInt8(ascii: "r"): JSONEscaping.appendEscapedByte(0x0D, to: &output)
                case UInt8(ascii: "t"): JSONEscaping.appendEscapedByte(0x09, to: &output)
                case UInt8(ascii: "u"):
                    var scalar = hex4(i)
                    i += 4
                    if (0xD800...0xDBFF).contains(scalar) {
                        let low = hex4(i + 2)
                        i += 6
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    if scalar < 0x80 {
                        JSONEscaping.appendEscapedByte(UInt8(scalar), to: &output)
                    } else {
                        JSONStringDecoding.appendUTF8(scalar, to: &output)
                    }
                default: JSONEscaping.appendEscapedByte(escape, to: &output)  // \" \\ \/
                }
                runStart = i
            }
            if runStart < end { output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<end])) }
        }

        func hex4(_ at: Int) -> UInt32 {
            var value: UInt32 = 0
            for k in 0..<4 { value = value << 4 | UInt32(hexValue(bytes[at + k]) ?? 0) }
            return value
        }
    }
}

/// Minimal JSON string escaping shared by the canonical form and the event writer.
public enum JSONEscaping {
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `text` (UTF-8) with `"`, `\` and control characters escaped; everything else verbatim.
    public static func appendEscaped<Bytes: Sequence<UInt8>>(_ text: Bytes, to output: inout [UInt8]) {
        let done: Void? = text.withContiguousStorageIfAvailable { appendEscaped($0, to: &output) }
        guard done == nil else { return }
        for byte in text { appendEscapedByte(byte, to: &output) }
    }

    /// The common case first: runs of bytes that need no escape are copied whole.
    public static func appendEscaped(_ text: UnsafeBufferPointer<UInt8>, to output: inout [UInt8]) {
        var runStart = 0
        var index = 0
        let count = text.count
        while index < count {
            let byte = text[index]
            if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                index += 1
                continue
            }
            if runStart < index { output.append(contentsOf: UnsafeBufferPointer(rebasing: text[runStart..<index])) }
            appendEscapedByte(byte, to: &output)
            index += 1
            runStart = index
        }
        if runStart < count { output.append(contentsOf: UnsafeBufferPointer(rebasing: text[runStart..<count])) }
    }

    @inline(__always)
    static func appendEscapedByte(_ byte: UInt8, to output: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "\""): output.append(contentsOf: [0x5C, 0x22])
        case UInt8(ascii: "\\"): output.append(contentsOf: [0x5C, 0x5C])
        case 0x0A: output.append(contentsOf: [0x5C, UInt8(ascii: "n")])
        case 0x0D: output.append(contentsOf: [0x5C, UInt8(ascii: "r")])
        case 0x09: output.append(contentsOf: [0x5C, UInt8(ascii: "t")])
        case 0x08: output.append(contentsOf: [0x5C, UInt8(ascii: "b")])
        case 0x0C: output.append(contentsOf: [0x5C, UInt8(ascii: "f")])
        case 0..<0x20:
            output.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30])
            output.append(hexDigits[Int(byte >> 4)])
            output.append(hexDigits[Int(byte & 0xF)])
        default: output.append(byte)
        }
    }

    /// Appends a quoted, escaped JSON string.
    public static func appendQuoted(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { appendEscaped($0, to: &output) }
        output.append(UInt8(ascii: "\""))
    }
}
