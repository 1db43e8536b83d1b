import Dispatch
import FieldgateCore
import FieldgateHTTP
import FieldgateModel
import FieldgateTestSupport
import HTTPTypes
import HummingbirdTesting
import Testing

@testable import FieldgateSQLite

/// CONTRACT §1: when the store cannot keep up, ingest answers 503 with Retry-After (a problem document) rather
/// than holding more requests than the bound, and nothing answered 202 is lost.
@Suite("Backpressure")
struct BackpressureTests {
    @Test func aFullCommitQueueAnswers503WithRetryAfterAndLosesNothingAcknowledged() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try GatewayHarness(
            configurationYAML: adminTestConfiguration,
            databasePath: directory.path("backpressure.db"),
            commitQueue: CommitQueueLimits(maximumQueued: 2, retryAfter: .seconds(3))
        )
        let store = harness.store
        try await harness.application.test(.router) { client in
            // The committer is held inside a transaction, so the next writes wait behind it.
            let entered = DispatchSemaphore(value: 0)
            let release = DispatchSemaphore(value: 0)
            let held = Task.detached {
                try await store.commits.write { _ in
                    entered.signal()
                    release.wait()
                }
            }
            await Task.detached { entered.wait() }.value
            let waiting = (0..<2).map { number in
                Task { try await client.send(statusChange("w\(number)", from: "10", to: "20")) }
            }
            for _ in 0..<500 where store.commits.queuedCount < 2 { try await Task.sleep(for: .milliseconds(10)) }
            #expect(store.commits.queuedCount == 2)

            let refused = try await client.send(statusChange("refused", from: "10", to: "20"))
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.headers[.retryAfter] == "3")
            #expect(refused.headers[.contentType] == "application/problem+json")
            #expect(try refused.json["code"]?.stringValue == "store-overloaded")

            release.signal()
            try await held.value
            var acknowledged: [String] = []
            for task in waiting {
                let response = try await task.value
                #expect(response.status == .accepted)
                if let id = try response.json["id"]?.stringValue { acknowledged.append(id) }
            }
            #expect(acknowledged.count == 2)
            for id in acknowledged { #expect(try await store.event(id: id) != nil, "acknowledged \(id) is stored") }
            let stored = try await store.events(EventQuery())
            #expect(stored.items.count == 2, "the refused request was not stored")
            // Retried once the queue has room, the refused request is taken.
            let retry = try await client.send(statusChange("refused", from: "10", to: "20"))
            #expect(retry.status == .accepted)
        }
    }
}
