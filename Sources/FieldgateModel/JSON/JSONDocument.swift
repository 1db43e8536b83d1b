/// A JSON text parsed strictly (RFC 8259) into a flat tape of tokens over the original bytes.
///
/// Adapters read a handful of fields and the dedupe key needs the whole value re-serialised canonically, so
/// building a tree of Swift values would be wasted work: strings and numbers stay byte ranges into ``bytes``
/// until somebody asks for them, and the whole parse costs one tape allocation.
///
/// Strictness is deliberate: webhook bodies are untrusted, and anything a lenient parser would "fix" (a BOM,
/// comments, trailing commas, `NaN`, lone surrogates, duplicate keys, deep nesting) is a request to reject.
public struct JSONDocument: Sendable {
    /// The maximum container nesting: a top-level object is depth 1.
    public static let maximumDepth = 64

    /// The UTF-8 text the tape points into.
    public let bytes: [UInt8]
    @usableFromInline
    var tape: [JSONToken]

    /// Parses `bytes`, which must be one complete JSON value; throws ``JSONSyntaxError`` with the byte offset.
    public init(parsing bytes: [UInt8]) throws(JSONSyntaxError) {
        if let offset = UTF8Validation.firstInvalidByteOffset(in: bytes) {
            throw JSONSyntaxError(.invalidUTF8, offset: offset)
        }
        let tape = try bytes.withUnsafeBufferPointer { buffer throws(JSONSyntaxError) in
            var parser = JSONTapeParser(bytes: buffer)
            try parser.parseDocument()
            return parser.tape
        }
        self.bytes = bytes
        self.tape = tape
    }

    /// The top-level value.
    public var root: JSONElement { JSONElement(document: self, index: 0) }
}

/// Why a JSON text was refused, and where.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case invalidUTF8
        case byteOrderMark
        case empty
        case unexpectedByte(UInt8)
        case unexpectedEnd
        case trailingComma
        case trailingBytes
        case controlCharacterInString
        case invalidEscape
        case loneSurrogate
        case invalidNumber
        case tooDeep
        case duplicateKey(String)
    }

    public var reason: Reason
    /// Byte offset into the text where the problem was found.
    public var offset: Int

    public init(_ reason: Reason, offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        switch reason {
        case .invalidUTF8: "invalid UTF-8 at byte offset \(offset)"
        case .byteOrderMark: "byte-order mark at byte offset 0 (JSON must not start with a BOM)"
        case .empty: "no JSON value"
        case .unexpectedByte(let byte):
            if byte >= 0x21 && byte < 0x7F {
                "unexpected '\(Character(Unicode.Scalar(byte)))' at byte offset \(offset)"
            } else {
                "unexpected byte 0x\(String(byte, radix: 16, uppercase: true)) at byte offset \(offset)"
            }
        case .unexpectedEnd: "unexpected end of input at byte offset \(offset)"
        case .trailingComma: "trailing comma at byte offset \(offset)"
        case .trailingBytes: "trailing bytes after the JSON value at byte offset \(offset)"
        case .controlCharacterInString: "unescaped control character in a string at byte offset \(offset)"
        case .invalidEscape: "invalid escape sequence at byte offset \(offset)"
        case .loneSurrogate: "lone UTF-16 surrogate escape at byte offset \(offset)"
        case .invalidNumber: "invalid number at byte offset \(offset)"
        case .tooDeep: "nesting deeper than \(JSONDocument.maximumDepth) at byte offset \(offset)"
        case .duplicateKey(let key): "duplicate key \"\(key)\" at byte offset \(offset)"
        }
    }
}

/// The kind of a JSON value.
public enum JSONKind: UInt8, Sendable {
    case null, `true`, `false`, number, string, array, object
}

/// One token of the tape. Containers are followed by their contents (objects: key, value, key, value…).
@usableFromInline
struct JSONToken: Sendable {
    @usableFromInline var kind: JSONKind
    /// For strings: the text contains a backslash escape and must be decoded before use.
    @usableFromInline var escaped: Bool
    /// Strings: first byte after the opening quote. Numbers: first byte. Containers: the opening bracket.
    @usableFromInline var start: UInt32
    /// Strings: offset of the closing quote. Numbers: one past the last byte.
    @usableFromInline var end: UInt32
    /// Containers: element or member count.
    @usableFromInline var count: UInt32
    /// Containers: the tape index just past the last token of the container. Scalars: own index + 1.
    @usableFromInline var next: UInt32
}

// MARK: - Parser

/// Runs over the text's buffer directly: every byte of every request passes through here.
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
    /// Small objects compare every pair; larger ones (Hellotracks jobs have ~45 members) go through a hash table
    /// in scratch space.
    func rejectDuplicateKeys(objectIndex: Int) throws(JSONSyntaxError) {
        let object = tape[objectIndex]
        let count = Int(object.count)
        try tape.withUnsafeBufferPointer { tape throws(JSONSyntaxError) in
            try withUnsafeTemporaryAllocation(of: Int.self, capacity: count) { keys throws(JSONSyntaxError) in
                var anyEscaped = false
                var cursor = objectIndex + 1
                for position in 0..<count {
                    keys[position] = cursor
                    anyEscaped = anyEscaped || tape[cursor].escaped
                    cursor = Int(tape[cursor + 1].next)
                }
                if anyEscaped {
                    var seen = Set<[UInt8]>(minimumCapacity: count)
                    for keyIndex in keys {
                        let token = tape[keyIndex]
                        if !seen.insert(JSONStringDecoding.decode(bytes, token)).inserted { throw duplicate(token) }
                    }
                } else if count <= 16 {
                    for i in 1..<count {
                        let a = tape[keys[i]]
                        for j in 0..<i where JSONKeyOrder.rawEqual(bytes, tape[keys[j]], a) { throw duplicate(a) }
                    }
                } else if let repeated = JSONKeyOrder.firstRepeatedKey(keys, bytes: bytes, tape: tape) {
                    throw duplicate(tape[repeated])
                }
            }
        }
    }

    func duplicate(_ token: JSONToken) -> JSONSyntaxError {
        let key = String(decoding: JSONStringDecoding.decode(bytes, token), as: UTF8.self)
        return JSONSyntaxError(.duplicateKey(key), offset: Int(token.start) - 1)
    }

}

/// Byte-order comparisons of unescaped object keys, shared by the parser's duplicate check and the canonical form.
enum JSONKeyOrder {
    static func rawEqual(_ bytes: UnsafeBufferPointer<UInt8>, _ a: JSONToken, _ b: JSONToken) -> Bool {
        let length = Int(a.end - a.start)
        guard length == Int(b.end - b.start) else { return false }
        let base = bytes.baseAddress!
        return memcmpEqual(base + Int(a.start), base + Int(b.start), length)
    }

    static func rawPrecedes(_ bytes: UnsafeBufferPointer<UInt8>, _ a: JSONToken, _ b: JSONToken) -> Bool {
        let aLength = Int(a.end - a.start)
        let bLength = Int(b.end - b.start)
        let common = min(aLength, bLength)
        let x = bytes.baseAddress! + Int(a.start)
        let y = bytes.baseAddress! + Int(b.start)
        var i = 0
        while i < common {
            if x[i] != y[i] { return x[i] < y[i] }
            i += 1
        }
        return aLength < bLength
    }

    /// The tape index of the first key (in document order) that repeats an earlier one, found through an
    /// open-addressing table. FNV-1a is fast on short keys but unseeded, so a sender could make keys collide;
    /// objects with more than 256 members hash with the standard library's per-process seeded `Hasher`, which
    /// keeps a crafted body from turning the check quadratic.
    static func firstRepeatedKey(
        _ keys: UnsafeMutableBufferPointer<Int>,
        bytes: UnsafeBufferPointer<UInt8>,
        tape: UnsafeBufferPointer<JSONToken>
    ) -> Int? {
        var capacity = 16
        while capacity < keys.count * 2 { capacity <<= 1 }
        let mask = capacity - 1
        let seeded = keys.count > 256
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: capacity) { slots -> Int? in
            slots.initialize(repeating: -1)
            for keyIndex in keys {
                let token = tape[keyIndex]
                let key = UnsafeBufferPointer(rebasing: bytes[Int(token.start)..<Int(token.end)])
                var slot = (seeded ? seededHash(key) : fnv1a(key)) & mask
                while slots[slot] >= 0 {
                    if rawEqual(bytes, tape[slots[slot]], token) { return keyIndex }
                    slot = (slot + 1) & mask
                }
                slots[slot] = keyIndex
            }
            return nil
        }
    }

    static func seededHash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: UnsafeRawBufferPointer(bytes))
        return hasher.finalize()
    }

    /// FNV-1a over a key: short texts, no seed needed (a table lives for one object of one request).
    @inline(__always)
    static func fnv1a(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0100_0000_01b3 }
        return Int(truncatingIfNeeded: hash ^ (hash >> 29))
    }

    /// The key's first eight bytes, big-endian and zero-padded: comparing these integers orders most keys without
    /// touching the text again (an unescaped key holds no zero byte, so padding sorts a shorter prefix first).
    @inline(__always)
    static func prefix(_ bytes: UnsafeBufferPointer<UInt8>, _ token: JSONToken) -> UInt64 {
        let start = Int(token.start)
        let length = min(Int(token.end) - start, 8)
        var value: UInt64 = 0
        for i in 0..<length { value |= UInt64(bytes[start + i]) << (56 - 8 * i) }
        return value
    }

    /// Sorts tape indices of unescaped keys into byte order: insertion sort on eight-byte prefixes, falling back to
    /// the whole keys only when the prefixes tie. Objects here have at most a few dozen members.
    static func sortRaw(
        _ keys: UnsafeMutableBufferPointer<Int>,
        bytes: UnsafeBufferPointer<UInt8>,
        tape: UnsafeBufferPointer<JSONToken>
    ) {
        let count = keys.count
        guard count > 1 else { return }
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: count) { prefixes in
            for i in 0..<count { prefixes[i] = prefix(bytes, tape[keys[i]]) }
            for i in 1..<count {
                let key = keys[i]
                let keyPrefix = prefixes[i]
                var j = i
                while j > 0 {
                    let other = prefixes[j - 1]
                    let precedes =
                        keyPrefix != other ? keyPrefix < other : rawPrecedes(bytes, tape[key], tape[keys[j - 1]])
                    guard precedes else { break }
                    keys[j] = keys[j - 1]
                    prefixes[j] = other
                    j -= 1
                }
                keys[j] = key
                prefixes[j] = keyPrefix
            }
        }
    }
}

/// Word-at-a-time scanning for the bytes that end a run of plain string text.
enum JSONByteScan {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// Whether any byte of `word` is zero (exact as a yes/no answer).
    @inline(__always)
    static func hasZeroByte(_ word: UInt64) -> Bool {
        (word &- ones) & ~word & highBits != 0
    }

    /// The offset of the first `"`, `\` or control byte at or after `from` inside a JSON string, or `bytes.count`.
    @inline(__always)
    static func skipPlainStringBytes(_ bytes: UnsafeBufferPointer<UInt8>, from: Int) -> Int {
        var i = from
        let count = bytes.count
        guard let base = bytes.baseAddress else { return count }
        while i + 8 <= count {
            let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            let control = (word &- ones &* 0x20) & ~word & highBits
            if control != 0 || hasZeroByte(word ^ (ones &* 0x22)) || hasZeroByte(word ^ (ones &* 0x5C)) { break }
            i += 8
        }
        while i < count {
            let byte = base[i]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte < 0x20 { return i }
            i += 1
        }
        return count
    }

    /// The offset of the first backslash in `bytes[from..<end]`, or `end`.
    @inline(__always)
    static func nextBackslash(_ bytes: UnsafeBufferPointer<UInt8>, from: Int, end: Int) -> Int {
        var i = from
        guard let base = bytes.baseAddress else { return end }
        while i + 8 <= end {
            let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            if hasZeroByte(word ^ (ones &* 0x5C)) { break }
            i += 8
        }
        while i < end && base[i] != UInt8(ascii: "\\") { i += 1 }
        return i
    }
}

/// The value of an ASCII hex digit (either case), or nil. Shared by JSON `\u` escapes and form `%XX` escapes
/// (inlinable: the Hellotracks adapter calls it for every escape of every form).
@inlinable @inline(__always)
package func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}

// MARK: - String decoding

enum JSONStringDecoding {
    /// Decodes the escapes of an already validated string token into UTF-8 bytes.
    static func decode(_ bytes: [UInt8], _ token: JSONToken) -> [UInt8] {
        bytes.withUnsafeBufferPointer { source in
            [UInt8](unsafeUninitializedCapacity: max(Int(token.end - token.start), 1)) { buffer, count in
                count = decode(source, token, into: buffer.baseAddress!)
            }
        }
    }

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ token: JSONToken) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: max(Int(token.end - token.start), 1)) { buffer, count in
            count = decode(bytes, token, into: buffer.baseAddress!)
        }
    }

    /// Decodes a validated string token as a `String`, written straight into the string's own storage.
    static func string(_ bytes: UnsafeBufferPointer<UInt8>, _ token: JSONToken) -> String {
        String(unsafeUninitializedCapacity: Int(token.end - token.start)) { buffer in
            decode(bytes, token, into: buffer.baseAddress!)
        }
    }

    /// Writes the decoded string to `output`, which has room for the token's length (a decoded string is never
    /// longer than its escaped form: `\uXXXX` is 6 bytes for at most 3), and returns the decoded length.
    /// Runs between escapes are copied whole; validation already happened in the parser.
    static func decode(
        _ bytes: UnsafeBufferPointer<UInt8>,
        _ token: JSONToken,
        into output: UnsafeMutablePointer<UInt8>
    )
        -> Int
    {
        var i = Int(token.start)
        let end = Int(token.end)
        var written = 0
        guard let source = bytes.baseAddress, end > i else { return 0 }
        while i < end {
            let run = JSONByteScan.nextBackslash(bytes, from: i, end: end)
            if run > i {
                (output + written).update(from: source + i, count: run - i)
                written += run - i
                i = run
            }
            guard i < end else { break }
            let escape = source[i + 1]
            i += 2
            switch escape {
            case UInt8(ascii: "b"):
                output[written] = 0x08
                written += 1
            case UInt8(ascii: "f"):
                output[written] = 0x0C
                written += 1
            case UInt8(ascii: "n"):
                output[written] = 0x0A
                written += 1
            case UInt8(ascii: "r"):
                output[written] = 0x0D
                written += 1
            case UInt8(ascii: "t"):
                output[written] = 0x09
                written += 1
            case UInt8(ascii: "u"):
                var scalar = hex4(bytes, i)
                i += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    let low = hex4(bytes, i + 2)
                    i += 6
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                written += writeUTF8(scalar, to: output + written)
            default:  // \" \\ \/
                output[written] = escape
                written += 1
            }
        }
        return written
    }

    static func hex4(_ bytes: UnsafeBufferPointer<UInt8>, _ at: Int) -> UInt32 {
        var value: UInt32 = 0
        for k in 0..<4 { value = value << 4 | UInt32(hexValue(bytes[at + k]) ?? 0) }
        return value
    }

    static func writeUTF8(_ scalar: UInt32, to output: UnsafeMutablePointer<UInt8>) -> Int {
        switch scalar {
        case 0..<0x80:
            output[0] = UInt8(scalar)
            return 1
        case 0x80..<0x800:
            output[0] = UInt8(0xC0 | (scalar >> 6))
            output[1] = UInt8(0x80 | (scalar & 0x3F))
            return 2
        case 0x800..<0x10000:
            output[0] = UInt8(0xE0 | (scalar >> 12))
            output[1] = UInt8(0x80 | ((scalar >> 6) & 0x3F))
            output[2] = UInt8(0x80 | (scalar & 0x3F))
            return 3
        default:
            output[0] = UInt8(0xF0 | (scalar >> 18))
            output[1] = UInt8(0x80 | ((scalar >> 12) & 0x3F))
            output[2] = UInt8(0x80 | ((scalar >> 6) & 0x3F))
            output[3] = UInt8(0x80 | (scalar & 0x3F))
            return 4
        }
    }
}

// MARK: - Request bodies

extension JSONDocument {
    /// Parses a JSON request body that must be an object, mapping failures to the contract's 400 codes.
    public static func parseObjectBody(_ bytes: [UInt8]) throws(AdapterError) -> JSONElement {
        let document: JSONDocument
        do {
            document = try JSONDocument(parsing: bytes)
        } catch {
            throw AdapterError(error)
        }
        guard document.root.isObject else {
            throw AdapterError(.notAnObject, "top-level JSON value is \(document.root.kind.article), not an object")
        }
        return document.root
    }
}

extension JSONKind {
    /// "an array", "a string": for error details.
    public var article: String {
        switch self {
        case .null: "null"
        case .true, .false: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
