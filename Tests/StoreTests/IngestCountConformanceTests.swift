import FieldgateCore
import FieldgateModel
import FieldgateTestSupport
import Logging
import Testing

@testable import FieldgateSQLite

/// Ingest counts in every store: increments add up (several instances flushing into one store), old minutes go.
@Suite("Ingest count conformance")
struct IngestCountConformanceTests {
    @Test(arguments: StoreKind.available)
    func incrementsFromSeveralInstancesAddUp(_ kind: StoreKind) async throws {
        try await kind.withStore { events in
            let store = try #require(events as? any IngestCountStore)
            let now = StoreSamples.start
            let minute = IngestCount.minute(of: now)
            // Two instances, each with its own tally, flushing into the same store.
            for _ in 0..<2 {
                let tally = IngestTally()
                tally.record(vendor: "techlink", tenant: "cobalt-pos", outcome: .accepted, at: now)
                tally.record(vendor: "techlink", tenant: "cobalt-pos", outcome: .duplicate, at: now)
                tally.record(
                    vendor: "techlink",
                    tenant: "cobalt-pos",
                    outcome: .refused(status: 422),
                    quarantined: true,
                    at: now
                )
                tally.record(vendor: "techlink", tenant: nil, outcome: .refused(status: 401), at: now)
                try await store.addIngestCounts(tally.drain())
                #expect(tally.drain().isEmpty)
            }
            let counts = try await store.ingestCounts(sinceMinute: minute)
            func count(_ tenant: String, _ outcome: IngestCount.Outcome) -> Int? {
                counts.first { $0.tenant == tenant && $0.outcome == outcome && $0.minute == minute }?.count
            }
            #expect(count("cobalt-pos", .accepted) == 2)
            #expect(count("cobalt-pos", .duplicate) == 2)
            #expect(count("cobalt-pos", .refused(status: 422)) == 2)
            #expect(count("cobalt-pos", .quarantined) == 2)
            #expect(count(IngestCount.unknownTenant, .refused(status: 401)) == 2)
            #expect(try await store.ingestCounts(sinceMinute: minute + 1).isEmpty)
            #expect(try await store.deleteIngestCounts(beforeMinute: minute + 1) == counts.count)
            #expect(try await store.ingestCounts(sinceMinute: 0).isEmpty)
        }
    }

    @Test func aFailedFlushKeepsItsCountsForTheNextOne() async throws {
        struct Down: IngestCountStore {
            struct Failure: Error {}
            func addIngestCounts(_ counts: [IngestCount]) async throws { throw Failure() }
            func ingestCounts(sinceMinute minute: Int64) async throws -> [IngestCount] { [] }
            func deleteIngestCounts(beforeMinute minute: Int64) async throws -> Int { 0 }
        }
        let tally = IngestTally()
        tally.record(vendor: "techlink", tenant: "t", outcome: .accepted, at: StoreSamples.start)
        let flush = IngestCountFlush(
            tally: tally,
            store: Down(),
            clock: ManualWallClock(StoreSamples.start),
            logger: Logger(label: "test")
        )
        await flush.flush()
        #expect(tally.pending().map(\.count) == [1])
    }

    @Test(arguments: DeliveryStoreKind.available)
    func deliveryHealthCountsTheDaysAttempts(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore([Subscriber(id: "billing", url: "http://127.0.0.1:9/hooks")]) { store in
            _ = try await store.insertIfNew(StoreSamples.candidate(content: "a"))
            let delivery = try #require(try await store.deliveries(DeliveryQuery()).items.first)
            func at(_ minutes: Int64) -> UTCTimestamp {
                UTCTimestamp(millisecondsSinceEpoch: StoreSamples.start.millisecondsSinceEpoch + minutes * 60_000)
            }
            for (minute, status, result) in [
                (1, 500, DeliveryAttempt.Result.retry(at: at(2))), (2, 503, .retry(at: at(3))), (3, 200, .delivered),
            ] as [(Int64, Int, DeliveryAttempt.Result)] {
                try await store.record(
                    DeliveryAttempt(
                        deliveryID: delivery.id,
                        at: at(minute),
                        statusCode: status,
                        error: status == 200 ? nil : "HTTP \(status)",
                        durationMilliseconds: 5,
                        result: result
                    )
                )
            }
            let health = try #require(try await store.deliveryHealth(since: at(0)).first)
            #expect(health.subscriberID == "billing")
            #expect(health.attempts == 3 && health.delivered == 1)
            #expect(health.lastAttemptAt == at(3))
            #expect(
                health.lastFailureAt == at(2) && health.lastFailureStatus == 503
                    && health.lastFailureError == "HTTP 503"
            )
            #expect(try await store.deliveryHealth(since: at(4)).isEmpty)
        }
    }
}
