import FieldgateCore
import FieldgateHTTP
import FieldgateModel
import FieldgateTestSupport
import Foundation
import Testing
import Yams

/// The served OpenAPI document: generated from `Contracts/`, self-contained, and in step with the README.
@Suite struct OpenAPIDocumentTests {
    static var contractsDocument: String {
        get throws { try RepositoryPaths.read(RepositoryPaths.contracts.appendingPathComponent("openapi.yaml")) }
    }

    static var contractsSchema: String {
        get throws {
            try RepositoryPaths.read(RepositoryPaths.contracts.appendingPathComponent("canonical-event.schema.json"))
        }
    }

    /// Every code of the catalogue is documented with its status, so no client meets a code the API never named.
    @Test func everyProblemCodeIsDocumentedUnderItsStatus() throws {
        let lines = try Self.contractsDocument.components(separatedBy: "\n")
        let start = try #require(lines.firstIndex { $0.contains("Stable problem code:") })
        let end = try #require(lines[start...].firstIndex { $0.contains("examples:") })
        let section = Array(lines[start..<end])
        for code in Problem.Code.catalogue {
            guard let line = section.firstIndex(where: { $0.contains("`\(code.rawValue)`") }) else {
                Issue.record("problem code \(code.rawValue) is not in Contracts/openapi.yaml's list of codes")
                continue
            }
            // The status is on the code's line or on the bullet that the line continues.
            let bullet = section[...line].last { $0.trimmingCharacters(in: .whitespaces).hasPrefix("* ") } ?? ""
            #expect(bullet.contains("\(code.status) —"), "\(code.rawValue) is documented under '\(bullet)'")
        }
    }

    @Test func theEmbeddedSourcesAreTheContractsFiles() throws {
        #expect(OpenAPIDocument.source == (try Self.contractsDocument), "run scripts/embed-openapi.sh")
        #expect(OpenAPIDocument.canonicalEventSchema == (try Self.contractsSchema), "run scripts/embed-openapi.sh")
    }

    @Test func theServedDocumentIsTheContractsDocumentBundled() throws {
        let bundled = try OpenAPIDocument.bundle(
            source: try Self.contractsDocument,
            canonicalEventSchema: try Self.contractsSchema
        )
        #expect(OpenAPIDocument.served == bundled)
    }

    @Test func everyReferenceOfTheServedDocumentResolvesInsideIt() throws {
        let document = try #require(try Yams.compose(yaml: OpenAPIDocument.served))
        let references = Self.references(in: document)
        #expect(references.count > 100, "the document and the schema use references throughout")
        for reference in references {
            #expect(reference.hasPrefix("#/"), "\(reference) points outside the served document")
            #expect(Self.resolve(reference, in: document) != nil, "\(reference) does not resolve")
        }
        #expect(!OpenAPIDocument.served.contains("canonical-event.schema.json'"))
    }

    @Test func theCanonicalEventSchemaBecomesComponents() throws {
        let document = try #require(try Yams.compose(yaml: OpenAPIDocument.served))
        let schemas = try #require(document["components"]?["schemas"])
        let schema = try #require(try JSONValue(parsing: Array(Self.contractsSchema.utf8)).objectValue)
        let root = try #require(schemas["CanonicalEvent"])
        #expect(root["$id"] == nil, "an $id would rebase the references inside the schema")
        #expect(
            root["required"]?.sequence?.compactMap(\.string) == schema["required"]?.arrayValue?.map { $0.stringValue }
        )
        for name in try #require(schema["$defs"]?.objectValue).keys {
            #expect(schemas[name] != nil, "$defs/\(name) is not among the components")
        }
        // The document's own components are all still there.
        let source = try #require(try Yams.compose(yaml: Self.contractsDocument))
        for case (let key, _) in try #require(source["components"]?["schemas"]?.mapping) {
            #expect(schemas[key] != nil)
        }
        #expect(
            document["paths"]?["/v1/events"]?["get"]?["parameters"]?.sequence?.contains {
                $0["schema"]?["$ref"]?.string == "#/components/schemas/CanonicalEvent/properties/type"
            } == true
        )
    }

    @Test func aPointerIntoTheSchemaMapsIntoTheComponents() throws {
        #expect(try OpenAPIDocument.pointer(forSchemaFragment: "") == "#/components/schemas/CanonicalEvent")
        #expect(try OpenAPIDocument.pointer(forSchemaFragment: "#/$defs/jobStatus") == "#/components/schemas/jobStatus")
        #expect(
            try OpenAPIDocument.pointer(forSchemaFragment: "#/$defs/job/properties/id")
                == "#/components/schemas/job/properties/id"
        )
        #expect(
            try OpenAPIDocument.pointer(forSchemaFragment: "#/properties/type")
                == "#/components/schemas/CanonicalEvent/properties/type"
        )
        #expect(throws: (any Error).self) { try OpenAPIDocument.pointer(forSchemaFragment: "#/$defs") }
        #expect(throws: (any Error).self) { try OpenAPIDocument.pointer(forSchemaFragment: "other.json") }
    }

    @Test func bundlingRefusesACollisionAndAnUnquotedReference() throws {
        let minimal = """
            openapi: 3.1.0
            components:
              schemas:
                jobStatus: {type: string}
            """
        let schema = #"{"$defs":{"jobStatus":{"type":"string"}},"type":"object"}"#
        #expect(throws: (any Error).self) { try OpenAPIDocument.bundle(source: minimal, canonicalEventSchema: schema) }
        let unquoted = """
            openapi: 3.1.0
            paths: {x: {$ref: ./canonical-event.schema.json#/$defs/a}}
            components:
              schemas:
                A: {type: string}
            """
        #expect(throws: (any Error).self) { try OpenAPIDocument.bundle(source: unquoted, canonicalEventSchema: schema) }
    }

    @Test func keysThatYAMLWouldReadAsSomethingElseAreQuoted() {
        #expect(YAMLBlockWriter.key("type") == "type")
        #expect(YAMLBlockWriter.key("$ref") == "$ref")
        #expect(YAMLBlockWriter.key("detail.job.created") == "detail.job.created")
        #expect(YAMLBlockWriter.key("on") == #""on""#)
        #expect(YAMLBlockWriter.key("No") == #""No""#)
        #expect(YAMLBlockWriter.key("2xx") == #""2xx""#)
        #expect(YAMLBlockWriter.key("a b") == #""a b""#)
        #expect(YAMLBlockWriter.key("") == #""""#)
        var lines: [String] = []
        YAMLBlockWriter.member(
            key: "x",
            value: .object([
                "enum": .array(["a", .null]), "items": .array([.object(["type": "string", "minLength": .integer(1)])]),
                "empty": .object([:]), "text": "say \"hi\": # not a comment",
            ]),
            indent: 0,
            into: &lines
        )
        #expect(
            lines == [
                "x:", #"  enum: ["a", null]"#, "  items:", #"    - type: "string""#, "      minLength: 1",
                "  empty: {}", #"  text: "say \"hi\": # not a comment""#,
            ]
        )
        let parsed = try? Yams.compose(yaml: lines.joined(separator: "\n"))
        #expect(parsed?["x"]?["text"]?.string == #"say "hi": # not a comment"#)
        #expect(parsed?["x"]?["items"]?[0]?["minLength"]?.int == 1)
    }

    // MARK: The README

    /// Every admin route the README's table lists is an operation of the document, and every operation of the
    /// document outside `/webhooks/` is in the table, with the same query parameters where the table lists them.
    @Test func theReadmeAdminTableListsExactlyTheDocumentsOperations() throws {
        let readme = try RepositoryPaths.read(RepositoryPaths.root.appendingPathComponent("README.md"))
        let rows = try Self.adminTableRoutes(readme)
        #expect(rows.count > 10)
        let document = try #require(try Yams.compose(yaml: OpenAPIDocument.served))
        var operations: Set<String> = []
        var queryNames: [String: Set<String>] = [:]
        for case (let path, let item) in try #require(document["paths"]?.mapping) {
            guard let path = path.string, !path.hasPrefix("/webhooks/") else { continue }
            for case (let method, let operation) in try #require(item.mapping) {
                guard let method = method.string, method != "parameters" else { continue }
                let route = "\(method.uppercased()) \(path)"
                operations.insert(route)
                let parameters = (operation["parameters"]?.sequence ?? []) + (item["parameters"]?.sequence ?? [])
                queryNames[route] = Set(
                    parameters.compactMap { parameter -> String? in
                        let resolved = parameter["$ref"]?.string.flatMap { Self.resolve($0, in: document) } ?? parameter
                        return resolved["in"]?.string == "query" ? resolved["name"]?.string : nil
                    }
                )
            }
        }
        let listed = Set(rows.map(\.route))
        #expect(listed.subtracting(operations).sorted() == [], "README routes the document does not have")
        #expect(operations.subtracting(listed).sorted() == [], "operations the README's admin table leaves out")
        for row in rows where !row.query.isEmpty {
            #expect(row.query == queryNames[row.route], "\(row.route): the README's query parameters")
        }
    }

    /// `GET/POST /v1/subscribers` and `POST /v1/subscribers/{id}/recover?since=` in the first column of the table
    /// under `## Admin API`, one route per method.
    static func adminTableRoutes(_ readme: String) throws -> [(route: String, query: Set<String>)] {
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false)
        guard let heading = lines.firstIndex(of: "## Admin API") else { throw TestSupportError("no ## Admin API") }
        var routes: [(String, Set<String>)] = []
        for line in lines[heading...].drop(while: { !$0.hasPrefix("| route") }).dropFirst(2) {
            guard line.hasPrefix("|") else { break }
            let cell = line.split(separator: "|", omittingEmptySubsequences: true).first ?? ""
            for span in cell.split(separator: "`").enumerated() where span.offset % 2 == 1 {
                let parts = span.element.split(separator: " ", maxSplits: 1)
                guard parts.count == 2 else { throw TestSupportError("not METHOD /path: \(span.element)") }
                let target = parts[1].split(separator: "?", maxSplits: 1)
                let query = Set(
                    (target.count > 1 ? target[1] : "").split(separator: "&").map {
                        String($0.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0])
                    }
                )
                for method in parts[0].split(separator: "/") { routes.append(("\(method) \(target[0])", query)) }
            }
        }
        return routes
    }

    // MARK: Walking the document

    static func references(in node: Node) -> [String] {
        switch node {
        case .mapping(let mapping):
            mapping.flatMap { key, value in
                key.string == "$ref" ? [value.string ?? ""] : references(in: value)
            }
        case .sequence(let sequence): sequence.flatMap(references)
        default: []
        }
    }

    /// The node a `#/…` JSON pointer names, or nil.
    static func resolve(_ reference: String, in document: Node) -> Node? {
        guard reference.hasPrefix("#") else { return nil }
        var node = document
        for token in reference.dropFirst().split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if let sequence = node.sequence {
                guard let index = Int(key), sequence.indices.contains(index) else { return nil }
                node = sequence[index]
            } else {
                guard let child = node[key] else { return nil }
                node = child
            }
        }
        return node
    }
}
