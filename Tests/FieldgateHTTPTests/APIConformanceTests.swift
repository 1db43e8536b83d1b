import AsyncHTTPClient
import FieldgateConsole
import FieldgateCore
import FieldgateHTTP
import FieldgateModel
import FieldgateTestSupport
import FieldgateVendors
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOHTTP1
import Testing
import Yams

import struct NIOCore.ByteBuffer

/// The API as its OpenAPI document says: one test per finding of schemathesis (issue 17), at the router.
@Suite("The API as its document says")
struct APIConformanceTests {
    func withGateway(_ body: @Sendable (GatewayHarness, any TestClientProtocol) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: adminTestConfiguration,
            databasePath: directory.path("conformance.db")
        )
        try await harness.application.test(.router) { client in try await body(harness, client) }
    }

    static var document: Node {
        get throws { try #require(try Yams.compose(yaml: OpenAPIDocument.served)) }
    }

    // MARK: Query parameters: enforced exactly as documented

    /// `GET /v1/events?vendor=AAA` answered 200: a vendor outside the vocabulary filtered nothing.
    @Test(arguments: ["/v1/events", "/v1/jobs", "/v1/quarantine"])
    func aVendorOutsideTheVocabularyIs400(path: String) async throws {
        try await withGateway { _, client in
            let refused = try await client.admin("\(path)?vendor=AAA")
            #expect(refused.status == .badRequest)
            #expect(refused.headers[.contentType] == "application/problem+json")
            #expect(try refused.json["code"]?.stringValue == "invalid-query")
            #expect(try refused.json["detail"]?.stringValue?.contains("hellotracks, techlink, tracktik") == true)
            #expect(try await client.admin("\(path)?vendor=techlink").status == .ok)
        }
    }

    @Test func theVendorVocabularyIsTheVendorsThisBuildHas() throws {
        let vendors = try #require(try Self.document["components"]?["schemas"]?["Vendor"]?["enum"]?.sequence)
        #expect(vendors.compactMap(\.string).sorted() == BuiltInVendors.adapters.map(\.vendor).sorted())
    }

    /// `GET /v1/deliveries?event=` answered 200: an empty value was read as "no filter".
    @Test(arguments: [
        "/v1/deliveries?event=", "/v1/deliveries?subscriber=", "/v1/deliveries?state=", "/v1/deliveries?cursor=",
        "/v1/events?tenant=", "/v1/events?job=", "/v1/events?since=", "/v1/events?limit=", "/v1/jobs?vendor=",
        "/v1/jobs?cursor=", "/v1/quarantine?tenant", "/v1/subscribers/x/recover?since=",
    ])
    func anEmptyValueIs400(uri: String) async throws {
        try await withGateway { _, client in
            let created = try await client.admin(
                "/v1/subscribers",
                method: .post,
                json: #"{"id":"x","url":"http://127.0.0.1:9/hooks"}"#
            )
            #expect(created.status == .created)
            let method: HTTPRequest.Method = uri.contains("recover") ? .post : .get
            let refused = try await client.admin(uri, method: method)
            #expect(refused.status == .badRequest, "\(uri)")
            #expect(try refused.json["code"]?.stringValue == "invalid-query")
        }
    }

    @Test func valuesOutsideTheirPatternsAre400() async throws {
        try await withGateway { _, client in
            for uri in [
                "/v1/deliveries?event=ABCDEF0123456789abcdef0123456789", "/v1/deliveries?event=123",
                "/v1/deliveries?subscriber=a%2Fb", "/v1/deliveries?subscriber=a%20b", "/v1/events?tenant=a%20b",
                "/v1/events?tenant=a%3Fb", "/v1/quarantine?tenant=%00", "/v1/events?limit=%2B5", "/v1/events?limit=0",
                "/v1/events?limit=501", "/v1/events?type=job", "/v1/jobs?status=busy",
                "/v1/deliveries?state=lost", "/v1/events?x=1", "/v1/events?vendor=techlink&vendor=techlink",
                "/v1/events?cursor=%",
            ] {
                let refused = try await client.admin(uri)
                #expect(refused.status == .badRequest, "\(uri)")
                #expect(try refused.json["code"]?.stringValue == "invalid-query", "\(uri)")
            }
            for uri in [
                "/v1/deliveries?event=abcdef0123456789abcdef0123456789", "/v1/deliveries?subscriber=billing.v2~x",
                "/v1/events?tenant=cobalt-pos", "/v1/events?limit=500", "/v1/events?limit=007", "/v1/jobs?status=open",
            ] {
                #expect(try await client.admin(uri).status == .ok, "\(uri)")
            }
        }
    }

    /// A `cursor` the API did not return answered 400 while the document allowed any string: now the document
    /// states the form, and every value of that form is a position.
    @Test func everyCursorOfTheDocumentedFormIsAPositionAndNoOtherIs() async throws {
        try await withGateway { _, client in
            _ = try await client.send(statusChange("1", from: "10", to: "20"))
            _ = try await client.send(statusChange("2", from: "10", to: "20"))
            for path in ["/v1/events", "/v1/quarantine", "/v1/deliveries"] {
                for cursor in ["1", "999999999999999999", "42"] {
                    #expect(try await client.admin("\(path)?cursor=\(cursor)").status == .ok, "\(path) \(cursor)")
                }
                for cursor in ["0", "01", "-1", "1.5", "abc", "1000000000000000000", "%C2%99"] {
                    let refused = try await client.admin("\(path)?cursor=\(cursor)")
                    #expect(refused.status == .badRequest, "\(path) \(cursor)")
                }
            }
            let page = try await client.admin("/v1/events?limit=1").json
            let next = try #require(page["nextCursor"]?.stringValue)
            let second = try await client.admin("/v1/events?limit=1&cursor=\(next)").json
            #expect(second["events"]?.arrayValue?.count == 1)
            #expect(second["events"]?.arrayValue?.first?["id"] != page["events"]?.arrayValue?.first?["id"])

            for cursor in [
                "1793049246000.dGVjaGxpbms6Y29iYWx0LXBvczox", "-5.YWJj", "0.", "7.__8", "123456789012345.AAAA",
            ] {
                #expect(try await client.admin("/v1/jobs?cursor=\(cursor)").status == .ok, "\(cursor)")
            }
            for cursor in ["x", "1.a", "1234567890123456.YWJj", "1.YWJj%3D", "%C2%99", "1.YW%20J"] {
                #expect(try await client.admin("/v1/jobs?cursor=\(cursor)").status == .badRequest, "\(cursor)")
            }
            let jobs = try await client.admin("/v1/jobs?limit=1").json
            let jobCursor = try #require(jobs["nextCursor"]?.stringValue)
            let nextJobs = try await client.admin("/v1/jobs?limit=1&cursor=\(jobCursor)").json
            #expect(nextJobs["jobs"]?.arrayValue?.count == 1)
            #expect(nextJobs["jobs"]?.arrayValue?.first?["key"] != jobs["jobs"]?.arrayValue?.first?["key"])
        }
    }

    /// Times are RFC 3339 `date-time`, exactly: what JSON Schema's `format: date-time` allows is accepted (any
    /// year, an offset, lowercase `t` and `z`, a leap second), and nothing looser.
    @Test func timesAreExactlyRFC3339DateTimes() async throws {
        try await withGateway { _, client in
            for text in [
                "2026-10-26T21:14:06Z", "0062-09-21T15:34:53.97Z", "2026-10-26t21:14:06z", "2026-10-26T21:14:06+02:00",
                "2026-10-26T21:14:06%2B02:00", "2026-10-26T21:14:06.123456789-07:30", "2016-12-31T23:59:60Z",
            ] {
                let events = try await client.admin("/v1/events?since=\(text)")
                #expect(events.status == .ok, "\(text)")
                let jobs = try await client.admin("/v1/jobs?updatedBefore=\(text)")
                #expect(jobs.status == .ok, "\(text)")
            }
            for text in [
                "2026-10-26%2021:14:06Z", "2026-10-26T21:14Z", "2026-10-26T21:14:06", "2026-10-26T21:14:06%20PDT",
                "2026-10-26T21:14:06+0200", "2026-10-26T21:14:06.Z", "2026-02-30T00:00:00Z", "26-10-26T21:14:06Z",
                "2026-10-26T24:00:00Z", "2026-10-26T21:14:06Z%20",
            ] {
                let refused = try await client.admin("/v1/events?until=\(text)")
                #expect(refused.status == .badRequest, "\(text)")
            }
        }
    }

    @Test func theLiveStreamsVendorsAreTheVocabularyToo() async throws {
        try await withGateway { _, client in
            let refused = try await client.admin("/v1/stream?vendors=techlink,AAA")
            #expect(refused.status == .badRequest)
            #expect(try refused.json["detail"]?.stringValue?.contains("'AAA'") == true)
        }
    }

    // MARK: Routes: the router has what the document says, the console aside

    /// Routes added after the document was written (`GET /v1/jobs`, `POST /v1/subscribers/{id}/secret`) had to be
    /// found by hand. Every route of the router, the console's included, is an operation of the document, and every
    /// operation outside `/webhooks/` (served by the ingest middleware, not by routes) is a route. The console under
    /// `/console` is the one deliberate exception: HTML pages and form posts for people, behind a session cookie
    /// and a CSRF token, not an API to generate clients for (docs/DECISIONS.md).
    @Test func everyRouteIsAnOperationOfTheDocumentExceptTheConsole() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: adminTestConfiguration,
            databasePath: directory.path("routes.db")
        )
        var dependencies = harness.dependencies
        dependencies.console = ConsoleOptions(
            configuration: try GatewayConfiguration.parse(yaml: adminTestConfiguration),
            adapters: GatewayHarness.adapters,
            counts: harness.store
        )
        let registered = Set(buildRouter(dependencies).routes.map { "\($0.method.rawValue) \($0.path.description)" })
        var routes: Set<String> = []
        var console: Set<String> = []
        for route in registered {
            let path = route.split(separator: " ", maxSplits: 1)[1]
            if path == "/console" || path.hasPrefix("/console/") {
                console.insert(route)
            } else if route.hasPrefix("HEAD "), registered.contains("GET " + path) {
                continue  // generated from GET; the document says a path that answers GET answers HEAD
            } else {
                routes.insert(route)
            }
        }
        var operations: Set<String> = []
        for case (let path, let item) in try #require(try Self.document["paths"]?.mapping) {
            let path = try #require(path.string)
            guard !path.hasPrefix("/webhooks/") else { continue }
            for method in item.mapping?.keys.compactMap(\.string) ?? [] where method != "parameters" {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        #expect(operations.count > 20)
        #expect(routes.subtracting(operations).sorted() == [], "routes the document does not have")
        #expect(operations.subtracting(routes).sorted() == [], "operations no route answers")
        #expect(console.contains("GET /console/overview"), "the console was mounted: \(console.sorted())")
        #expect(
            try Self.document["paths"]?.mapping?.keys.contains { $0.string?.hasPrefix("/console") == true } == false
        )
    }

    // MARK: Ingest bodies

    /// schemathesis, given a tenant's credentials, sent `{"event": ""}` and `action=&data=` as schema-valid bodies:
    /// the document's prose said an empty one is 422 `missing-field`, its schemas did not. They say it now, and the
    /// server answers it as they say (and quarantines it: it passed authentication).
    @Test func anEmptyRequiredIngestFieldIsOutsideItsSchemaAnd422() async throws {
        let schemas = try #require(try Self.document["components"]?["schemas"])
        #expect(schemas["TechLinkEvent"]?["properties"]?["event"]?["minLength"]?.int == 1)
        for field in ["id", "action", "data"] {
            #expect(schemas["HellotracksForm"]?["properties"]?[field]?["minLength"]?.int == 1, "\(field)")
        }
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: adminTestConfiguration + "\n  - {vendor: hellotracks, tenant: rapidfix}\n",
            databasePath: directory.path("ingest.db")
        )
        try await harness.application.test(.router) { client in
            let bodies: [(uri: String, contentType: String, body: String, field: String)] = [
                ("/webhooks/techlink/cobalt-pos", "application/json", #"{"event":"","workorder_id":"7"}"#, "event"),
                (
                    "/webhooks/hellotracks/rapidfix", "application/x-www-form-urlencoded", "id=1&action=&data=[{}]",
                    "action"
                ),
                (
                    "/webhooks/hellotracks/rapidfix", "application/x-www-form-urlencoded",
                    "id=1&action=jobcreated&data=", "data"
                ),
            ]
            for (uri, contentType, body, field) in bodies {
                let response = try await client.execute(
                    uri: uri,
                    method: .post,
                    headers: [.contentType: contentType],
                    body: ByteBuffer(string: body)
                )
                #expect(response.status == .unprocessableContent, "\(body)")
                #expect(try response.json["code"]?.stringValue == "missing-field", "\(body)")
                #expect(try response.json["detail"]?.stringValue?.contains("'\(field)'") == true, "\(body)")
            }
            let quarantined = try await client.admin("/v1/quarantine").json
            #expect(quarantined["requests"]?.arrayValue?.count == 3)
        }
    }

    // MARK: The live stream's messages

    /// schemathesis read the stream's `schema: {type: string}` as the schema of each message (OpenAPI 3.2's
    /// `itemSchema`, which tools apply to a 3.1 document's event stream) and found every event replayed after a
    /// `Last-Event-ID` in violation. The document describes one message, and each message is that: an `id` of the
    /// EventId form, `event` the event's type, `data` the canonical event with that ID as one line of JSON.
    @Test func eachStreamMessageIsTheDocumentsMessageSchema() async throws {
        let responses = try #require(try Self.document["paths"]?["/v1/stream"]?["get"]?["responses"]?.mapping)
        let ok = try #require(responses.first { $0.key.string == "200" }?.value)
        let content = try #require(ok["content"]?["text/event-stream"])
        let message = try #require(content["schema"])
        #expect(message["type"]?.string == "object")
        #expect(Set(message["required"]?.sequence?.compactMap(\.string) ?? []) == ["id", "event", "data"])
        #expect(message["properties"]?["data"]?["contentMediaType"]?.string == "application/json")
        #expect(message["properties"]?["data"]?["contentSchema"]?["$ref"]?.string == "#/components/schemas/CloudEvent")

        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: adminTestConfiguration,
            databasePath: directory.path("stream.db")
        )
        try await harness.application.test(.live) { client in
            var ids: [String] = []
            for index in 0..<3 {
                let accepted = try await client.send(statusChange("M\(index)", from: "20", to: "22"))
                ids.append(try #require(try accepted.json["id"]?.stringValue))
            }
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(client.port!)/v1/stream")
            request.headers.add(name: "Authorization", value: "Bearer \(GatewayHarness.adminToken)")
            request.headers.add(name: "Last-Event-ID", value: ids[0])
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(20))
            #expect(response.status == .ok)
            var text = ""
            for try await buffer in response.body {
                text += String(buffer: buffer)
                if text.components(separatedBy: "\n\n").filter({ $0.contains("data: ") }).count == 2 { break }
            }
            // Messages are blocks separated by an empty line; comment blocks (`: …`) are not messages.
            let messages = text.components(separatedBy: "\n\n").filter { $0.contains("data: ") }
            #expect(messages.count == 2)
            for (message, expected) in zip(messages, ids.dropFirst()) {
                var fields: [String: String] = [:]
                for line in message.split(separator: "\n") {
                    let parts = line.split(separator: ":", maxSplits: 1)
                    #expect(parts.count == 2 && fields[String(parts[0])] == nil, "one field per line: \(line)")
                    fields[String(parts[0])] = parts.count == 2 ? String(parts[1].dropFirst()) : nil
                }
                #expect(fields.keys.sorted() == ["data", "event", "id"])
                #expect(fields["id"] == expected)
                #expect(fields["id"]?.wholeMatch(of: /[0-9a-f]{32}/) != nil)
                let event = try JSONValue(parsing: Array(try #require(fields["data"]).utf8))
                #expect(event["id"]?.stringValue == expected)
                #expect(event["specversion"]?.stringValue == "1.0")
                #expect(event["type"]?.stringValue == fields["event"])
            }
        }
    }

    // MARK: Methods: 405 with Allow on every route

    /// `TRACE /healthz`, `/readyz`, `/metrics` and `/v1/subscribers` answered 404. Every path of the document answers
    /// an undeclared method with 405 and `Allow` naming exactly the methods it declares (and HEAD beside GET).
    @Test func everyPathOfTheDocumentAnswersAnUndeclaredMethodWith405AndAllow() async throws {
        var routes: [(path: String, declared: Set<String>)] = []
        for case (let path, let item) in try #require(try Self.document["paths"]?.mapping) {
            var declared = Set(
                (item.mapping?.keys.compactMap(\.string) ?? []).filter { $0 != "parameters" }.map { $0.uppercased() }
            )
            if declared.contains("GET") { declared.insert("HEAD") }
            routes.append((try #require(path.string), declared))
        }
        try await withGateway { [routes] _, client in
            var checked = 0
            for (path, declared) in routes {
                let uri = Self.concrete(path)
                for method in ["TRACE", "PUT", "OPTIONS", "GET", "POST", "PATCH", "DELETE"]
                where !declared.contains(method) {
                    let response = try await client.execute(
                        uri: uri,
                        method: HTTPRequest.Method(method)!,
                        headers: [.authorization: "Bearer \(GatewayHarness.adminToken)"]
                    )
                    #expect(response.status == .methodNotAllowed, "\(method) \(uri)")
                    #expect(try response.json["code"]?.stringValue == "method-not-allowed", "\(method) \(uri)")
                    let allow = Set(
                        (response.headers[.allow] ?? "").split(separator: ",").map {
                            $0.trimmingCharacters(in: .whitespaces)
                        }
                    )
                    let expected = path.hasPrefix("/webhooks/") ? ["POST"] : declared
                    #expect(allow == expected, "\(method) \(uri): Allow \(allow)")
                    checked += 1
                }
            }
            #expect(checked > 100)
            // An unknown path is still 404, whatever the method.
            #expect(try await client.execute(uri: "/v1/nothing", method: .trace).status == .notFound)
            #expect(try await client.execute(uri: "/healthz/x", method: .get).status == .notFound)
        }
    }

    @Test func aPathThatAnswersGETAnswersHEADWithoutABody() async throws {
        try await withGateway { _, client in
            let head = try await client.execute(uri: "/healthz", method: .head)
            #expect(head.status == .ok)
            #expect(head.body.readableBytes == 0)
            let admin = try await client.admin("/v1/events", method: .head)
            #expect(admin.status == .ok)
            #expect(try await client.admin("/v1/events", method: .head, token: nil).status == .unauthorized)
        }
    }

    /// A path with its parameters filled in: an ID no resource has, a TrackTik route that exists.
    static func concrete(_ path: String) -> String {
        path.replacingOccurrences(of: "{entity}", with: "dispatch-tasks")
            .replacingOccurrences(of: "{trigger}", with: "created")
            .replacingOccurrences(of: "{tenant}", with: "cobalt-pos")
            .replacingOccurrences(of: "{key}", with: "techlink:cobalt-pos:1")
            .replacingOccurrences(of: "{id}", with: "1")
    }

    // MARK: Request bodies of the admin API

    @Test func aSubscriberBodyMustBeJSONOfAtMost64KiB() async throws {
        try await withGateway { _, client in
            let body = #"{"id":"billing","url":"http://127.0.0.1:9/hooks"}"#
            for contentType in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"] {
                let refused = try await client.execute(
                    uri: "/v1/subscribers",
                    method: .post,
                    headers: [.authorization: "Bearer \(GatewayHarness.adminToken)", .contentType: contentType],
                    body: ByteBuffer(string: body)
                )
                #expect(refused.status == .unsupportedMediaType, "\(contentType)")
                #expect(try refused.json["code"]?.stringValue == "unsupported-media-type")
            }
            let untyped = try await client.execute(
                uri: "/v1/subscribers",
                method: .post,
                headers: [.authorization: "Bearer \(GatewayHarness.adminToken)"],
                body: ByteBuffer(string: body)
            )
            #expect(untyped.status == .unsupportedMediaType)
            let large =
                #"{"id":"big","url":"http://127.0.0.1:9/hooks","types":["\#(String(repeating: "x", count: 70_000))"]}"#
            let tooLarge = try await client.admin("/v1/subscribers", method: .post, json: large)
            #expect(tooLarge.status == .contentTooLarge)
            #expect(try tooLarge.json["code"]?.stringValue == "body-too-large")
            #expect(try await client.admin("/v1/subscribers/big").status == .notFound)
            for (uri, method) in [
                ("/v1/subscribers/billing", HTTPRequest.Method.patch), ("/v1/subscribers/billing/secret", .post),
            ] {
                let created = try await client.admin("/v1/subscribers", method: .post, json: body)
                #expect(created.status == .created || created.status == .conflict)
                let refused = try await client.execute(
                    uri: uri,
                    method: method,
                    headers: [.authorization: "Bearer \(GatewayHarness.adminToken)", .contentType: "text/plain"],
                    body: ByteBuffer(string: #"{"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}"#)
                )
                #expect(refused.status == .unsupportedMediaType, "\(uri)")
            }
            let typed = try await client.execute(
                uri: "/v1/subscribers/billing",
                method: .patch,
                headers: [
                    .authorization: "Bearer \(GatewayHarness.adminToken)",
                    .contentType: "Application/JSON; charset=utf-8",
                ],
                body: ByteBuffer(string: #"{"types":["job.*"]}"#)
            )
            #expect(typed.status == .ok)
        }
    }
}
