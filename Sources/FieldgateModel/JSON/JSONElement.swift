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
    /// Adapters make dozens of these per request over objects of up to ~50 members, so the scan compares
    /// lengths first and bytes with `memcmp`-like loops over the raw buffers, without bounds checks per byte.
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
                            if document.keyEquals(keyToken, keyBytes) { return cursor + 1 }
                        } else if keyToken.end - keyToken.start == length,
                            length == 0
                                || memcmpEqual(
                                    bytes.baseAddress! + Int(keyToken.start),
                                    keyBytes.baseAddress!,
                                    Int(length)
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

@inline(__always)
func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    var i = 0
    while i < count {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
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

    @usableFromInline
    func keyEquals(_ token: JSONToken, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        if token.escaped {
            let decoded = JSONStringDecoding.decode(bytes, token)
            return decoded.elementsEqual(key)
        }
        let length = Int(token.end - token.start)
        guard length == key.count else { return false }
        var i = 0
        let start = Int(token.start)
        while i < length {
            if bytes[start + i] != key[i] { return false }
            i += 1
        }
        return true
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

// MARK: - Member index

/// An object's keys hashed once, for mappings that read dozens of fields of a wide object: a Hellotracks job has
/// ~45 members and its mapping makes ~35 lookups, which a linear scan turns into ~800 key comparisons.
///
/// Lookups answer exactly as ``JSONElement/subscript(_:)`` does. Small objects (where a scan is as fast as
/// hashing) and objects with escaped keys (rare) are not indexed and fall back to the scan.
public struct JSONMemberIndex: JSONMemberLookup, Sendable {
    /// Below this many members the scan wins.
    public static let minimumIndexedCount = 12

    public let object: JSONElement
    /// Open addressing: the key's tape index + 1, or 0 for an empty slot. Empty when not indexed.
    private var slots: [Int32]
    private let mask: Int

    public init(_ object: JSONElement) {
        self.object = object
        let token = object.token
        let document = object.document
        guard token.kind == .object, token.count >= Self.minimumIndexedCount else {
            slots = []
            mask = 0
            return
        }
        var capacity = 8
        while capacity < Int(token.count) * 2 { capacity <<= 1 }
        mask = capacity - 1
        let start = object.index + 1
        let end = Int(token.next)
        let mask = self.mask
        var indexable = true
        slots = document.tape.withUnsafeBufferPointer { tape in
            document.bytes.withUnsafeBufferPointer { bytes in
                [Int32](unsafeUninitializedCapacity: capacity) { slots, initialized in
                    slots.initialize(repeating: 0)
                    initialized = capacity
                    var cursor = start
                    while cursor < end {
                        let key = tape[cursor]
                        if key.escaped {
                            indexable = false
                            return
                        }
                        var slot = Self.hash(UnsafeBufferPointer(rebasing: bytes[Int(key.start)..<Int(key.end)])) & mask
                        while slots[slot] != 0 { slot = (slot + 1) & mask }
                        slots[slot] = Int32(cursor + 1)
                        cursor = Int(tape[cursor + 1].next)
                    }
                }
            }
        }
        if !indexable { slots = [] }
    }

    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int { JSONKeyOrder.fnv1a(bytes) }

    /// The value of `key` when the object has it.
    public subscript(key: String) -> JSONElement? {
        guard !slots.isEmpty else { return object[key] }
        var key = key
        let document = object.document
        let found: Int? = key.withUTF8 { keyBytes in
            slots.withUnsafeBufferPointer { slots in
                document.tape.withUnsafeBufferPointer { tape in
                    document.bytes.withUnsafeBufferPointer { bytes in
                        var slot = Self.hash(keyBytes) & mask
                        while true {
                            let entry = Int(slots[slot])
                            if entry == 0 { return nil }
                            let token = tape[entry - 1]
                            if Int(token.end - token.start) == keyBytes.count,
                                keyBytes.isEmpty
                                    || memcmpEqual(
                                        bytes.baseAddress! + Int(token.start),
                                        keyBytes.baseAddress!,
                                        keyBytes.count
                                    )
                            {
                                return entry
                            }
                            slot = (slot + 1) & mask
                        }
                    }
                }
            }
        }
        return found.map { JSONElement(document: document, index: $0) }
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
