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
    /// Appends the value at `index`. Neither form is ever longer than the value's own text (whitespace goes,
    /// escapes only shrink), so the walk writes through a raw cursor into room reserved up front instead of
    /// paying an array append per token.
    static func write(_ document: JSONDocument, _ index: Int, sortsKeys: Bool = true, into output: inout [UInt8]) {
        document.bytes.withUnsafeBufferPointer { bytes in
            document.tape.withUnsafeBufferPointer { tape in
                let bound = Walk.span(tape[index])
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bound) { room in
                    let walk = Walk(bytes: bytes, tape: tape, sortsKeys: sortsKeys, limit: room.baseAddress! + bound)
                    let end = walk.write(index, to: room.baseAddress!)
                    output.append(
                        contentsOf: UnsafeBufferPointer(start: room.baseAddress!, count: end - room.baseAddress!)
                    )
                }
            }
        }
    }

    /// The canonical form as a new array, written in place.
    static func bytes(_ document: JSONDocument, _ index: Int) -> [UInt8] {
        document.bytes.withUnsafeBufferPointer { bytes in
            document.tape.withUnsafeBufferPointer { tape in
                let bound = max(Walk.span(tape[index]), 1)
                return [UInt8](unsafeUninitializedCapacity: bound) { room, count in
                    let walk = Walk(bytes: bytes, tape: tape, limit: room.baseAddress! + bound)
                    count = walk.write(index, to: room.baseAddress!) - room.baseAddress!
                }
            }
        }
    }

    /// The document's bytes and tape while one serialisation is written: canonical (keys sorted) or compact in
    /// document order (``JSONObjectWriter`` copying a vendor value into `detail`).
    ///
    /// Every raw write checks (in debug builds) that it stays before `limit`, the end of the room reserved from
    /// ``span(_:)``: the bound holds by construction, and the asserts are what says so when a change breaks it.
    struct Walk {
        let bytes: UnsafeBufferPointer<UInt8>
        let tape: UnsafeBufferPointer<JSONToken>
        var sortsKeys = true
        /// One past the last byte of the room being written.
        let limit: UnsafeMutablePointer<UInt8>

        /// The length of the value's own text: an upper bound for what ``write(_:to:)`` writes.
        static func span(_ token: JSONToken) -> Int {
            switch token.kind {
            case .null, .true, .false: return 5
            case .number: return Int(token.end - token.start)
            case .string: return Int(token.end - token.start) + 2
            case .array, .object: return Int(token.end - token.start)
            }
        }

        /// Writes the value at `index` from `out` on and returns the position after it.
        func write(_ index: Int, to out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
            let token = tape[index]
            var out = out
            switch token.kind {
            case .null: out = put(out, 0x6E, 0x75, 0x6C, 0x6C)
            case .true: out = put(out, 0x74, 0x72, 0x75, 0x65)
            case .false:
                out = put(out, 0x66, 0x61, 0x6C, 0x73)
                out = byte(0x65, to: out)
            case .number: out = copy(slice(token), to: out)
            case .string: out = writeString(token, to: out)
            case .array:
                out = byte(UInt8(ascii: "["), to: out)
                var cursor = index + 1
                let end = Int(token.next)
                while cursor < end {
                    if cursor > index + 1 { out = byte(UInt8(ascii: ","), to: out) }
                    out = write(cursor, to: out)
                    cursor = Int(tape[cursor].next)
                }
                out = byte(UInt8(ascii: "]"), to: out)
            case .object:
                out = writeObject(index, token, to: out)
            }
            return out
        }

        func writeObject(
            _ index: Int,
            _ object: JSONToken,
            to out: UnsafeMutablePointer<UInt8>
        )
            -> UnsafeMutablePointer<UInt8>
        {
            var out = byte(UInt8(ascii: "{"), to: out)
            if sortsKeys {
                out = JSONKeyOrder.withKeys(ofObjectAt: index, bytes: bytes, tape: tape) { keys, slices in
                    JSONKeyOrder.sort(keys, by: slices)
                    var out = out
                    for (position, keyIndex) in keys.enumerated() {
                        if position > 0 { out = byte(UInt8(ascii: ","), to: out) }
                        out = member(keyIndex, to: out)
                    }
                    return out
                }
            } else {
                // Document order.
                var cursor = index + 1
                let end = Int(object.next)
                while cursor < end {
                    if cursor > index + 1 { out = byte(UInt8(ascii: ","), to: out) }
                    out = member(cursor, to: out)
                    cursor = Int(tape[cursor + 1].next)
                }
            }
            return byte(UInt8(ascii: "}"), to: out)
        }

        /// `"key":value` for the key at `keyIndex` (its value follows it on the tape).
        func member(_ keyIndex: Int, to out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
            var out = writeString(tape[keyIndex], to: out)
            out = byte(UInt8(ascii: ":"), to: out)
            return write(keyIndex + 1, to: out)
        }

        @inline(__always)
        func byte(_ value: UInt8, to out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
            assert(out < limit, "canonical form overran its room")
            out.pointee = value
            return out + 1
        }

        @inline(__always)
        func slice(_ token: JSONToken) -> UnsafeBufferPointer<UInt8> {
            UnsafeBufferPointer(rebasing: bytes[Int(token.start)..<Int(token.end)])
        }

        @inline(__always)
        func copy(
            _ source: UnsafeBufferPointer<UInt8>,
            to out: UnsafeMutablePointer<UInt8>
        ) -> UnsafeMutablePointer<UInt8> {
            guard let base = source.baseAddress, source.count > 0 else { return out }
            assert(out + source.count <= limit, "canonical form overran its room")
            out.update(from: base, count: source.count)
            return out + source.count
        }

        @inline(__always)
        func put(
            _ out: UnsafeMutablePointer<UInt8>,
            _ a: UInt8,
            _ b: UInt8,
            _ c: UInt8,
            _ d: UInt8
        )
            -> UnsafeMutablePointer<UInt8>
        {
            assert(out + 4 <= limit, "canonical form overran its room")
            out[0] = a
            out[1] = b
            out[2] = c
            out[3] = d
            return out + 4
        }

        func writeString(_ token: JSONToken, to out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
            var out = byte(UInt8(ascii: "\""), to: out)
            if token.escaped {
                out = writeReescaped(token, to: out)
            } else {
                // A valid JSON string without backslashes has no quotes or control characters: copy verbatim.
                out = copy(slice(token), to: out)
            }
            return byte(UInt8(ascii: "\""), to: out)
        }

        /// Decodes each escape of a validated string and writes its character as ``JSONEscaping`` would: the
        /// same bytes as decoding the whole string and escaping it again, without the intermediate copy. An
        /// escape never grows: the longest output, `\u00XX` for a control character, replaces a six-byte escape.
        func writeReescaped(_ token: JSONToken, to out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
            var out = out
            var i = Int(token.start)
            let end = Int(token.end)
            while i < end {
                let run = JSONByteScan.nextBackslash(bytes, from: i, end: end)
                out = copy(UnsafeBufferPointer(rebasing: bytes[i..<run]), to: out)
                i = run
                guard i < end else { break }
                let (scalar, length) = JSONStringDecoding.escape(bytes, at: i)
                assert(out + length <= limit, "canonical form overran its room")
                i += length
                if scalar < 0x80 {
                    out = JSONEscaping.writeEscapedByte(UInt8(scalar), to: out)
                } else {
                    out += JSONStringDecoding.writeUTF8(scalar, to: out)
                }
            }
            return out
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

    /// ``appendEscapedByte(_:to:)`` through a raw cursor; returns the position after what it wrote (1–6 bytes).
    @inline(__always)
    static func writeEscapedByte(_ byte: UInt8, to out: UnsafeMutablePointer<UInt8>) -> UnsafeMutablePointer<UInt8> {
        func two(_ second: UInt8) -> UnsafeMutablePointer<UInt8> {
            out[0] = 0x5C
            out[1] = second
            return out + 2
        }
        switch byte {
        case UInt8(ascii: "\""): return two(0x22)
        case UInt8(ascii: "\\"): return two(0x5C)
        case 0x0A: return two(UInt8(ascii: "n"))
        case 0x0D: return two(UInt8(ascii: "r"))
        case 0x09: return two(UInt8(ascii: "t"))
        case 0x08: return two(UInt8(ascii: "b"))
        case 0x0C: return two(UInt8(ascii: "f"))
        case 0..<0x20:
            out[0] = 0x5C
            out[1] = UInt8(ascii: "u")
            out[2] = 0x30
            out[3] = 0x30
            out[4] = hexDigits[Int(byte >> 4)]
            out[5] = hexDigits[Int(byte & 0xF)]
            return out + 6
        default:
            out[0] = byte
            return out + 1
        }
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
