/// A read-only view of one value inside a ``JSONDocument``.
///
/// Lookups scan the tape in place; nothing is decoded until a string is asked for, and a string without
/// escapes becomes a `String` with a single copy of its bytes.
public struct JSONElement: Sendable {
    public let document: JSONDocument
    @usableFromInline let index: Int

    @usableFromInline
    init(document: JSONDocument, index: Int) {
        self.document = document
        self.index = index
    }

    @usableFromInline
    var token: JSONToken { document.tape[index] }

    public var kind: JSONKind { token.kind }
    public var isNull: Bool { token.kind == .null }
    public var isObject: Bool { token.kind == .object }
    public var isArray: Bool { token.kind == .array }

    /// Member or element count for containers, 0 for scalars.
    public var count: Int { Int(token.count) }

    // MARK: Objects

    /// The value of `key` when this is an object that has it.
    ///
    /// Adapters make dozens of these per request, so the scan compares lengths first and bytes a word at a time
    /// over the raw buffers. An escaped key is decoded while it is compared and the comparison stops at the first
    /// difference, so no key costs more than the lookup key's length. Wide objects that a mapping reads many
    /// fields of go through ``JSONMemberIndex`` instead.
    public subscript(key: String) -> JSONElement? {
        let object = token
        guard object.kind == .object else { return nil }
        var key = key
        let found: Int? = key.withUTF8 { keyBytes in
            document.tape.withUnsafeBufferPointer { tape in
                document.bytes.withUnsafeBufferPointer { bytes in
                    var cursor = index + 1
                    let end = Int(object.next)
                    let length = UInt32(keyBytes.count)
                    while cursor < end {
                        let keyToken = tape[cursor]
                        if keyToken.escaped {
                            if JSONStringDecoding.equals(bytes, keyToken, keyBytes) { return cursor + 1 }
                        } else if keyToken.end - keyToken.start == length,
                            length == 0
                                || RawBytes.equal(
                                    bytes.baseAddress! + Int(keyToken.start),
                                    keyBytes.baseAddress!,
                                    count: Int(length)
                                )
                        {
                            return cursor + 1
                        }
                        cursor = Int(tape[cursor + 1].next)
                    }
                    return nil
                }
            }
        }
        return found.map { JSONElement(document: document, index: $0) }
    }

    /// The members of an object, in document order.
    public var members: [(key: String, value: JSONElement)] {
        guard token.kind == .object else { return [] }
        var result: [(key: String, value: JSONElement)] = []
        result.reserveCapacity(count)
        var cursor = index + 1
        let end = Int(token.next)
        while cursor < end {
            result.append((document.string(at: cursor), JSONElement(document: document, index: cursor + 1)))
            cursor = Int(document.tape[cursor + 1].next)
        }
        return result
    }

    // MARK: Arrays

    /// The elements of an array, in order.
    public var elements: [JSONElement] {
        guard token.kind == .array else { return [] }
        var result: [JSONElement] = []
        result.reserveCapacity(count)
        var cursor = index + 1
        let end = Int(token.next)
        while cursor < end {
            result.append(JSONElement(document: document, index: cursor))
            cursor = Int(document.tape[cursor].next)
        }
        return result
    }

    /// The first element of a non-empty array.
    public var firstElement: JSONElement? {
        guard token.kind == .array, token.count > 0 else { return nil }
        return JSONElement(document: document, index: index + 1)
    }

    // MARK: Scalars

    /// The decoded string when this is a string.
    public var string: String? {
        token.kind == .string ? document.string(at: index) : nil
    }

    /// The number exactly as written when this is a number (never rounded through a double).
    public var numberText: String? {
        let token = token
        guard token.kind == .number else { return nil }
        return String(decoding: document.bytes[Int(token.start)..<Int(token.end)], as: UTF8.self)
    }

    /// A string's text or a number's text as written: vendors send IDs and codes as either.
    public var scalarText: String? {
        switch token.kind {
        case .string: document.string(at: index)
        case .number: numberText
        default: nil
        }
    }

    /// `scalarText`, but nil for empty or all-whitespace strings: vendors send `""` for "not set".
    public var nonEmptyText: String? {
        hasText ? scalarText : nil
    }

    /// Whether the value is a number or a string that is not empty or all whitespace: ``nonEmptyText`` without
    /// making the `String` (``JSONObjectWriter`` copies the bytes instead).
    public var hasText: Bool {
        let token = token
        switch token.kind {
        case .number: return true
        case .string:
            guard token.end > token.start else { return false }
            let first = document.bytes[Int(token.start)]
            // Visible ASCII first (an escape's backslash aside, which may stand for whitespace): not blank.
            if first < 0x80 && !first.isASCIIWhitespace && first != UInt8(ascii: "\\") { return true }
            return !document.string(at: index).allSatisfy(\.isWhitespace)
        default: return false
        }
    }

    public var bool: Bool? {
        switch token.kind {
        case .true: true
        case .false: false
        default: nil
        }
    }

    /// The value as a Double when it is a number, or a string holding a number.
    public var double: Double? {
        guard let text = scalarText else { return nil }
        return Double(text)
    }

    /// The value as an Int64 when it is an integral number, or a string holding one.
    public var int64: Int64? {
        guard let text = scalarText else { return nil }
        if let value = Int64(text) { return value }
        // Integral values written with an exponent or fraction ("1.789e12") still count.
        guard let value = Double(text), value.rounded() == value, abs(value) < 9.0e18 else { return nil }
        return Int64(value)
    }

    // MARK: Canonical form

    /// Appends the canonical serialisation of this value (see ``JSONCanonicalForm``).
    public func writeCanonical(into output: inout [UInt8]) {
        JSONCanonicalForm.write(document, index, into: &output)
    }

    /// Converts to an owned ``JSONValue``, keeping member order and numbers as written.
    public var value: JSONValue {
        switch token.kind {
        case .null: .null
        case .true: .bool(true)
        case .false: .bool(false)
        case .number: .number(numberText!)
        case .string: .string(string!)
        case .array: .array(elements.map(\.value))
        case .object: .object(JSONObject(members.map { ($0.key, $0.value.value) }))
        }
    }
}

extension JSONDocument {
    @usableFromInline
    func string(at tapeIndex: Int) -> String {
        let token = tape[tapeIndex]
        return bytes.withUnsafeBufferPointer { bytes in
            if token.escaped { return JSONStringDecoding.string(bytes, token) }
            return String(
                decoding: UnsafeBufferPointer(rebasing: bytes[Int(token.start)..<Int(token.end)]),
                as: UTF8.self
            )
        }
    }
}

// MARK: - Conveniences for adapters

extension JSONElement: JSONMemberLookup {
    /// The member as an owned value, nil when absent or null.
    public func value(_ key: String) -> JSONValue? {
        guard let member = self[key], !member.isNull else { return nil }
        return member.value
    }

    /// The whole value's canonical serialisation.
    public var canonicalBytes: [UInt8] {
        JSONCanonicalForm.bytes(document, index)
    }
}

/// What mappings read from an object, scanned (``JSONElement``) or hashed (``JSONMemberIndex``).
public protocol JSONMemberLookup {
    subscript(key: String) -> JSONElement? { get }
}

extension JSONMemberLookup {
    /// The member's string or number text, nil when absent, null, an empty string or a container.
    public func text(_ key: String) -> String? {
        self[key]?.nonEmptyText
    }

    /// The member when it is an object.
    public func object(_ key: String) -> JSONElement? {
        guard let member = self[key], member.isObject else { return nil }
        return member
    }
}
