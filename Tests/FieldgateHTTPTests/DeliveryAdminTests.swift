import AsyncHTTPClient
import FieldgateCore
import FieldgateModel
import FieldgateSQLite
import FieldgateTestSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOHTTP1
import Testing

import struct NIOCore.ByteBuffer

@Suite("Subscribers, deliveries and the live stream")
struct DeliveryAdminTests {
    func withGateway(_ body: @Sendable (GatewayHarness, any TestClientProtocol) async throws -> Void) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: adminTestConfiguration,
            databasePath: directory.path("d.db")
        )
        try await harness.application.test(.router) { client in try await body(harness, client) }
    }

    @Test func subscribersAreCreatedChangedAndDeletedWithTheirSecretWriteOnly() async throws {
        try await withGateway { _, client in
            let created = try await client.admin(
                "/v1/subscribers",
                method: .post,
                json: """
                    {"id":"billing","url":"http://127.0.0.1:9/hooks","secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                     "types":["job.*"],"retrySchedule":["1s","1m"],"timeout":"10s","maxConcurrency":2}
                    """
            )
            #expect(created.status == .created)
            #expect(!created.text.contains("whsec_"))
            let subscriber = try created.json
            #expect(subscriber["hasSecret"] == .bool(true))
            #expect(subscriber["retrySchedule"]?.arrayValue == [.string("1s"), .string("1m")])
            #expect(subscriber["timeout"]?.stringValue == "10s")
            #expect(subscriber["origin"]?.stringValue == "api")

            let again = try await client.admin(
                "/v1/subscribers",
                method: .post,
                json: #"{"id":"billing","url":"http://x"}"#
            )
            #expect(again.status == .conflict)
            #expect(try again.json["code"]?.stringValue == "subscriber-exists")
            for bad in [
                #"{"id":"b2","url":"ftp://x"}"#, #"{"id":"b2","url":"http://x","secret":"plain"}"#,
                #"{"id":"b2","url":"http://x","colour":"red"}"#, #"{"id":"b2","url":"http://x","statuses":["done"]}"#,
                #"{"url":"http://x"}"#, "not json",
            ] {
                let response = try await client.admin("/v1/subscribers", method: .post, json: bad)
                #expect(response.status == .badRequest, "\(bad)")
                #expect(try response.json["code"]?.stringValue == "invalid-subscriber", "\(bad)")
            }

            let patched = try await client.admin(
                "/v1/subscribers/billing",
                method: .patch,
                json: #"{"types":["site.*"],"secret":null}"#
            )
            #expect(try patched.json["types"]?.arrayValue == [.string("site.*")])
            #expect(try patched.json["hasSecret"] == .bool(false))
            let disabled = try await client.admin("/v1/subscribers/billing/disable", method: .post)
            #expect(try disabled.json["enabled"] == .bool(false))
            let listed = try await client.admin("/v1/subscribers").json["subscribers"]?.arrayValue
            #expect(listed?.compactMap { $0["id"]?.stringValue } == ["billing"])

            #expect(try await client.admin("/v1/subscribers/billing", method: .delete).status == .noContent)
            #expect(try await client.admin("/v1/subscribers/billing").status == .notFound)
            #expect(try await client.admin("/v1/subscribers/billing", method: .delete).status == .notFound)
        }
    }

    @Test func absurdDurationsAndCountsAreRefusedAndNeverStored() async throws {
        try await withGateway { harness, client in
            let base = #""id":"bounded","url":"http://example.invalid/hooks""#
            let refusals: [(String, HTTPResponse.Status, String)] = [
                (#"{\#(base),"timeout":"99999999999999999w"}"#, .unprocessableContent, "out-of-range"),
                (#"{\#(base),"timeout":"16000w"}"#, .unprocessableContent, "out-of-range"),
                (#"{\#(base),"timeout":"999999999999999999999999999999s"}"#, .unprocessableContent, "out-of-range"),
                (#"{\#(base),"timeout":"500ms"}"#, .unprocessableContent, "out-of-range"),
                (#"{\#(base),"timeout":"6m"}"#, .unprocessableContent, "out-of-range"),
                (#"{\#(base),"timeout":"0s"}"#, .unprocessableContent, "out-of-range"),
                (#"{\#(base),"timeout":"soon"}"#, .badRequest, "invalid-subscriber"),
                (#"{\#(base),"timeout":30}"#, .badRequest, "invalid-subscriber"),
                (#"{\#(base),"retrySchedule":["5s","8d"]}"#, .unprocessableContent, "out-of-range"),
                (#"{\#(base),"retrySchedule":["5s","99999999999999999w"]}"#, .unprocessableContent, "out-of-range"),
                (
                    #"{\#(base),"retrySchedule":[\#(Array(repeating: #""1s""#, count: 21).joined(separator: ","))]}"#,
                    .unprocessableContent, "out-of-range"
                ),
                (#"{\#(base),"maxConcurrency":65}"#, .unprocessableContent, "out-of-range"),
                (#"{\#(base),"maxConcurrency":0}"#, .unprocessableContent, "out-of-range"),
                (#"{\#(base),"maxConcurrency":99999999999999999999999}"#, .unprocessableContent, "out-of-range"),
                (#"{\#(base),"maxConcurrency":2.5}"#, .badRequest, "invalid-subscriber"),
            ]
            for (body, status, code) in refusals {
                let response = try await client.admin("/v1/subscribers", method: .post, json: body)
                #expect(response.status == status, "\(body)")
                #expect(try response.json["code"]?.stringValue == code, "\(body)")
            }
            #expect(try await harness.store.subscribers().isEmpty)

            // The bounds themselves are accepted, and a PATCH is held to them too.
            let edge = try await client.admin(
                "/v1/subscribers",
                method: .post,
                json: #"{\#(base),"timeout":"5m","retrySchedule":["1s","7d"],"maxConcurrency":64}"#
            )
            #expect(edge.status == .created)
            let patched = try await client.admin(
                "/v1/subscribers/bounded",
                method: .patch,
                json: #"{"timeout":"99999999999999999w"}"#
            )
            #expect(patched.status == .unprocessableContent)
            #expect(try await harness.store.subscriber(id: "bounded")?.timeout == .seconds(300))
        }
    }

    /// A literal address in a refused range is refused when the subscriber is created or changed (422); names
    /// are checked when a delivery connects.
    @Test func aLiteralAddressInARefusedRangeIsRefusedAtCreation() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML:
                "delivery: {allowNetworks: [10.20.0.0/16]}\ntenants: [{vendor: techlink, tenant: cobalt-pos}]",
            databasePath: directory.path("refused.db")
        )
        try await harness.application.test(.router) { client in
            for url in [
                "http://127.0.0.1:9/x", "http://[::1]:8080/", "http://10.1.2.3/", "http://169.254.169.254/latest",
                "http://[::ffff:127.0.0.1]/", "http://2130706433/", "http://0x7f.1/", "http://0.0.0.0:80/",
                "https://[fd00::1]/", "http://100.64.0.1/", "http://192.168.1.1/", "http://172.16.0.1/",
                "http://224.0.0.1/", "http://[fe80::1]/", "http://user@127.0.0.1/", "http://[64:ff9b::7f00:1]/",
            ] {
                let response = try await client.admin(
                    "/v1/subscribers",
                    method: .post,
                    json: #"{"id":"inside","url":"\#(url)"}"#
                )
                #expect(response.status == .unprocessableContent, "\(url)")
                #expect(try response.json["code"]?.stringValue == "destination-refused", "\(url)")
                #expect(try response.json["detail"]?.stringValue?.contains("delivery.allowNetworks") == true, "\(url)")
            }
            #expect(try await harness.store.subscribers().isEmpty)
            // Inside allowNetworks, a public literal, or a name: accepted (names are checked at every connection).
            for (index, url) in ["http://10.20.3.4/", "http://192.0.2.10/", "https://hooks.example.com/"].enumerated() {
                let response = try await client.admin(
                    "/v1/subscribers",
                    method: .post,
                    json: #"{"id":"ok\#(index)","url":"\#(url)"}"#
                )
                #expect(response.status == .created, "\(url)")
            }
            let patched = try await client.admin(
                "/v1/subscribers/ok0",
                method: .patch,
                json: #"{"url":"http://10.21.0.1/"}"#
            )
            #expect(patched.status == .unprocessableContent)
            #expect(try await harness.store.subscriber(id: "ok0")?.url == "http://10.20.3.4/")
        }
    }

    @Test func aSecretRotatesWithAGracePeriodAndNeitherSecretIsEverShown() async throws {
        let old = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        let new = "whsec_c2VjcmV0LWFmdGVyLXJvdGF0aW9u"
        try await withGateway { harness, client in
            _ = try await client.admin(
                "/v1/subscribers",
                method: .post,
                json: #"{"id":"billing","url":"https://billing.example/hooks","secret":"\#(old)"}"#
            )
            let rotated = try await client.admin(
                "/v1/subscribers/billing/secret",
                method: .post,
                json: #"{"secret":"\#(new)"}"#
            )
            #expect(rotated.status == .ok)
            #expect(!rotated.text.contains("whsec_"))
            #expect(try rotated.json["hasSecret"] == .bool(true))
            #expect(try rotated.json["previousSecretExpiresAt"]?.stringValue == "2026-10-27T21:14:06.512Z")
            let stored = try #require(try await harness.store.subscriber(id: "billing"))
            #expect(stored.secret == new)
            #expect(stored.signingSecrets(at: harness.clock.now()) == [new, old])
            for listing in ["/v1/subscribers", "/v1/subscribers/billing"] {
                #expect(try await !client.admin(listing).text.contains("whsec_"))
            }

            // A grace period of its own; none at all; out of bounds; malformed.
            let short = try await client.admin(
                "/v1/subscribers/billing/secret",
                method: .post,
                json: #"{"secret":"\#(old)","gracePeriod":"1h"}"#
            )
            #expect(try short.json["previousSecretExpiresAt"]?.stringValue == "2026-10-26T22:14:06.512Z")
            let immediate = try await client.admin(
                "/v1/subscribers/billing/secret",
                method: .post,
                json: #"{"secret":"\#(new)","gracePeriod":"0s"}"#
            )
            #expect(try immediate.json["previousSecretExpiresAt"] == .null)
            #expect(try await harness.store.subscriber(id: "billing")?.signingSecrets(at: harness.clock.now()) == [new])
            for (body, status) in [
                (#"{"secret":"\#(old)","gracePeriod":"8d"}"#, HTTPResponse.Status.unprocessableContent),
                (#"{"secret":"\#(old)","gracePeriod":"99999999999999999w"}"#, .unprocessableContent),
                (#"{"secret":"\#(old)","gracePeriod":"soon"}"#, .badRequest),
                (#"{"secret":"plain"}"#, .badRequest), (#"{}"#, .badRequest),
                (#"{"secret":"\#(old)","colour":"red"}"#, .badRequest),
            ] {
                let response = try await client.admin("/v1/subscribers/billing/secret", method: .post, json: body)
                #expect(response.status == status, "\(body)")
                #expect(
                    !response.text.contains(old.dropFirst(6)) && !response.text.contains(new.dropFirst(6)),
                    "a problem document showed a secret: \(response.text)"
                )
            }
            #expect(try await harness.store.subscriber(id: "billing")?.secret == new)
            #expect(
                try await client.admin("/v1/subscribers/nobody/secret", method: .post, json: #"{"secret":"\#(new)"}"#)
                    .status == .notFound
            )
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(!metrics.text.contains("whsec_"))
        }
    }

    @Test func deliveriesAreListedAndDeadLettersRedelivered() async throws {
        try await withGateway { harness, client in
            _ = try await client.admin(
                "/v1/subscribers",
                method: .post,
                json: #"{"id":"portal","url":"http://127.0.0.1:9/p"}"#
            )
            let id = try #require(
                try await client.send(statusChange("D7", from: "20", to: "22")).json["id"]?.stringValue
            )
            let page = try await client.admin("/v1/deliveries?subscriber=portal&state=pending").json
            let delivery = try #require(page["deliveries"]?.arrayValue?.first)
            #expect(delivery["eventId"]?.stringValue == id)
            #expect(delivery["jobKey"]?.stringValue == "techlink:cobalt-pos:D7")
            let deliveryID = try #require(delivery["id"]?.stringValue)

            let pending = try await client.admin("/v1/deliveries/\(deliveryID)/redeliver", method: .post)
            #expect(pending.status == .conflict)
            #expect(try pending.json["code"]?.stringValue == "delivery-pending")

            // The schedule ran out (recorded as the engine would).
            try await harness.store.record(
                DeliveryAttempt(
                    deliveryID: Int64(deliveryID)!,
                    at: harness.clock.now(),
                    statusCode: 500,
                    error: "HTTP 500",
                    durationMilliseconds: 3,
                    result: .dead
                )
            )
            let dead = try await client.admin("/v1/deliveries?state=dead").json["deliveries"]?.arrayValue
            #expect(dead?.count == 1)
            let detail = try await client.admin("/v1/deliveries/\(deliveryID)").json
            #expect(detail["attempts"]?.arrayValue?.first?["result"]?.stringValue == "dead")
            #expect(detail["lastStatus"]?.numberText == "500")

            let redelivered = try await client.admin("/v1/deliveries/\(deliveryID)/redeliver", method: .post).json
            #expect(redelivered["state"]?.stringValue == "pending")
            #expect(redelivered["attempts"]?.numberText == "0")
            #expect(try await client.admin("/v1/deliveries/999").status == .notFound)
            #expect(try await client.admin("/v1/deliveries?state=lost").status == .badRequest)
        }
    }

    @Test func recoverQueuesEverythingSinceATimeOnce() async throws {
        try await withGateway { harness, client in
            for index in 0..<4 {
                _ = try await client.send(statusChange("R\(index)", from: "20", to: index == 3 ? "70" : "22"))
                harness.clock.advance(by: .seconds(60))
            }
            _ = try await client.admin(
                "/v1/subscribers",
                method: .post,
                json: #"{"id":"late","url":"http://127.0.0.1:9/l","statuses":["dispatched"]}"#
            )
            // Minute 1 on: events 2 and 3 are dispatched (event 4 is on site).
            let recovered = try await client.admin(
                "/v1/subscribers/late/recover?since=2026-10-26T21:15:06.512Z",
                method: .post
            ).json
            #expect(recovered["queued"]?.numberText == "2")
            let again = try await client.admin(
                "/v1/subscribers/late/recover?since=2026-10-26T21:14:06.512Z",
                method: .post
            ).json
            #expect(again["queued"]?.numberText == "1")
            #expect(try await client.admin("/v1/subscribers/late/recover", method: .post).status == .badRequest)
            #expect(
                try await client.admin("/v1/subscribers/nobody/recover?since=2026-10-26T21:14:06Z", method: .post)
                    .status == .notFound
            )
        }
    }

    @Test func theLiveStreamResumesAfterLastEventIDAndFollowsNewEvents() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: adminTestConfiguration,
            databasePath: directory.path("s.db")
        )
        try await harness.application.test(.live) { client in
            var ids: [String] = []
            for index in 0..<3 {
                ids.append(
                    try #require(
                        try await client.send(statusChange("S\(index)", from: "20", to: "22")).json["id"]?.stringValue
                    )
                )
            }
            var request = HTTPClientRequest(
                url: "http://127.0.0.1:\(client.port!)/v1/stream?types=job.*&statuses=dispatched"
            )
            request.headers.add(name: "Authorization", value: "Bearer \(GatewayHarness.adminToken)")
            request.headers.add(name: "Last-Event-ID", value: ids[0])
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(20))
            #expect(response.status == .ok)
            #expect(response.headers.first(name: "Content-Type") == "text/event-stream")
            var text = ""
            var sentLive = false
            for try await buffer in response.body {
                text += String(buffer: buffer)
                let received = text.components(separatedBy: "\n").filter { $0.hasPrefix("id: ") }.map {
                    String($0.dropFirst(4))
                }
                if received.count == 2, !sentLive {
                    #expect(received == Array(ids[1...]))
                    // Not dispatched: filtered out. Dispatched: streamed live.
                    _ = try await client.send(statusChange("S9", from: "22", to: "70"))
                    ids.append(
                        try #require(
                            try await client.send(statusChange("S8", from: "20", to: "22")).json["id"]?.stringValue
                        )
                    )
                    sentLive = true
                }
                if received.count == 3 {
                    #expect(received == Array(ids[1...]))
                    break
                }
            }
            #expect(text.contains("event: job.status_changed\ndata: {\"specversion\":\"1.0\""))
            let unknown = try await client.execute(
                uri: "/v1/stream",
                method: .get,
                headers: [
                    .authorization: "Bearer \(GatewayHarness.adminToken)", HTTPField.Name("Last-Event-ID")!: "nope",
                ]
            )
            // A resume point that is not stored (deleted by retention, or never one): reconnect without it.
            #expect(unknown.status == .notFound)
            #expect(try unknown.json["code"]?.stringValue == "not-found")
            #expect(unknown.headers[.contentType] == "application/problem+json")
        }
    }
}

extension String {
    func components(separatedBy separator: String) -> [String] {
        split(separator: separator, omittingEmptySubsequences: false).map(String.init)
    }
}
