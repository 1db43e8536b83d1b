import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import FieldgateVendors
import Testing

/// The outcome order of CONTRACT §1, dedupe (§2) and quarantine, with small hand-written requests.
@Suite("Ingest pipeline")
struct PipelineTests {
    static let config = """
        server: {maxBodyBytes: 4096}
        tenants:
          - {vendor: tracktik, tenant: acme-guard, secretHeader: {name: X-Acme-Secret, value: s3cret-acme}, statusNames: {"Guard Dispatched": dispatched}}
          - {vendor: hellotracks, tenant: fixit, account: fixit.co, headers: {Authorization: "Bearer ht-key", X-Extra: extra}}
          - {vendor: techlink, tenant: shopco, tokens: [tok-1, tok-2], dedupeWindow: 10m}
          - {vendor: techlink, tenant: open-shop}
        """

    func harness() throws -> PipelineHarness {
        try PipelineHarness(
            configurationYAML: Self.config,
            adapters: BuiltInVendors.adapters
        )
    }

    func techLink(
        _ body: String,
        tenant: String = "shopco",
        headers: [(String, String)] = [("Content-Type", "application/json"), ("X-Token", "tok-2")],
        method: String = "POST"
    ) -> InboundRequest {
        InboundRequest(
            method: method,
            path: "/webhooks/techlink/\(tenant)",
            headers: RequestHeaders(headers.map { (name: $0.0, value: $0.1) }),
            body: Array(body.utf8)
        )
    }

    static let closed = #"{"event":"work order closed","workorder_id":"7"}"#

    /// A form request to the `fixit` tenant with its credentials and a header that is not a secret.
    func hellotracks(_ body: String) -> InboundRequest {
        InboundRequest(
            method: "POST",
            path: "/webhooks/hellotracks/fixit",
            headers: RequestHeaders([
                ("Content-Type", "application/x-www-form-urlencoded"), ("authorization", "Bearer ht-key"),
                ("X-Extra", "extra"), ("User-Agent", "Hellotracks-Webhook/1.0"),
            ]),
            body: Array(body.utf8)
        )
    }

    @Test func aRawInvalidByteInAFormIs400EvenInsideData() async throws {
        var request = hellotracks("")
        request.body =
            Array("id=j1&action=jobupdated&data=%5B%7B%22destinationName%22%3A%22Caf".utf8) + [0xE9]
            + Array("%22%7D%5D".utf8)
        let outcome = try await harness().send(request)
        #expect(outcome.problem?.code.rawValue == "invalid-utf8")
        #expect(outcome.wasQuarantined)
    }

    // MARK: Outcome order

    @Test func acceptsAndDerivesTheContractID() async throws {
        let outcome = try await harness().send(techLink(Self.closed))
        let event = try #require(outcome.event)
        #expect(outcome.isAccepted)
        // SHA-256("techlink\nshopco\n\n" + canonical body), first 16 bytes; computed independently with hashlib.
        let expected = DedupeKey(
            vendor: "techlink",
            tenant: "shopco",
            routeSuffix: "",
            canonicalContent: Array(#"{"event":"work order closed","workorder_id":"7"}"#.utf8)
        )
        #expect(event.id == expected.eventID)
        #expect(event.type == .jobCompleted)
        #expect(event.job?.key == "techlink:shopco:7")
        #expect(event.source == "/fieldgate/techlink/shopco")
        #expect(event.time == event.receivedAt)
    }

    @Test func dedupeKeyMatchesAnIndependentSHA256() {
        let key = DedupeKey(
            vendor: "tracktik",
            tenant: "nw",
            routeSuffix: "workflow-instance-logs",
            canonicalContent: Array(#"{"id":1}"#.utf8)
        )
        #expect(key.digest == "43d5949369ea5372d31005322fde490bf5c14d9b59ff754005bbf568c2d42f87")
        #expect(key.eventID == "43d5949369ea5372d31005322fde490b")
    }

    /// A declared length over the limit wins over everything on a route; a body that only turns out too large
    /// as it is read comes after the head's checks (credentials are decided from the head).
    @Test func oversizeWinsOverEverythingOnARoute() async throws {
        let harness = try harness()
        let declared = techLink("{", headers: [("Content-Length", "999999")])
        #expect(try await harness.send(declared).problem?.status == 413)
        let undeclared = String(repeating: " ", count: 5000)
        let read = techLink(undeclared)
        #expect(try await harness.send(read).problem?.code.rawValue == "body-too-large")
        let unauthenticated = techLink(undeclared, headers: [])
        #expect(try await harness.send(unauthenticated).problem?.code.rawValue == "bad-credentials")
        #expect(harness.store.quarantined.isEmpty)
    }

    @Test func credentialsComeBeforeMediaTypeAndSyntax() async throws {
        let harness = try harness()
        let wrongToken = techLink("{broken", headers: [("Content-Type", "text/plain"), ("X-Token", "tok-9")])
        let outcome = try await harness.send(wrongToken)
        #expect(outcome.problem?.code.rawValue == "bad-credentials")
        #expect(outcome.problem?.detail.contains("tok-") == false, "secrets never appear in problem details")
        let unknown = techLink(Self.closed, tenant: "nobody")
        #expect(try await harness.send(unknown).problem?.code.rawValue == "unknown-tenant")
        #expect(harness.store.quarantined.isEmpty)
    }

    @Test func aCredentialHeaderSentTwiceFails() async throws {
        let request = techLink(
            Self.closed,
            headers: [("Content-Type", "application/json"), ("X-Token", "tok-1"), ("X-Token", "tok-1")]
        )
        #expect(try await harness().send(request).problem?.status == 401)
    }

    @Test func tenantWithoutTokensIgnoresXToken() async throws {
        let request = techLink(
            Self.closed,
            tenant: "open-shop",
            headers: [("Content-Type", "application/json"), ("X-Token", "x")]
        )
        #expect(try await harness().send(request).isAccepted)
    }

    @Test(
        arguments: [
            ([("X-Token", "tok-1")], "unsupported-media-type"),
            ([("X-Token", "tok-1"), ("Content-Type", "text/plain")], "unsupported-media-type"),
            (
                [("X-Token", "tok-1"), ("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
                "unsupported-media-type"
            ),
            ([("X-Token", "tok-1"), ("Content-Type", "APPLICATION/JSON; charset=utf-8")], nil),
            ([("X-Token", "tok-1"), ("Content-Type", "application/json"), ("Content-Encoding", "identity")], nil),
        ] as [([(String, String)], String?)]
    )
    func checksMediaTypeAndEncoding(headers: [(String, String)], problem: String?) async throws {
        let harness = try harness()
        let outcome = try await harness.send(techLink(Self.closed, headers: headers))
        #expect(outcome.problem?.code.rawValue == problem)
        #expect(outcome.wasQuarantined == (problem != nil))
    }

    @Test(arguments: [
        ("", "empty-body"),
        (#"{"event":"work order closed","workorder_id":"7",}"#, "json-syntax"),
        (#"[{"event":"work order closed"}]"#, "not-an-object"),
        (#"{"workorder_id":"7"}"#, "missing-field"),
        (#"{"event":"work order invoice approved","workorder_id":"7"}"#, "unknown-event"),
        (#"{"event":"work order status change","new_status_code":"20"}"#, "missing-field"),
        (#"{"event":"work order closed","workorder_id":""}"#, "missing-field"),
    ])
    func rejectsAndQuarantinesWhatItCannotUse(body: String, code: String) async throws {
        let harness = try harness()
        let outcome = try await harness.send(techLink(body))
        #expect(outcome.problem?.code.rawValue == code)
        #expect(outcome.wasQuarantined)
        let kept = try #require(harness.store.quarantined.first)
        #expect(kept.raw.body == Array(body.utf8))
        #expect(kept.problem.code.rawValue == code)
        #expect(kept.raw.headers["X-Token"] == RedactedRequest.redactedValue)
    }

    @Test func invalidUTF8IsItsOwnProblem() async throws {
        var request = techLink("")
        request.body = Array(#"{"event":"site created","data":{"site_name":"Caf"#.utf8) + [0xE9] + Array(#""}}"#.utf8)
        let outcome = try await harness().send(request)
        #expect(outcome.problem?.code.rawValue == "invalid-utf8")
        #expect(outcome.problem?.detail.contains("byte offset 48") == true)
    }

    // MARK: Routing and framing

    @Test(arguments: [
        ("/webhooks/techlink/shopco/extra", 404),
        ("/webhooks/TechLink/shopco", 404),
        ("/webhooks/unknown/shopco", 404),
        ("/webhooks/techlink/", 404),
        ("/webhooks/techlink/shop%2Fco", 401),
        ("/webhooks/techlink/shopco?source=tl", 202),
        ("/webhooks/tracktik/acme-guard", 404),
        ("/webhooks/tracktik/acme-guard/a/b/c", 404),
        ("/webhooks/tracktik/acme-guard//created", 404),
        ("/other", 404),
    ])
    func routesMatchExactly(path: String, status: Int) async throws {
        var request = techLink(Self.closed)
        request.head.target = path
        #expect(try await harness().send(request).httpStatus == status)
    }

    @Test func otherMethodsAre405() async throws {
        let outcome = try await harness().send(techLink(Self.closed, method: "GET"))
        #expect(outcome.problem?.code.rawValue == "method-not-allowed")
        #expect(outcome.httpStatus == 405)
    }

    @Test func hugeHeaderBlocksAre431() async throws {
        let request = techLink(
            Self.closed,
            headers: [
                ("Content-Type", "application/json"), ("X-Token", "tok-1"),
                ("X-Pad", String(repeating: "a", count: 70_000)),
            ]
        )
        #expect(try await harness().send(request).httpStatus == 431)
    }

    @Test(arguments: [
        [("Content-Length", "10"), ("Transfer-Encoding", "chunked")],
        [("Content-Length", "10"), ("Content-Length", "11")],
        [("Content-Length", "ten")],
    ])
    func ambiguousFramingIs400(framing: [(String, String)]) async throws {
        let request = techLink(
            Self.closed,
            headers: [("Content-Type", "application/json"), ("X-Token", "tok-1")] + framing
        )
        let outcome = try await harness().send(request)
        #expect(outcome.problem?.code.rawValue == "bad-framing")
    }

    // MARK: Dedupe

    @Test func duplicatesPointAtTheFirstCopy() async throws {
        let harness = try harness()
        let first = try #require(try await harness.send(techLink(Self.closed)).event)
        let pretty = "{\n  \"workorder_id\" : \"7\",\r\n  \"event\" : \"work order closed\"\n}"
        let again = try await harness.send(
            techLink(pretty, headers: [("content-type", "application/json"), ("x-token", "tok-1")])
        )
        #expect(again.isDuplicate)
        #expect(again.eventID == first.id)
        #expect(harness.store.eventCount == 1)
    }

    @Test func aDifferentValueTypeIsADifferentEvent() async throws {
        let harness = try harness()
        let text = #"{"event":"work order status change","workorder_id":"7","new_status_code":"70"}"#
        let number = #"{"event":"work order status change","workorder_id":"7","new_status_code":70}"#
        #expect(try await harness.send(techLink(text)).isAccepted)
        #expect(try await harness.send(techLink(number)).isAccepted)
    }

    @Test func theWindowIsPerTenantAndARepeatAfterItIsANewEvent() async throws {
        let harness = try harness()
        let first = try #require(try await harness.send(techLink(Self.closed)).event)
        harness.clock.advance(by: .seconds(9 * 60))
        #expect(try await harness.send(techLink(Self.closed)).isDuplicate)
        harness.clock.advance(by: .seconds(2 * 60))
        let repeated = try await harness.send(techLink(Self.closed))
        let second = try #require(repeated.event)
        #expect(repeated.isAccepted)
        #expect(second.id != first.id, "a genuine repeat after the window gets its own ID")
        #expect(try await harness.send(techLink(Self.closed)).eventID == second.id)
        #expect(harness.store.eventCount == 2)
    }

    @Test func rejectedRequestsNeverBecomeOriginals() async throws {
        let harness = try harness()
        let wrong = techLink(Self.closed, headers: [("Content-Type", "application/json"), ("X-Token", "nope")])
        #expect(try await harness.send(wrong).httpStatus == 401)
        #expect(try await harness.send(techLink(Self.closed)).isAccepted)
    }

    @Test func tenantsAndRoutesSeparateKeys() async throws {
        let harness = try harness()
        #expect(try await harness.send(techLink(Self.closed)).isAccepted)
        let other = techLink(Self.closed, tenant: "open-shop", headers: [("Content-Type", "application/json")])
        let otherEvent = try #require(try await harness.send(other).event)
        #expect(otherEvent.job?.key == "techlink:open-shop:7")
        #expect(try await harness.send(other).isDuplicate)
    }

    @Test func purgingExpiredKeysKeepsIDsUnique() async throws {
        let harness = try harness()
        let first = try #require(try await harness.send(techLink(Self.closed)).event)
        harness.clock.advance(by: .seconds(11 * 60))
        #expect(try await harness.store.purgeExpiredKeys(before: harness.clock.now()) == 1)
        let second = try #require(try await harness.send(techLink(Self.closed)).event)
        #expect(second.id != first.id)
        #expect(try await harness.store.event(id: first.id)?.event == first)
    }

    // MARK: What is stored

    @Test func rawRequestIsStoredWithSecretsRedacted() async throws {
        let harness = try harness()
        let request = hellotracks("account=fixit.co&id=p1&action=placecheckin&data=%7B%22ts%22%3A1789487285000%7D")
        let event = try #require(try await harness.send(request).event)
        let stored = try #require(try await harness.store.event(id: event.id))
        #expect(stored.raw.headers["Authorization"] == RedactedRequest.redactedValue)
        #expect(stored.raw.headers["X-Extra"] == RedactedRequest.redactedValue)
        #expect(stored.raw.headers["User-Agent"] == "Hellotracks-Webhook/1.0")
        #expect(stored.raw.body == request.body)
        #expect(event.type == .placeCheckedIn)
        #expect(event.job == nil)
        #expect(event.subject == nil)
        #expect(event.time.rfc3339() == "2026-09-15T15:48:05Z")
    }

    /// An empty `account=` is present and not the tenant's account (CONTRACT §1.5), just like another account.
    @Test(arguments: ["other.co", ""])
    func accountMismatchIs401AndNotKept(account: String) async throws {
        let harness = try harness()
        let request = hellotracks("account=\(account)&id=p1&action=placecheckin&data=%7B%7D")
        let outcome = try await harness.send(request)
        #expect(outcome.problem?.code.rawValue == "account-mismatch")
        #expect(!outcome.wasQuarantined)
        #expect(harness.store.quarantined.isEmpty)
    }

    @Test func problemDocumentsFollowRFC9457() {
        let problem = Problem(AdapterError(.missingField, "required field 'id' is missing or empty"))
        #expect(
            problem.json
                == .object([
                    "type": "urn:fieldgate:problem:missing-field", "title": "Missing field", "status": .number("422"),
                    "detail": "required field 'id' is missing or empty", "code": "missing-field",
                ])
        )
    }
}
