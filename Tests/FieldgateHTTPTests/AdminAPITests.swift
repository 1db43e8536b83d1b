import FieldgateCore
import FieldgateModel
import FieldgateSQLite
import FieldgateTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

import struct NIOCore.ByteBuffer

@testable import FieldgateHTTP

/// Tenants for hand-written requests: TechLink without tokens keeps the requests short.
let adminTestConfiguration = """
    server: {maxBodyBytes: 4096}
    delivery: {allowNetworks: [127.0.0.0/8]}
    tenants:
      - {vendor: techlink, tenant: cobalt-pos}
      - {vendor: techlink, tenant: harbor-signs, tokens: [hs-token]}
    """

func statusChange(_ workOrder: String, from old: String, to new: String, tenant: String = "cobalt-pos") -> CorpusRequest
{
    let body =
        #"{"event":"work order status change","workorder_id":"\#(workOrder)","old_status_code":"\#(old)","new_status_code":"\#(new)"}"#
    return try! CorpusRequest(
        line:
            #"{"method":"POST","path":"/webhooks/techlink/\#(tenant)","headers":{"Content-Type":"application/json","X-Token":"hs-token"},"body":\#(JSONValue.string(body).jsonText)}"#
    )
}

@Suite("Admin API")
struct AdminAPITests {
    func withGateway(
        _ configuration: String = adminTestConfiguration,
        adminToken: String? = GatewayHarness.adminToken,
        _ body: @Sendable (GatewayHarness, any TestClientProtocol) async throws -> Void
    ) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: configuration,
            databasePath: directory.path("admin.db"),
            adminToken: adminToken
        )
        try await harness.application.test(.router) { client in try await body(harness, client) }
    }

    @Test func everyAdminRouteNeedsTheBearerToken() async throws {
        try await withGateway { _, client in
            for uri in ["/v1/events", "/v1/events/x", "/v1/jobs/x", "/v1/quarantine", "/v1/quarantine/x"] {
                for token in [nil, "wrong", GatewayHarness.adminToken + "x"] {
                    let response = try await client.admin(uri, token: token)
                    #expect(response.status == .unauthorized, "\(uri)")
                    #expect(response.headers[.contentType] == "application/problem+json")
                    #expect(try response.json["code"]?.stringValue == "unauthorized")
                }
            }
            let basic = try await client.execute(
                uri: "/v1/events",
                method: .get,
                headers: [.authorization: "Basic \(GatewayHarness.adminToken)"]
            )
            #expect(basic.status == .unauthorized)
            #expect(
                try await client.admin("/v1/quarantine/x/replay", method: .post, token: nil).status == .unauthorized
            )
            #expect(try await client.admin("/v1/events").status == .ok)
        }
    }

    @Test func withoutAnAdminTokenTheAdminAPIIsClosed() async throws {
        try await withGateway(adminToken: nil) { _, client in
            let response = try await client.admin("/v1/events", token: "anything")
            #expect(response.status == .unauthorized)
            #expect(try response.json["detail"]?.stringValue?.contains("admin.token") == true)
        }
    }

    @Test func eventsPageNewestFirstAndFilter() async throws {
        try await withGateway { harness, client in
            var accepted: [String] = []
            for index in 0..<12 {
                let response = try await client.send(
                    statusChange("WO-\(index % 3)", from: String(10 + index), to: index % 2 == 0 ? "22" : "70")
                )
                accepted.append(try #require(try response.json["id"]?.stringValue))
                harness.clock.advance(by: .seconds(60))
            }
            var seen: [String] = []
            var uri = "/v1/events?limit=5"
            while true {
                let page = try await client.admin(uri).json
                seen += page["events"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
                guard let cursor = page["nextCursor"]?.stringValue else { break }
                uri = "/v1/events?limit=5&cursor=\(cursor)"
            }
            #expect(seen == accepted.reversed())

            func ids(_ query: String) async throws -> [String] {
                try await client.admin("/v1/events?\(query)").json["events"]?.arrayValue?
                    .compactMap { $0["id"]?.stringValue } ?? []
            }
            #expect(try await ids("job=techlink:cobalt-pos:WO-1") == [10, 7, 4, 1].map { accepted[$0] })
            #expect(try await ids("status=on_site&job=techlink:cobalt-pos:WO-0") == [9, 3].map { accepted[$0] })
            #expect(try await ids("type=job.created").isEmpty)
            #expect(try await ids("vendor=techlink&tenant=cobalt-pos").count == 12)
            #expect(try await ids("tenant=harbor-signs").isEmpty)
            // Minute 2 inclusive to minute 5 exclusive: the third, fourth and fifth events.
            #expect(
                try await ids("since=2026-10-26T21:16:06.512Z&until=2026-10-26T21:19:06.512Z")
                    == [4, 3, 2].map { accepted[$0] }
            )
        }
    }

    @Test(arguments: [
        "limit=0", "limit=501", "limit=ten", "vendors=techlink", "since=yesterday", "until=2026-13-01T00:00:00Z",
        "type=job.nope", "status=done", "cursor=-4", "cursor=abc", "vendor=a&vendor=b",
    ])
    func aBadQueryIsAProblemNotAnEmptyList(_ query: String) async throws {
        try await withGateway { _, client in
            let response = try await client.admin("/v1/events?\(query)")
            #expect(response.status == .badRequest)
            #expect(try response.json["code"]?.stringValue == "invalid-query")
        }
    }

    @Test func unknownIDsAreNotFoundProblems() async throws {
        try await withGateway { _, client in
            for uri in ["/v1/events/0123", "/v1/jobs/techlink:cobalt-pos:none", "/v1/quarantine/q_none"] {
                let response = try await client.admin(uri)
                #expect(response.status == .notFound, "\(uri)")
                #expect(try response.json["code"]?.stringValue == "not-found")
            }
            #expect(try await client.admin("/v1/quarantine/q_none/replay", method: .post).status == .notFound)
            #expect(try await client.execute(uri: "/nowhere", method: .get).status == .notFound)
        }
    }

    @Test func aJobsTimelineHasItsEventsInOrderAndItsLatestStatus() async throws {
        try await withGateway { harness, client in
            var ids: [String] = []
            for (old, new) in [("10", "20"), ("20", "22"), ("22", "70"), ("70", "76")] {
                ids.append(
                    try #require(try await client.send(statusChange("77", from: old, to: new)).json["id"]?.stringValue)
                )
                harness.clock.advance(by: .seconds(90))
            }
            _ = try await client.send(statusChange("78", from: "10", to: "105"))
            for key in ["techlink:cobalt-pos:77", "techlink%3Acobalt-pos%3A77"] {
                let timeline = try await client.admin("/v1/jobs/\(key)").json
                #expect(timeline["key"]?.stringValue == "techlink:cobalt-pos:77")
                #expect(timeline["jobId"]?.stringValue == "77")
                #expect(timeline["status"]?.stringValue == "completed")
                #expect(timeline["vendorStatus"]?["code"]?.stringValue == "76")
                #expect(timeline["eventCount"]?.numberText == "4")
                #expect(timeline["events"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ids)
            }
        }
    }

    @Test func theTimelineFollowsEventTimeNotArrivalOrder() throws {
        func stored(_ sequence: Int64, minute: Int64, status: JobStatus?) -> StoredEvent {
            var candidate = StoreSamples.candidate(status: status, content: "t\(sequence)")
            candidate.event.time = UTCTimestamp(millisecondsSinceEpoch: minute * 60_000)
            return StoredEvent(event: candidate.event, raw: candidate.raw, sequence: sequence)
        }
        // Arrived: on_site (minute 5), dispatched (minute 1), a note without status (minute 9), same-minute tie.
        let timeline = JobTimeline(
            key: "k",
            events: [
                stored(1, minute: 5, status: .onSite), stored(2, minute: 1, status: .dispatched),
                stored(3, minute: 9, status: nil), stored(4, minute: 5, status: .offSite),
            ]
        )
        #expect(timeline.events.map(\.sequence) == [2, 1, 4, 3])
        let summary = try #require(timeline.summary)
        #expect(summary.status == .offSite)
        #expect(summary.statusAt == UTCTimestamp(millisecondsSinceEpoch: 5 * 60_000))
        #expect(summary.lastEventAt == UTCTimestamp(millisecondsSinceEpoch: 9 * 60_000))
        #expect(summary.lastEventID == timeline.events.last?.event.id)
    }
}
