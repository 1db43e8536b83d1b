import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@testable import FieldgateHTTP

@Suite("GET /v1/jobs")
struct JobListingAPITests {
    func withGateway(_ body: @Sendable (GatewayHarness, any TestClientProtocol) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: adminTestConfiguration,
            databasePath: directory.path("jobs.db")
        )
        try await harness.application.test(.router) { client in try await body(harness, client) }
    }

    @Test func jobsAreListedByLatestStatusMostRecentlyUpdatedFirst() async throws {
        try await withGateway { harness, client in
            _ = try await client.send(statusChange("71", from: "10", to: "22"))
            harness.clock.advance(by: .seconds(60))
            _ = try await client.send(statusChange("72", from: "10", to: "70"))
            harness.clock.advance(by: .seconds(60))
            let last = try await client.send(statusChange("71", from: "22", to: "76")).json["id"]?.stringValue
            _ = try await client.send(statusChange("73", from: "10", to: "70", tenant: "harbor-signs"))

            let response = try await client.admin("/v1/jobs")
            #expect(response.status == .ok)
            let body = try response.json
            let jobs = try #require(body["jobs"]?.arrayValue)
            #expect(jobs.compactMap { $0["jobId"]?.stringValue } == ["73", "71", "72"])
            #expect(body["nextCursor"]?.isNull == true)
            let job71 = try #require(jobs.first { $0["jobId"]?.stringValue == "71" })
            #expect(job71["key"]?.stringValue == "techlink:cobalt-pos:71")
            #expect(job71["vendor"]?.stringValue == "techlink")
            #expect(job71["tenant"]?.stringValue == "cobalt-pos")
            #expect(job71["status"]?.stringValue == "completed")
            #expect(job71["vendorStatus"]?["code"]?.stringValue == "76")
            #expect(job71["eventCount"]?.numberText == "2")
            #expect(job71["lastEventId"]?.stringValue == last)
            #expect(job71["updatedAt"]?.stringValue == job71["statusAt"]?.stringValue)
            #expect(job71["lastEventAt"]?.stringValue != nil)

            // The timeline heads its events with the same summary.
            let timeline = try await client.admin("/v1/jobs/techlink:cobalt-pos:71").json
            for field in ["status", "statusAt", "updatedAt", "lastEventAt", "lastEventId"] {
                #expect(timeline[field] == job71[field], "\(field)")
            }
        }
    }

    @Test func filtersStaleJobsAndPages() async throws {
        try await withGateway { harness, client in
            for index in 0..<5 {
                _ = try await client.send(statusChange("8\(index)", from: "10", to: index % 2 == 0 ? "70" : "22"))
                harness.clock.advance(by: .seconds(3600))
            }
            // Job 80 was updated at the start, 81 an hour later, …: before start + 2 h are 80 and 81.
            let cutoff = UTCTimestamp(
                millisecondsSinceEpoch: StoreSamples.start.millisecondsSinceEpoch + 2 * 3_600_000
            ).rfc3339()
            let stale = try await client.admin("/v1/jobs?updatedBefore=\(cutoff)").json
            #expect(stale["jobs"]?.arrayValue?.compactMap { $0["jobId"]?.stringValue } == ["81", "80"])
            let onSite = try await client.admin("/v1/jobs?status=on_site&vendor=techlink&tenant=cobalt-pos").json
            #expect(onSite["jobs"]?.arrayValue?.compactMap { $0["jobId"]?.stringValue } == ["84", "82", "80"])
            #expect(try await client.admin("/v1/jobs?tenant=harbor-signs").json["jobs"]?.arrayValue?.isEmpty == true)

            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await client.admin("/v1/jobs?limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")).json
                seen += page["jobs"]?.arrayValue?.compactMap { $0["jobId"]?.stringValue } ?? []
                cursor = page["nextCursor"]?.stringValue
            } while cursor != nil
            #expect(seen == ["84", "83", "82", "81", "80"])
        }
    }

    @Test(arguments: [
        "status=bogus", "status=on_site&status=closed", "updatedBefore=yesterday", "limit=0", "limit=501",
        "cursor=%21%21", "cursor=12", "stale=2", "job=x",
    ])
    func aBadQueryIsAProblem(_ query: String) async throws {
        try await withGateway { _, client in
            let response = try await client.admin("/v1/jobs?\(query)")
            #expect(response.status == .badRequest, "\(query)")
            #expect(response.headers[.contentType] == "application/problem+json")
            #expect(try response.json["code"]?.stringValue == "invalid-query")
        }
    }

    @Test func theListingNeedsTheAdminToken() async throws {
        try await withGateway { _, client in
            let tokens: [String?] = [nil, "wrong"]
            for token in tokens {
                let response = try await client.admin("/v1/jobs", token: token)
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func aStoreFailureIsA503() async throws {
        let configuration = try GatewayConfiguration.parse(yaml: adminTestConfiguration)
        let store = UnavailableStore()
        let clock = ManualWallClock(StoreSamples.start)
        let pipeline = IngestPipeline(
            directory: try TenantDirectory(configuration: configuration, adapters: GatewayHarness.adapters),
            store: store,
            clock: clock,
            maxBodyBytes: 4096
        )
        let application = buildApplication(
            GatewayDependencies(
                pipeline: pipeline,
                store: store,
                clock: clock,
                adminToken: GatewayHarness.adminToken,
                metrics: GatewayMetrics(),
                logger: .init(label: "test")
            ),
            configuration: .init(address: .hostname("127.0.0.1", port: 0))
        )
        try await application.test(.router) { client in
            let response = try await client.admin("/v1/jobs")
            #expect(response.status == .serviceUnavailable)
            #expect(try response.json["code"]?.stringValue == "store-unavailable")
        }
    }
}
