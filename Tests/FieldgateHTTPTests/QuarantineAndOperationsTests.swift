import FieldgateCore
import FieldgateHTTP
import FieldgateModel
import FieldgateSQLite
import FieldgateTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

import struct Foundation.URL
import struct NIOCore.ByteBuffer

/// A vendor whose first release did not understand `widget.moved`; the next one does. Replay exists for this:
/// requests quarantined by yesterday's adapter become events under today's.
struct ReleasedAdapter: VendorAdapter {
    var understandsWidgets: Bool
    var vendor: String { "acme" }
    var mediaType: String { "application/json" }
    var defaultDedupeWindow: Duration { .seconds(3600) }
    func routeSuffix(for segments: [Substring]) -> String? { segments.isEmpty ? "" : nil }
    func makeTenant(_ definition: TenantDefinition) throws(ConfigurationError) -> any VendorTenant {
        Tenant(understandsWidgets: understandsWidgets)
    }

    struct Tenant: VendorTenant {
        var understandsWidgets: Bool
        var secretHeaderNames: [String] { ["X-Acme-Key"] }
        func authenticate(_ headers: RequestHeaders) -> CredentialFailure? {
            headers["X-Acme-Key"] == "acme-secret" ? nil : CredentialFailure("X-Acme-Key is missing or wrong")
        }
        func normalize(_ request: AdapterRequest) throws(AdapterError) -> AdaptedEvent {
            let root = try JSONDocument.parseObjectBody(request.body)
            guard understandsWidgets, root.text("event") == "widget.moved" else {
                throw AdapterError(.unknownEvent, "event '\(root.text("event") ?? "")' is not known")
            }
            return AdaptedEvent(
                type: .jobUpdated,
                vendorEvent: "widget.moved",
                job: JobState(id: root.text("id")),
                occurredAt: nil,
                detail: [:],
                canonicalContent: root.canonicalBytes
            )
        }
    }
}

let acmeConfiguration = "tenants: [{vendor: acme, tenant: plant-7}]"
let widgetMoved = try! CorpusRequest(
    line:
        #"{"method":"POST","path":"/webhooks/acme/plant-7","headers":{"Content-Type":"application/json","X-Acme-Key":"acme-secret"},"body":"{\"event\":\"widget.moved\",\"id\":\"W-9\"}"}"#
)

@Suite("Quarantine and replay")
struct QuarantineReplayTests {
    @Test func aRequestRejectedAfterAuthenticationIsKeptAndCanBeReplayedByTheNextRelease() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = directory.path("replay.db")

        let before = try GatewayHarness(
            configurationYAML: acmeConfiguration,
            databasePath: database,
            adapters: [ReleasedAdapter(understandsWidgets: false)]
        )
        let quarantineID = try await before.application.test(.router) { client in
            let rejected = try await client.send(widgetMoved)
            #expect(rejected.status == .unprocessableContent)
            #expect(try rejected.json["code"]?.stringValue == "unknown-event")
            let list = try await client.admin("/v1/quarantine").json
            let entry = try #require(list["requests"]?.arrayValue?.first)
            #expect(entry["problem"]?["code"]?.stringValue == "unknown-event")
            #expect(entry["replayedAs"] == .null)
            let id = try #require(entry["id"]?.stringValue)
            let detail = try await client.admin("/v1/quarantine/\(id)").json
            #expect(detail["raw"]?["body"]?.stringValue == String(decoding: widgetMoved.body, as: UTF8.self))
            let key = detail["raw"]?["headers"]?.arrayValue?.first { $0["name"]?.stringValue == "X-Acme-Key" }
            #expect(key?["value"]?.stringValue == RedactedRequest.redactedValue)
            // This release still cannot read it: the answer says why, and the request stays quarantined.
            // 409, not the replayed request's own 422: the replay request itself was fine.
            let again = try await client.admin("/v1/quarantine/\(id)/replay", method: .post)
            #expect(again.status == .conflict)
            #expect(again.headers[.contentType] == "application/problem+json")
            #expect(try again.json["code"]?.stringValue == "replay-rejected")
            #expect(try again.json["problem"]?["code"]?.stringValue == "unknown-event")
            #expect(try again.json["problem"]?["status"]?.numberText == "422")
            #expect(try await client.admin("/v1/quarantine").json["requests"]?.arrayValue?.count == 1)
            return id
        }

        let after = try GatewayHarness(
            configurationYAML: acmeConfiguration,
            databasePath: database,
            adapters: [ReleasedAdapter(understandsWidgets: true)]
        )
        try await after.application.test(.router) { client in
            let replay = try await client.admin("/v1/quarantine/\(quarantineID)/replay", method: .post)
            #expect(replay.status == .ok)
            let result = try replay.json
            #expect(result["status"]?.stringValue == "accepted")
            let eventID = try #require(result["id"]?.stringValue)
            #expect(result["event"]?["type"]?.stringValue == "job.updated")
            #expect(try await client.admin("/v1/events/\(eventID)").status == .ok)
            let entry = try await client.admin("/v1/quarantine/\(quarantineID)").json
            #expect(entry["replayedAs"]?.stringValue == eventID)
            #expect(entry["replayedAt"]?.stringValue != nil)
            // Replaying twice is refused with the event it became; the vendor retrying finds the same event.
            let twice = try await client.admin("/v1/quarantine/\(quarantineID)/replay", method: .post)
            #expect(twice.status == .conflict)
            #expect(twice.headers[.contentType] == "application/problem+json")
            #expect(try twice.json["code"]?.stringValue == "already-replayed")
            #expect(try twice.json["eventId"]?.stringValue == eventID)
            #expect(try twice.json["detail"]?.stringValue?.contains(eventID) == true)
            #expect(try await client.admin("/v1/events").json["events"]?.arrayValue?.count == 1)
            let retry = try await client.send(widgetMoved).json
            #expect(retry["status"]?.stringValue == "duplicate")
            #expect(retry["id"]?.stringValue == eventID)
        }
    }

    @Test func unauthenticatedAndOversizedRequestsAreNotKept() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: adminTestConfiguration,
            databasePath: directory.path("q.db")
        )
        try await harness.application.test(.router) { client in
            var wrongToken = statusChange("1", from: "10", to: "20", tenant: "harbor-signs")
            wrongToken.headers = RequestHeaders([
                (name: "Content-Type", value: "application/json"), (name: "X-Token", value: "nope"),
            ])
            let unauthorized = try await client.send(wrongToken)
            #expect(unauthorized.status == .unauthorized)
            var big = statusChange("1", from: "10", to: "20")
            big.body = Array(repeating: UInt8(ascii: " "), count: 5000) + big.body
            let tooLarge = try await client.send(big)
            #expect(tooLarge.status == .contentTooLarge)
            var textPlain = statusChange("1", from: "10", to: "20")
            textPlain.headers = RequestHeaders([(name: "Content-Type", value: "text/plain")])
            let unsupported = try await client.send(textPlain)
            #expect(unsupported.status == .unsupportedMediaType)
        }
        let kept = try await harness.store.quarantinedRequests(QuarantineQuery())
        #expect(kept.items.map(\.problem.code.rawValue) == ["unsupported-media-type"])
    }
}

@Suite("Gateway operations")
struct GatewayOperationsTests {
    @Test func aDuplicateAfterARestartIsStillADuplicate() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = directory.path("restart.db")
        let request = statusChange("500", from: "20", to: "22")
        let first = try GatewayHarness(configurationYAML: adminTestConfiguration, databasePath: database)
        let id = try await first.application.test(.router) { client in
            try #require(try await client.send(request).json["id"]?.stringValue)
        }
        let second = try GatewayHarness(
            configurationYAML: adminTestConfiguration,
            databasePath: database,
            clock: ManualWallClock(
                UTCTimestamp(millisecondsSinceEpoch: StoreSamples.start.millisecondsSinceEpoch + 60_000)
            )
        )
        try await second.application.test(.router) { client in
            let again = try await client.send(request).json
            #expect(again["status"]?.stringValue == "duplicate")
            #expect(again["id"]?.stringValue == id)
        }
    }

    @Test func bodiesAreLimitedByDeclaredLengthAndByBytesRead() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: adminTestConfiguration,
            databasePath: directory.path("l.db")
        )
        try await harness.application.test(.live) { client in
            // Declared too large: refused before a byte of the body is read.
            let declared = try await client.execute(
                uri: "/webhooks/techlink/cobalt-pos",
                method: .post,
                headers: [.contentType: "application/json", .contentLength: "999999999"]
            )
            #expect(declared.status == .contentTooLarge)
            #expect(try declared.json["detail"]?.stringValue?.contains("Content-Length 999999999") == true)
        }
        try await harness.application.test(.router) { client in
            // No length declared: counted while reading.
            let streamed = try await client.execute(
                uri: "/webhooks/techlink/cobalt-pos",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(repeating: UInt8(ascii: " "), count: 4097)
            )
            #expect(streamed.status == .contentTooLarge)
            #expect(try streamed.json["code"]?.stringValue == "body-too-large")
        }
    }

    @Test func aHeaderBlockOver64KiBIsRefusedWith431() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: adminTestConfiguration,
            databasePath: directory.path("h.db")
        )
        try await harness.application.test(.live) { client in
            let response = try await client.execute(
                uri: "/webhooks/techlink/cobalt-pos",
                method: .post,
                headers: [
                    .contentType: "application/json",
                    HTTPField.Name("X-Padding")!: String(repeating: "p", count: 70_000),
                ],
                body: ByteBuffer(bytes: statusChange("1", from: "10", to: "20").body)
            )
            #expect(response.status.code == 431)
            #expect(try response.json["code"]?.stringValue == "headers-too-large")
        }
    }

    @Test func healthReadinessMetricsAndTheOpenAPIDocument() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: adminTestConfiguration,
            databasePath: directory.path("m.db")
        )
        try await harness.application.test(.router) { client in
            #expect(try await client.execute(uri: "/healthz", method: .get).json["status"]?.stringValue == "ok")
            #expect(try await client.execute(uri: "/readyz", method: .get).json["status"]?.stringValue == "ready")
            _ = try await client.send(statusChange("9", from: "10", to: "20"))
            _ = try await client.send(statusChange("9", from: "10", to: "20"))
            _ = try await client.execute(uri: "/webhooks/techlink/nobody", method: .post)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = metrics.text
            #expect(
                text.contains(
                    #"fieldgate_ingest_requests_total{vendor="techlink",tenant="cobalt-pos",outcome="accepted"} 1"#
                )
            )
            #expect(
                text.contains(
                    #"fieldgate_ingest_requests_total{vendor="techlink",tenant="cobalt-pos",outcome="duplicate"} 1"#
                )
            )
            #expect(
                text.contains(
                    #"fieldgate_ingest_requests_total{vendor="techlink",tenant="unknown",outcome="unknown-tenant"} 1"#
                )
            )
            #expect(text.contains("fieldgate_ingest_duration_seconds_bucket"))
            #expect(text.contains("fieldgate_store_commit_batch_size_count"))
            let document = try await client.execute(uri: "/openapi.yaml", method: .get)
            #expect(document.text == OpenAPIDocument.served)
        }
    }

    @Test func aFailingStoreAnswers503SoTheVendorRetries() async throws {
        let configuration = try GatewayConfiguration.parse(yaml: adminTestConfiguration)
        let store = UnavailableStore()
        let clock = ManualWallClock(StoreSamples.start)
        let dependencies = GatewayDependencies(
            pipeline: IngestPipeline(
                directory: try TenantDirectory(configuration: configuration, adapters: GatewayHarness.adapters),
                store: store,
                clock: clock,
                maxBodyBytes: 4096
            ),
            store: store,
            clock: clock,
            adminToken: GatewayHarness.adminToken,
            metrics: GatewayMetrics(),
            logger: .init(label: "test")
        )
        let app = buildApplication(dependencies, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.router) { client in
            let ingest = try await client.send(statusChange("1", from: "10", to: "20"))
            #expect(ingest.status == .serviceUnavailable)
            #expect(try ingest.json["code"]?.stringValue == "store-unavailable")
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .serviceUnavailable)
            #expect(try ready.json["code"]?.stringValue == "store-unavailable")
            #expect(!ready.text.contains("Down"), "the database error reached an unauthenticated caller")
            #expect(try await client.admin("/v1/events").status == .serviceUnavailable)
            let stream = try await client.admin("/v1/stream")
            #expect(stream.status == .serviceUnavailable)
            #expect(try stream.json["code"]?.stringValue == "store-unavailable")
        }
    }
}

/// A store whose disk is gone.
struct UnavailableStore: EventStore {
    struct Down: Error {}
    func insertIfNew(_ candidate: EventCandidate) async throws -> InsertOutcome { throw Down() }
    func quarantine(_ request: QuarantinedRequest) async throws { throw Down() }
    func event(id: String) async throws -> StoredEvent? { throw Down() }
    func purgeExpiredKeys(before instant: UTCTimestamp) async throws -> Int { throw Down() }
    func events(_ query: EventQuery) async throws -> Page<StoredEvent> { throw Down() }
    func events(jobKey: String) async throws -> [StoredEvent] { throw Down() }
    func jobs(_ query: JobQuery) async throws -> JobPage { throw Down() }
    func events(after sequence: Int64, limit: Int) async throws -> [StoredEvent] { throw Down() }
    func quarantinedRequests(_ query: QuarantineQuery) async throws -> Page<QuarantinedRequest> { throw Down() }
    func quarantinedRequest(id: String) async throws -> QuarantinedRequest? { throw Down() }
    func insertReplay(
        _ candidate: EventCandidate,
        quarantineID: String,
        at instant: UTCTimestamp
    ) async throws -> ReplayInsertOutcome { throw Down() }
    func deleteEvents(receivedBefore instant: UTCTimestamp, now: UTCTimestamp, limit: Int) async throws -> Int {
        throw Down()
    }
    func deleteQuarantinedRequests(receivedBefore instant: UTCTimestamp, limit: Int) async throws -> Int {
        throw Down()
    }
    func checkWritable() async throws { throw Down() }
}
