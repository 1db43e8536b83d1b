/// An owned JSON value with ordered object members and numbers kept as written.
///
/// Used for what the gateway builds (an event's `detail`) rather than what it parses: member order is the
/// order of insertion so the emitted JSON reads the way the contract documents it.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number's JSON text, e.g. `"653"` or `"-73.5543"`.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// A string value, or null when `text` is nil.
    public static func string(_ text: String?) -> JSONValue {
        text.map { .string($0) } ?? .null
    }

    public static func integer<I: BinaryInteger>(_ value: I) -> JSONValue { .number(String(value)) }

    // MARK: Access

    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let object) = self { return object }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    public var isNull: Bool { self == .null }

    // MARK: Serialisation

    /// Appends compact JSON, members in their stored order.
    public func write(into output: inout [UInt8]) {
        switch self {
        case .null: output.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
        case .bool(true): output.append(contentsOf: [0x74, 0x72, 0x75, 0x65])
        case .bool(false): output.append(contentsOf: [0x66, 0x61, 0x6C, 0x73, 0x65])
        case .number(let text): output.append(contentsOf: text.utf8)
        case .string(let text): JSONEscaping.appendQuoted(text, to: &output)
        case .array(let values):
            output.append(UInt8(ascii: "["))
            for (position, value) in values.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                value.write(into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let object):
            object.write(into: &output)
        }
    }

    /// Compact JSON text.
    public var jsonText: String {
        var output: [UInt8] = []
        write(into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// Parses JSON text strictly into an owned value.
    public init(parsing bytes: [UInt8]) throws(JSONSyntaxError) {
        self = try JSONDocument(parsing: bytes).root.value
    }
}

/// Ordered object members. Setting an existing key replaces its value in place.
///
/// An object is held either as members or, when an adapter wrote it with ``JSONObjectWriter``, as its compact
/// JSON text: the ingest path then copies the text into the event without building a tree of values, and the
/// members are parsed out only if somebody reads or changes them (tests, admin views).
public struct JSONObject: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    enum Storage: Sendable {
        case members([(key: String, value: JSONValue)])
        /// Compact JSON text of an object, produced by ``JSONObjectWriter`` and therefore valid.
        case rendered([UInt8])
    }

    var storage: Storage

    public var members: [(key: String, value: JSONValue)] {
        get {
            switch storage {
            case .members(let members): return members
            case .rendered(let text):
                guard case .object(let object)? = try? JSONValue(parsing: text) else { return [] }
                return object.members
            }
        }
        set { storage = .members(newValue) }
    }

    public init() { storage = .members([]) }

    public init(_ members: [(String, JSONValue)]) {
        storage = .members(members.map { (key: $0.0, value: $0.1) })
    }

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(elements)
    }

    /// An object from the text a ``JSONObjectWriter`` produced.
    init(rendered text: [UInt8]) { storage = .rendered(text) }

    public var isEmpty: Bool {
        switch storage {
        case .members(let members): members.isEmpty
        case .rendered(let text): text.count <= 2
        }
    }

    public var keys: [String] { members.map(\.key) }

    public subscript(key: String) -> JSONValue? {
        get { members.first { $0.key == key }?.value }
        set {
            var members = self.members
            // Release the old storage before mutating so the array is uniquely referenced.
            storage = .members([])
            if let position = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[position].value = newValue } else { members.remove(at: position) }
            } else if let newValue {
                if members.capacity == 0 { members.reserveCapacity(8) }
                members.append((key, newValue))
            }
            storage = .members(members)
        }
    }

    /// Sets `key` only when `value` is non-nil: detail objects leave out facts the vendor did not send.
    public mutating func set(_ key: String, _ value: JSONValue?) {
        guard let value, value != .null else { return }
        self[key] = value
    }

    /// Sets a string member unless the text is nil.
    public mutating func set(_ key: String, text: String?) {
        guard let text else { return }
        self[key] = .string(text)
    }

    public func write(into output: inout [UInt8]) {
        let members: [(key: String, value: JSONValue)]
        switch storage {
        case .rendered(let text):
            output.append(contentsOf: text)
            return
        case .members(let stored): members = stored
        }
        output.append(UInt8(ascii: "{"))
        for (position, member) in members.enumerated() {
            if position > 0 { output.append(UInt8(ascii: ",")) }
            JSONEscaping.appendQuoted(member.key, to: &output)
            output.append(UInt8(ascii: ":"))
            member.value.write(into: &output)
        }
        output.append(UInt8(ascii: "}"))
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        if case .rendered(let a) = lhs.storage, case .rendered(let b) = rhs.storage, a == b { return true }
        let lhs = lhs.members
        let rhs = rhs.members
        return lhs.count == rhs.count && zip(lhs, rhs).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension JSONValue {
    /// Indented JSON for people (`fieldgate normalize --pretty`), members in stored order.
    public func prettyText(indent: String = "  ") -> String {
        var output: [UInt8] = []
        writePretty(into: &output, indent: indent, level: 0)
        return String(decoding: output, as: UTF8.self)
    }

    func writePretty(into output: inout [UInt8], indent: String, level: Int) {
        func newline(_ level: Int) {
            output.append(0x0A)
            for _ in 0..<level { output.append(contentsOf: indent.utf8) }
        }
        switch self {
        case .array(let values) where !values.isEmpty:
            output.append(UInt8(ascii: "["))
            for (position, value) in values.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                newline(level + 1)
                value.writePretty(into: &output, indent: indent, level: level + 1)
            }
            newline(level)
            output.append(UInt8(ascii: "]"))
        case .object(let object) where !object.isEmpty:
            output.append(UInt8(ascii: "{"))
            for (position, member) in object.members.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                newline(level + 1)
                JSONEscaping.appendQuoted(member.key, to: &output)
                output.append(contentsOf: ": ".utf8)
                member.value.writePretty(into: &output, indent: indent, level: level + 1)
            }
            newline(level)
            output.append(UInt8(ascii: "}"))
        default:
            write(into: &output)
        }
    }
}
