package import FieldgateModel

extension OpenAPIDocument {
    /// The document `GET /openapi.yaml` serves: `Contracts/openapi.yaml` with the canonical-event schema bundled in.
    ///
    /// The source refers to `./canonical-event.schema.json`, a file the server does not serve, so client generators
    /// and test tools reading the served copy could not resolve those references. Here the schema's root becomes
    /// `components/schemas/CanonicalEvent`, each of its `$defs` a component of its own name, and every reference
    /// (the document's and the schema's own) points inside the one document. The humans' file stays as written;
    /// `OpenAPIDocumentTests` checks that every reference of the result resolves.
    package static let served: String = {
        do {
            return try bundle(source: source, canonicalEventSchema: canonicalEventSchema)
        } catch {
            // Both inputs are compiled in and the tests bundle them: reaching this is a build that skipped its tests.
            preconditionFailure("the embedded OpenAPI document does not bundle: \(error)")
        }
    }()

    /// The schema file the source document refers to.
    static let schemaFile = "./canonical-event.schema.json"
    /// Where the schema's root goes among the components.
    static let rootComponent = "CanonicalEvent"

    struct BundleError: Error, CustomStringConvertible {
        var description: String
    }

    /// `source` with every `'./canonical-event.schema.json[#pointer]'` reference rewritten into the document and the
    /// schema appended to `components/schemas` as YAML.
    package static func bundle(source: String, canonicalEventSchema: String) throws -> String {
        let schema: JSONObject
        do {
            guard let object = try JSONValue(parsing: Array(canonicalEventSchema.utf8)).objectValue else {
                throw BundleError(description: "the canonical-event schema is not a JSON object")
            }
            schema = object
        } catch let error as BundleError {
            throw error
        } catch {
            throw BundleError(description: "the canonical-event schema is not JSON: \(error)")
        }
        var root = schema
        // `$id` would make the schema's own references resolve against it rather than the document.
        root["$id"] = nil
        root["$schema"] = nil
        root["$defs"] = nil
        var components: [(name: String, schema: JSONValue)] = [(rootComponent, try rebased(.object(root)))]
        for (name, definition) in schema["$defs"]?.objectValue?.members ?? [] {
            components.append((name, try rebased(definition)))
        }

        var lines = try rewritingReferences(in: source).split(separator: "\n", omittingEmptySubsequences: false)
            .map(String.init)
        let schemas = try schemasSection(in: lines)
        let existing = Set(
            lines[schemas].compactMap { line -> Substring? in
                guard line.hasPrefix("    "), !line.hasPrefix("     "), let colon = line.firstIndex(of: ":") else {
                    return nil
                }
                return line[line.index(line.startIndex, offsetBy: 4)..<colon]
            }
        )
        if let taken = components.first(where: { existing.contains(Substring($0.name)) }) {
            throw BundleError(description: "components/schemas already has '\(taken.name)'")
        }
        var block: [String] = []
        for component in components {
            YAMLBlockWriter.member(key: component.name, value: component.schema, indent: 4, into: &block)
        }
        lines.insert(contentsOf: block, at: schemas.upperBound)
        return lines.joined(separator: "\n")
    }

    /// A reference into the schema file (`#/$defs/NAME…` or any other pointer into its root) as one into the
    /// document.
    package static func pointer(forSchemaFragment fragment: String) throws -> String {
        let components = "#/components/schemas/"
        if fragment.isEmpty || fragment == "#" { return components + rootComponent }
        guard fragment.hasPrefix("#/") else {
            throw BundleError(description: "'\(fragment)' is not a JSON pointer into the canonical-event schema")
        }
        let path = fragment.dropFirst(2)
        if path.hasPrefix("$defs/") {
            let name = path.dropFirst("$defs/".count)
            guard !name.isEmpty else { throw BundleError(description: "'\(fragment)' names no definition") }
            return components + name
        }
        guard !path.hasPrefix("$defs") else {
            throw BundleError(description: "'\(fragment)' points at the definitions themselves")
        }
        return components + rootComponent + "/" + path
    }

    /// Every `$ref` in the schema rebased from the schema's root to the document's.
    static func rebased(_ value: JSONValue) throws -> JSONValue {
        switch value {
        case .array(let elements):
            return .array(try elements.map(rebased))
        case .object(let object):
            var members: [(String, JSONValue)] = []
            for (key, member) in object.members {
                if key == "$ref", let target = member.stringValue {
                    guard target.hasPrefix("#") else {
                        throw BundleError(description: "the canonical-event schema refers outside itself: '\(target)'")
                    }
                    members.append((key, .string(try pointer(forSchemaFragment: target))))
                } else {
                    members.append((key, try rebased(member)))
                }
            }
            return .object(JSONObject(members))
        default:
            return value
        }
    }

    /// The source with `'./canonical-event.schema.json'` and `'./canonical-event.schema.json#…'` (single-quoted, as
    /// the document writes every reference) pointing into the document.
    static func rewritingReferences(in source: String) throws -> String {
        let opening = "'" + schemaFile
        var output = ""
        var rest = Substring(source)
        while let start = rest.firstRange(of: opening) {
            output += rest[..<start.lowerBound]
            let afterFile = rest[start.upperBound...]
            guard let close = afterFile.firstIndex(of: "'") else {
                throw BundleError(description: "an unterminated reference to \(schemaFile)")
            }
            let fragment = String(afterFile[..<close])
            output += "'" + (try pointer(forSchemaFragment: fragment)) + "'"
            rest = afterFile[afterFile.index(after: close)...]
        }
        output += rest
        if output.contains(schemaFile + "#") || output.contains("$ref: " + schemaFile) {
            throw BundleError(description: "a reference to \(schemaFile) that is not single-quoted")
        }
        return output
    }

    /// The lines of `components/schemas`' members: from the line after `  schemas:` under `components:` to the last
    /// line indented as a member before the next section or the end of the document.
    static func schemasSection(in lines: [String]) throws -> Range<Int> {
        guard let components = lines.firstIndex(of: "components:"),
            let schemas = lines[(components + 1)...].firstIndex(of: "  schemas:")
        else { throw BundleError(description: "the document has no components/schemas") }
        var end = lines.count
        for index in (schemas + 1)..<lines.count {
            let line = lines[index]
            if line.allSatisfy({ $0 == " " }) { continue }
            if !line.hasPrefix("    ") {
                end = index
                break
            }
        }
        // Insert after the section's last content line, not after the blank lines that close it.
        while end > schemas + 1, lines[end - 1].allSatisfy({ $0 == " " }) { end -= 1 }
        return (schemas + 1)..<end
    }
}

/// Writes a JSON value as block YAML that every YAML parser reads the same way (YAML 1.1 as well as 1.2).
///
/// Strings are written as JSON strings, which are valid YAML double-quoted scalars; keys stay plain when they are
/// identifiers no parser can read as anything but a string; arrays of scalars are written in flow style.
package enum YAMLBlockWriter {
    package static func member(key: String, value: JSONValue, indent: Int, into lines: inout [String]) {
        let prefix = String(repeating: " ", count: indent) + self.key(key) + ":"
        switch value {
        case .object(let object) where !object.isEmpty:
            lines.append(prefix)
            for (childKey, child) in object.members {
                member(key: childKey, value: child, indent: indent + 2, into: &lines)
            }
        case .array(let elements) where !elements.isEmpty && !elements.allSatisfy(isScalar):
            lines.append(prefix)
            for element in elements { item(element, indent: indent + 2, into: &lines) }
        default:
            lines.append(prefix + " " + flow(value))
        }
    }

    static func item(_ value: JSONValue, indent: Int, into lines: inout [String]) {
        let dash = String(repeating: " ", count: indent) + "-"
        switch value {
        case .object(let object) where !object.isEmpty:
            // The first member goes on the dash's line, the others below it at the same column.
            var members: [String] = []
            for (key, child) in object.members { member(key: key, value: child, indent: indent + 2, into: &members) }
            lines.append(dash + " " + members[0].dropFirst(indent + 2))
            lines.append(contentsOf: members.dropFirst())
        case .array(let elements) where !elements.isEmpty && !elements.allSatisfy(isScalar):
            lines.append(dash)
            for element in elements { item(element, indent: indent + 2, into: &lines) }
        default:
            lines.append(dash + " " + flow(value))
        }
    }

    static func isScalar(_ value: JSONValue) -> Bool {
        switch value {
        case .array, .object: false
        default: true
        }
    }

    /// A scalar, an empty collection or an array of scalars on one line.
    static func flow(_ value: JSONValue) -> String {
        switch value {
        case .array(let elements): "[" + elements.map(flow).joined(separator: ", ") + "]"
        case .object: "{}"
        default: value.jsonText
        }
    }

    /// Plain when the key is an identifier (letters, digits, `_`, `.`, `-`, a leading `$`) that YAML 1.1 does not
    /// read as a boolean or null; a JSON string otherwise.
    package static func key(_ key: String) -> String {
        let identifier =
            key.utf8.first.map { $0 == UInt8(ascii: "$") || isLetter($0) } == true
            && key.utf8.allSatisfy { isLetter($0) || (0x30...0x39).contains($0) || "_.-$".utf8.contains($0) }
        let special: Set<String> = ["y", "n", "yes", "no", "on", "off", "true", "false", "null"]
        if identifier, !special.contains(key.lowercased()) { return key }
        return JSONValue.string(key).jsonText
    }

    static func isLetter(_ byte: UInt8) -> Bool {
        (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }
}
