/// The strict RFC 8259 parser behind ``JSONDocument``: one pass over the bytes, one token per value on the tape.
///
/// It runs over the text's buffer directly (every byte of every request passes through here) and recurses once
/// per container level, which ``JSONDocument/maximumDepth`` bounds.
struct JSONTapeParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var tape: [JSONToken] = []
    var position = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        // A token per ~6 bytes is typical for webhook JSON; one reservation avoids regrowth on the hot path.
        tape.reserveCapacity(bytes.count / 6 + 4)
    }

    mutating func parseDocument() throws(JSONSyntaxError) {
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF {
            throw JSONSyntaxError(.byteOrderMark, offset: 0)
        }
        skipWhitespace()
        guard position < bytes.count else { throw JSONSyntaxError(.empty, offset: position) }
        try parseValue(depth: 0)
        skipWhitespace()
        if position < bytes.count { throw JSONSyntaxError(.trailingBytes, offset: position) }
    }

    @inline(__always)
    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws(JSONSyntaxError) {
        guard position < bytes.count else { throw JSONSyntaxError(.unexpectedEnd, offset: position) }
        switch bytes[position] {
        case UInt8(ascii: "{"): try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): try parseString()
        case UInt8(ascii: "t"): try parseLiteral("true", kind: .true)
        case UInt8(ascii: "f"): try parseLiteral("false", kind: .false)
        case UInt8(ascii: "n"): try parseLiteral("null", kind: .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try parseNumber()
        case let byte: throw JSONSyntaxError(.unexpectedByte(byte), offset: position)
        }
    }

    mutating func appendScalar(_ kind: JSONKind, start: Int, end: Int, escaped: Bool = false) {
        let index = UInt32(tape.count)
        tape.append(
            JSONToken(kind: kind, escaped: escaped, start: UInt32(start), end: UInt32(end), count: 0, next: index + 1)
        )
    }

    mutating func parseLiteral(_ literal: StaticString, kind: JSONKind) throws(JSONSyntaxError) {
        let start = position
        let count = literal.utf8CodeUnitCount
        let pointer = literal.utf8Start
        for offset in 0..<count {
            guard position < bytes.count else { throw JSONSyntaxError(.unexpectedEnd, offset: position) }
            guard bytes[position] == pointer[offset] else {
                throw JSONSyntaxError(.unexpectedByte(bytes[position]), offset: position)
            }
            position += 1
        }
        appendScalar(kind, start: start, end: position)
    }

    mutating func parseNumber() throws(JSONSyntaxError) {
        let start = position
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count else { throw JSONSyntaxError(.invalidNumber, offset: start) }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else if isDigit(bytes[position]) {
            while position < bytes.count && isDigit(bytes[position]) { position += 1 }
        } else {
            throw JSONSyntaxError(.invalidNumber, offset: start)
        }
        if position < bytes.count && bytes[position] == UInt8(ascii: ".") {
            position += 1
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw JSONSyntaxError(.invalidNumber, offset: start)
            }
            while position < bytes.count && isDigit(bytes[position]) { position += 1 }
        }
        if position < bytes.count && (bytes[position] | 0x20) == UInt8(ascii: "e") {
            position += 1
            if position < bytes.count && (bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-"))
            {
                position += 1
            }
            guard position < bytes.count, isDigit(bytes[position]) else {
                throw JSONSyntaxError(.invalidNumber, offset: start)
            }
            while position < bytes.count && isDigit(bytes[position]) { position += 1 }
        }
        appendScalar(.number, start: start, end: position)
    }

    /// One comparison instead of two: below `"0"` the subtraction wraps around to a large number.
    @inline(__always)
    func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    mutating func parseString() throws(JSONSyntaxError) {
        position += 1  // opening quote
        let start = position
        var escaped = false
        while true {
            position = JSONByteScan.skipPlainStringBytes(bytes, from: position)
            guard position < bytes.count else { throw JSONSyntaxError(.unexpectedEnd, offset: position) }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") { break }
            if byte < 0x20 { throw JSONSyntaxError(.controlCharacterInString, offset: position) }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                try validateEscape()
            } else {
                position += 1
            }
        }
        appendScalar(.string, start: start, end: position, escaped: escaped)
        position += 1  // closing quote
    }

    /// Validates one escape at `position` (the backslash), including surrogate pairing, and moves past it.
    mutating func validateEscape() throws(JSONSyntaxError) {
        let escapeStart = position
        position += 1
        guard position < bytes.count else { throw JSONSyntaxError(.unexpectedEnd, offset: position) }
        switch bytes[position] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            position += 1
        case UInt8(ascii: "u"):
            position += 1
            let unit = try readHex4()
            if (0xDC00...0xDFFF).contains(unit) { throw JSONSyntaxError(.loneSurrogate, offset: escapeStart) }
            if (0xD800...0xDBFF).contains(unit) {
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                    bytes[position + 1] == UInt8(ascii: "u")
                else { throw JSONSyntaxError(.loneSurrogate, offset: escapeStart) }
                position += 2
                let low = try readHex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw JSONSyntaxError(.loneSurrogate, offset: escapeStart)
                }
            }
        default:
            throw JSONSyntaxError(.invalidEscape, offset: escapeStart)
        }
    }

    mutating func readHex4() throws(JSONSyntaxError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw JSONSyntaxError(.unexpectedEnd, offset: bytes.count) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = hexValue(bytes[position]) else { throw JSONSyntaxError(.invalidEscape, offset: position) }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    mutating func parseArray(depth: Int) throws(JSONSyntaxError) {
        if depth > JSONDocument.maximumDepth { throw JSONSyntaxError(.tooDeep, offset: position) }
        let index = tape.count
        tape.append(JSONToken(kind: .array, escaped: false, start: UInt32(position), end: 0, count: 0, next: 0))
        position += 1
        var count: UInt32 = 0
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "]") {
            position += 1
        } else {
            while true {
                try parseValue(depth: depth)
                count += 1
                skipWhitespace()
                guard position < bytes.count else { throw JSONSyntaxError(.unexpectedEnd, offset: position) }
                let byte = bytes[position]
                position += 1
                if byte == UInt8(ascii: "]") { break }
                guard byte == UInt8(ascii: ",") else {
                    throw JSONSyntaxError(.unexpectedByte(byte), offset: position - 1)
                }
                skipWhitespace()
                if position < bytes.count && bytes[position] == UInt8(ascii: "]") {
                    throw JSONSyntaxError(.trailingComma, offset: position - 1)
                }
            }
        }
        tape[index].end = UInt32(position)
        tape[index].count = count
        tape[index].next = UInt32(tape.count)
    }

    mutating func parseObject(depth: Int) throws(JSONSyntaxError) {
        if depth > JSONDocument.maximumDepth { throw JSONSyntaxError(.tooDeep, offset: position) }
        let index = tape.count
        tape.append(JSONToken(kind: .object, escaped: false, start: UInt32(position), end: 0, count: 0, next: 0))
        position += 1
        var count: UInt32 = 0
        skipWhitespace()
        if position < bytes.count && bytes[position] == UInt8(ascii: "}") {
            position += 1
        } else {
            while true {
                guard position < bytes.count else { throw JSONSyntaxError(.unexpectedEnd, offset: position) }
                guard bytes[position] == UInt8(ascii: "\"") else {
                    if bytes[position] == UInt8(ascii: "}") && count > 0 {
                        throw JSONSyntaxError(.trailingComma, offset: position)
                    }
                    throw JSONSyntaxError(.unexpectedByte(bytes[position]), offset: position)
                }
                try parseString()
                skipWhitespace()
                guard position < bytes.count else { throw JSONSyntaxError(.unexpectedEnd, offset: position) }
                guard bytes[position] == UInt8(ascii: ":") else {
                    throw JSONSyntaxError(.unexpectedByte(bytes[position]), offset: position)
                }
                position += 1
                skipWhitespace()
                try parseValue(depth: depth)
                count += 1
                skipWhitespace()
                guard position < bytes.count else { throw JSONSyntaxError(.unexpectedEnd, offset: position) }
                let byte = bytes[position]
                position += 1
                if byte == UInt8(ascii: "}") { break }
                guard byte == UInt8(ascii: ",") else {
                    throw JSONSyntaxError(.unexpectedByte(byte), offset: position - 1)
                }
                skipWhitespace()
            }
        }
        tape[index].end = UInt32(position)
        tape[index].count = count
        tape[index].next = UInt32(tape.count)
        if count > 1 { try rejectDuplicateKeys(objectIndex: index) }
    }

    /// Repeated keys are ambiguous (which one wins differs between parsers), so they are refused outright.
    /// ``JSONKeyOrder/firstRepeatedKey(_:)`` keeps the check linear whatever keys the sender chose.
    func rejectDuplicateKeys(objectIndex: Int) throws(JSONSyntaxError) {
        let repeated: Int? = tape.withUnsafeBufferPointer { tape in
            JSONKeyOrder.withKeys(ofObjectAt: objectIndex, bytes: bytes, tape: tape) { keys, slices in
                JSONKeyOrder.firstRepeatedKey(slices).map { keys[$0] }
            }
        }
        if let repeated { throw duplicate(tape[repeated]) }
    }

    /// The error names the key, shortened to 64 characters: a problem detail is for people, and the key may be
    /// as long as the body.
    func duplicate(_ token: JSONToken) -> JSONSyntaxError {
        let key = String(decoding: JSONStringDecoding.decode(bytes, token), as: UTF8.self)
        let shown = key.count > 64 ? key.prefix(64) + "…" : key
        return JSONSyntaxError(.duplicateKey(shown), offset: Int(token.start) - 1)
    }
}
