import FieldgateModel
import Yams

/// Reads YAML into ``ConfigNode``s with line numbers, expanding `${VAR}` from the environment in scalars.
enum YAMLConfigReader {
    static func read(
        _ yaml: String,
        file: String?,
        environment: [String: String]
    ) throws(ConfigurationError) -> ConfigNode {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigurationError(file: file, line: line(of: error), "not valid YAML: \(summary(of: error))")
        } catch {
            throw ConfigurationError(file: file, line: nil, "not valid YAML: \(error)")
        }
        guard let root else { return .null(line: 1) }
        do {
            return try convert(root, environment: environment)
        } catch {
            var error = error
            error.file = file
            throw error
        }
    }

    static func convert(_ node: Node, environment: [String: String]) throws(ConfigurationError) -> ConfigNode {
        let line = node.mark?.line ?? 0
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain, node.null != nil { return .null(line: line) }
            return .scalar(try expand(scalar.string, line: line, environment: environment), line: line)
        case .sequence(let sequence):
            var elements: [ConfigNode] = []
            for element in sequence { elements.append(try convert(element, environment: environment)) }
            return .sequence(elements, line: line)
        case .mapping(let mapping):
            var members: [(key: String, value: ConfigNode)] = []
            var seen: Set<String> = []
            for (key, value) in mapping {
                guard let name = key.string else {
                    throw ConfigurationError(line: key.mark?.line ?? line, "mapping keys must be strings")
                }
                guard seen.insert(name).inserted else {
                    throw ConfigurationError(line: key.mark?.line ?? line, "key '\(name)' appears twice")
                }
                members.append((name, try convert(value, environment: environment)))
            }
            return .mapping(members, line: line)
        case .alias:
            throw ConfigurationError(line: line, "YAML aliases are not supported")
        }
    }

    /// Replaces `${NAME}` with the environment variable's value. An unset variable is an error, not "", and so is
    /// one that is set but empty: `${VAR}` holds secrets and addresses, and an empty one is a deployment that
    /// forgot to fill it in, never a value to run with (an empty credential would switch a check off).
    static func expand(_ text: String, line: Int, environment: [String: String]) throws(ConfigurationError) -> String {
        guard text.contains("${") else { return text }
        var result = ""
        var rest = Substring(text)
        while let start = rest.firstRange(of: "${") {
            result += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else {
                throw ConfigurationError(line: line, "unterminated '${' in \"\(text)\"")
            }
            let name = String(rest[start.upperBound..<end])
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw ConfigurationError(line: line, "invalid environment variable name '\(name)'")
            }
            guard let value = environment[name] else {
                throw ConfigurationError(line: line, "environment variable \(name) is not set")
            }
            guard !value.isEmpty else {
                throw ConfigurationError(line: line, "environment variable \(name) is set but empty")
            }
            result += value
            rest = rest[rest.index(after: end)...]
        }
        return result + rest
    }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        case .duplicatedKeysInMapping(_, let context): context.mark.line
        default: nil
        }
    }

    static func summary(of error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _),
            .composer(let context, let problem, _, _):
            [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
        case .duplicatedKeysInMapping(let duplicates, _): "duplicated keys \(duplicates.joined(separator: ", "))"
        default: "\(error)"
        }
    }
}
