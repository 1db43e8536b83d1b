/// The canonical serialisation that dedupe keys are computed over.
///
/// Two deliveries of the same vendor event must produce the same bytes however the vendor's JSON library
/// formatted them, and different events must not. So: object members sorted by key (bytewise on the decoded
/// UTF-8, which is code-point order), no insignificant whitespace, strings with escapes decoded and re-escaped
/// minimally (only `"`, `\` and control characters; `\/` becomes `/`, `\u00e9` becomes `é`), numbers exactly as
/// written (`70` and `70.0` differ, as do `70` and `"70"`). This matches RFC 8785 except for number
/// normalisation, which would round IDs through a double.
public enum JSONCanonicalForm {
    static func write(_ document: JSONDocument, _ index: Int, into output: inout [UInt8]) {
        let token = document.tape[index]
        let bytes = document.bytes
        switch token.kind {
        case .null: output.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .true: output.append(contentsOf: [0x74, 0x72, 0x75, 0x65])
        case .false: output.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])
        case .number: output.append(contentsOf: bytes[Int(token.start)..<Int(token.end)])
        case .string: writeString(document, token, into: &output)
        case .array:
            output.append(UInt8(ascii: "["))
            var cursor = index + 1
            var first = true
            while cursor < Int(token.next) {
                if !first { output.append(UInt8(ascii: ",")) }
                first = false
                write(document, cursor, into: &output)
                cursor = Int(document.tape[cursor].next)
            }
            output.append(UInt8(ascii: "]"))
        case .object:
            output.append(UInt8(ascii: "{"))
            var keys: [Int] = []
            keys.reserveCapacity(Int(token.count))
            var cursor = index + 1
            var anyEscaped = false
            while cursor < Int(token.next) {
                keys.append(cursor)
                anyEscaped = anyEscaped || document.tape[cursor].escaped
                cursor = Int(document.tape[cursor + 1].next)
            }
            if anyEscaped {
                let decoded = keys.map { JSONStringDecoding.decode(bytes, document.tape[$0]) }
                let order = keys.indices.sorted { decoded[$0].lexicographicallyPrecedes(decoded[$1]) }
                keys = order.map { keys[$0] }
            } else {
                keys.sort { lhs, rhs in rawKeyPrecedes(bytes, document.tape[lhs], document.tape[rhs]) }
            }
            for (position, keyIndex) in keys.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                writeString(document, document.tape[keyIndex], into: &output)
                output.append(UInt8(ascii: ":"))
                write(document, keyIndex + 1, into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    static func rawKeyPrecedes(_ bytes: [UInt8], _ a: JSONToken, _ b: JSONToken) -> Bool {
        let aLength = Int(a.end - a.start)
        let bLength = Int(b.end - b.start)
        let common = min(aLength, bLength)
        var i = 0
        while i < common {
            let x = bytes[Int(a.start) + i]
            let y = bytes[Int(b.start) + i]
            if x != y { return x < y }
            i += 1
        }
        return aLength < bLength
    }

    static func writeString(_ document: JSONDocument, _ token: JSONToken, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        if token.escaped {
            // Decoding then re-escaping keeps the rule in one place (JSONEscaping) for parsed and built values.
            JSONEscaping.appendEscaped(JSONStringDecoding.decode(document.bytes, token), to: &output)
        } else {
            // A valid JSON string without backslashes has no quotes or control characters: copy verbatim.
            output.append(contentsOf: document.bytes[Int(token.start)..<Int(token.end)])
        }
        output.append(UInt8(ascii: "\""))
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
