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
