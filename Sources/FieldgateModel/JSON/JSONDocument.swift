/// A JSON text parsed strictly (RFC 8259) into a flat tape of tokens over the original bytes.
///
/// Adapters read a handful of fields and the dedupe key needs the whole value re-serialised canonically, so
/// building a tree of Swift values would be wasted work: strings and numbers stay byte ranges into ``bytes``
/// until somebody asks for them, and the whole parse costs one tape allocation.
///
/// Strictness is deliberate: webhook bodies are untrusted, and anything a lenient parser would "fix" (a BOM,
/// comments, trailing commas, `NaN`, lone surrogates, duplicate keys, deep nesting) is a request to reject.
///
/// ## Limits
/// Nesting is at most ``maximumDepth``; a text is at most ``maximumLength`` bytes (tape offsets are 32-bit).
/// Members per object, elements per array and the length of a string or number are bounded only by the text:
/// the request body limit bounds them all. Every step is linear or n log n in the text, whatever its shape
/// (docs/DECISIONS.md, "Parser limits"); the tape takes 20 bytes per value, so at most ten times the text.
public struct JSONDocument: Sendable {
    /// The maximum container nesting: a top-level object is depth 1.
    public static let maximumDepth = 64
    /// The longest text the tape can address.
    public static let maximumLength = Int(UInt32.max) - 1

    /// The UTF-8 text the tape points into.
    public let bytes: [UInt8]
    @usableFromInline
    var tape: [JSONToken]

    /// Parses `bytes`, which must be one complete JSON value; throws ``JSONSyntaxError`` with the byte offset.
    public init(parsing bytes: [UInt8]) throws(JSONSyntaxError) {
        if bytes.count > Self.maximumLength { throw JSONSyntaxError(.tooLong, offset: Self.maximumLength) }
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
        case tooLong
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
        case .tooLong: "the text is longer than \(JSONDocument.maximumLength) bytes"
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
