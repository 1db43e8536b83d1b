/// A configuration value with the line it came from, independent of the YAML library.
///
/// Adapters read their own tenant options from it, so adding a vendor never means changing how the core
/// reads `fieldgate.yaml`, and every complaint can still name the line.
public indirect enum ConfigNode: Sendable {
    case scalar(String, line: Int)
    case sequence([ConfigNode], line: Int)
    case mapping([(key: String, value: ConfigNode)], line: Int)
    case null(line: Int)

    public var line: Int {
        switch self {
        case .scalar(_, let line), .sequence(_, let line), .mapping(_, let line), .null(let line): line
        }
    }

    public var scalar: String? {
        if case .scalar(let text, _) = self { return text }
        return nil
    }

    public subscript(key: String) -> ConfigNode? {
        if case .mapping(let members, _) = self { return members.first { $0.key == key }?.value }
        return nil
    }

    /// A required string; throws naming the key and line.
    public func string(_ key: String) throws(ConfigurationError) -> String {
        guard let node = self[key] else { throw ConfigurationError(line: line, "missing required key '\(key)'") }
        guard let text = node.scalar, !text.isEmpty else {
            throw ConfigurationError(line: node.line, "'\(key)' must be a non-empty string")
        }
        return text
    }

    /// An optional string; throws when present but not a scalar.
    public func optionalString(_ key: String) throws(ConfigurationError) -> String? {
        guard let node = self[key] else { return nil }
        if case .null = node { return nil }
        guard let text = node.scalar else { throw ConfigurationError(line: node.line, "'\(key)' must be a string") }
        return text
    }

    /// Whether this is a sequence with no elements (`[]`).
    public var isEmptySequence: Bool {
        if case .sequence(let elements, _) = self { return elements.isEmpty }
        return false
    }

    /// A credential given as one string or as a list of strings (rotation: a request may present any entry).
    /// Every entry must be a non-empty string without surrounding whitespace or control characters (HTTP strips
    /// the whitespace around a field value, so such a secret could never match), and a list must not be empty.
    public func credentialValues(named name: String) throws(ConfigurationError) -> [String] {
        func check(_ node: ConfigNode, _ label: String) throws(ConfigurationError) -> String {
            guard let text = node.scalar else {
                throw ConfigurationError(line: node.line, "\(label) must be a string")
            }
            guard !text.isEmpty else {
                throw ConfigurationError(line: node.line, "\(label) is empty: an empty credential is refused")
            }
            guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last,
                !first.properties.isWhitespace, !last.properties.isWhitespace
            else {
                throw ConfigurationError(
                    line: node.line,
                    "\(label) starts or ends with whitespace, which HTTP strips from header values: it could never match"
                )
            }
            guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw ConfigurationError(line: node.line, "\(label) contains a control character")
            }
            return text
        }
        switch self {
        case .sequence(let elements, _):
            guard !elements.isEmpty else {
                throw ConfigurationError(line: line, "\(name) is an empty list: give at least one value")
            }
            var values: [String] = []
            for (position, element) in elements.enumerated() {
                values.append(try check(element, "\(name)[\(position)]"))
            }
            return values
        case .null:
            throw ConfigurationError(line: line, "\(name) is empty: an empty credential is refused")
        default:
            return [try check(self, name)]
        }
    }

    /// A required HTTP header name (an RFC 9110 token: letters, digits and ``!#$%&'*+-.^_`|~``).
    public func headerName(_ key: String) throws(ConfigurationError) -> String {
        let name = try string(key)
        guard Self.isHeaderName(name) else {
            throw ConfigurationError(line: self[key]?.line ?? line, "'\(name)' is not a valid HTTP header name")
        }
        return name
    }

    /// Whether `name` is an RFC 9110 field name (a token).
    public static func isHeaderName(_ name: String) -> Bool {
        !name.isEmpty
            && name.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || "!#$%&'*+-.^_`|~".utf8.contains(byte)
            }
    }

    /// Refuses keys of a mapping other than `allowed`, naming the first unknown one and its line: a misspelt
    /// option (`token:` for `tokens:`) must not silently switch a check off.
    public func refuseUnknownKeys(_ allowed: [String], in name: String) throws(ConfigurationError) {
        for (key, value) in try mapping(named: name) where !allowed.contains(key) {
            throw ConfigurationError(
                line: value.line,
                "unknown key '\(key)' in \(name) (expected one of: \(allowed.joined(separator: ", ")))"
            )
        }
    }

    /// The members of a mapping; throws when this is not one.
    public func mapping(named name: String) throws(ConfigurationError) -> [(key: String, value: ConfigNode)] {
        switch self {
        case .mapping(let members, _): return members
        case .null: return []
        default: throw ConfigurationError(line: line, "'\(name)' must be a mapping")
        }
    }

    /// The elements of a sequence; throws when this is not one.
    public func sequence(named name: String) throws(ConfigurationError) -> [ConfigNode] {
        switch self {
        case .sequence(let elements, _): return elements
        case .null: return []
        default: throw ConfigurationError(line: line, "'\(name)' must be a list")
        }
    }
}

/// A configuration problem: the file, the line and the reason, so that start-up can refuse precisely.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String?
    public var line: Int?
    public var reason: String

    public init(file: String? = nil, line: Int?, _ reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    public var description: String {
        var location = file ?? "configuration"
        if let line { location += ":\(line)" }
        return "\(location): \(reason)"
    }
}
