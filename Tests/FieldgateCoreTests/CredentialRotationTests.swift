import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import FieldgateVendors
import Testing

/// Inbound secret rotation (CONTRACT §5): a secret given as a list accepts any of its entries, for every vendor,
/// so a vendor can be moved to a new secret without a window of refused callbacks.
@Suite("Inbound secret rotation")
struct CredentialRotationTests {
    static let config = """
        tenants:
          - vendor: tracktik
            tenant: rot-tt
            secretHeader: {name: X-TT-Secret, values: [tt-new-7f3a, tt-old-19c2]}
          - vendor: hellotracks
            tenant: rot-ht
            headers:
              Authorization: ["Bearer ht-new-5d1e", "Bearer ht-old-a04b"]
              X-Relay: relay-only-one
          - vendor: techlink
            tenant: rot-tl
            tokens: [tl-new-2b8c, tl-old-e6f0]
        """

    func harness() throws -> PipelineHarness {
        try PipelineHarness(configurationYAML: Self.config, adapters: BuiltInVendors.adapters)
    }

    func trackTik(_ headers: [(String, String)]) -> InboundRequest {
        InboundRequest(
            method: "POST",
            path: "/webhooks/tracktik/rot-tt/employees/created",
            headers: RequestHeaders([(name: "Content-Type", value: "application/json")] + headers.map { ($0.0, $0.1) }),
            body: Array(#"{"id":4411,"firstName":"Ana","lastName":"Lima"}"#.utf8)
        )
    }

    func hellotracks(_ headers: [(String, String)]) -> InboundRequest {
        InboundRequest(
            method: "POST",
            path: "/webhooks/hellotracks/rot-ht",
            headers: RequestHeaders(
                [(name: "Content-Type", value: "application/x-www-form-urlencoded")] + headers.map { ($0.0, $0.1) }
            ),
            body: Array("id=p-77&action=placecheckin&data=%7B%22ts%22%3A1792900000000%7D".utf8)
        )
    }

    func techLink(_ headers: [(String, String)]) -> InboundRequest {
        InboundRequest(
            method: "POST",
            path: "/webhooks/techlink/rot-tl",
            headers: RequestHeaders([(name: "Content-Type", value: "application/json")] + headers.map { ($0.0, $0.1) }),
            body: Array(#"{"event":"work order closed","workorder_id":"207500"}"#.utf8)
        )
    }

    @Test(arguments: ["tt-new-7f3a", "tt-old-19c2"])
    func trackTikAcceptsEveryListedSecret(secret: String) async throws {
        let outcome = try await harness().send(trackTik([("x-tt-secret", secret)]))
        #expect(outcome.httpStatus == 202, "\(outcome)")
    }

    @Test(arguments: [
        [("X-TT-Secret", "tt-newer-0000")],
        [("X-TT-Secret", "tt-new-7f3")],
        [("X-TT-Secret", "tt-new-7f3a, tt-old-19c2")],
        [("X-TT-Secret", "tt-new-7f3a"), ("X-TT-Secret", "tt-old-19c2")],
        [],
    ])
    func trackTikRefusesAnythingElse(headers: [(String, String)]) async throws {
        let outcome = try await harness().send(trackTik(headers))
        #expect(outcome.problem?.status == 401, "\(outcome)")
        #expect(outcome.problem?.detail.contains("tt-") == false, "no secret in the problem")
    }

    @Test(arguments: ["Bearer ht-new-5d1e", "Bearer ht-old-a04b"])
    func hellotracksAcceptsEveryValueOfAListedHeader(authorization: String) async throws {
        let outcome = try await harness().send(
            hellotracks([("Authorization", authorization), ("X-Relay", "relay-only-one")])
        )
        #expect(outcome.httpStatus == 202, "\(outcome)")
    }

    @Test(arguments: [
        [("Authorization", "Bearer ht-old-a04b")],  // the other header is still required
        [("Authorization", "Bearer ht-other"), ("X-Relay", "relay-only-one")],
        [("Authorization", "ht-new-5d1e"), ("X-Relay", "relay-only-one")],
        [("Authorization", "Bearer ht-new-5d1e"), ("X-Relay", "relay-only-on")],
    ])
    func hellotracksRefusesAMissingOrWrongHeader(headers: [(String, String)]) async throws {
        let outcome = try await harness().send(hellotracks(headers))
        #expect(outcome.problem?.status == 401, "\(outcome)")
    }

    @Test(arguments: ["tl-new-2b8c", "tl-old-e6f0"])
    func techLinkAcceptsEveryToken(token: String) async throws {
        let outcome = try await harness().send(techLink([("X-Token", token)]))
        #expect(outcome.httpStatus == 202, "\(outcome)")
    }

    @Test func techLinkRefusesAnUnlistedToken() async throws {
        let outcome = try await harness().send(techLink([("X-Token", "tl-new-2b8")]))
        #expect(outcome.problem?.status == 401)
    }

    @Test func aRotatedSecretIsRedactedWhicheverValueWasSent() async throws {
        let harness = try harness()
        // Authenticated, then refused by the adapter (unknown action): quarantined with its headers redacted.
        var request = hellotracks([("Authorization", "Bearer ht-old-a04b"), ("X-Relay", "relay-only-one")])
        request.body = Array("id=p-78&action=nothing&data=%7B%7D".utf8)
        let outcome = try await harness.send(request)
        #expect(outcome.wasQuarantined)
        let stored = try #require(harness.store.quarantined.first)
        let values = stored.raw.headers.fields.map(\.value)
        #expect(values.filter { $0.contains("ht-old-a04b") || $0.contains("relay-only-one") }.isEmpty, "\(values)")
    }
}
