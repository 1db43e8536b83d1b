import FieldgateCore
import FieldgateModel
import FieldgateSQLite
import FieldgateTestSupport
import Logging
import Testing

/// `retention:`: each kind of row goes when it is older than its own setting, and nothing younger.
@Suite("Retention")
struct RetentionServiceTests {
    static let day: Int64 = 86_400_000

    static func days(_ count: Int64) -> UTCTimestamp {
        UTCTimestamp(millisecondsSinceEpoch: StoreSamples.start.millisecondsSinceEpoch + count * day)
    }

    static var retention: GatewayConfiguration.Retention {
        var retention = GatewayConfiguration.Retention()
        retention.events = .seconds(10 * 86_400)
        retention.quarantine = .seconds(5 * 86_400)
        retention.deliveries = .seconds(2 * 86_400)
        return retention
    }

    static func service(
        _ store: any EventStore,
        deliveries: (any DeliveryStore)?,
        clock: ManualWallClock,
        batchSize: Int = 3
    ) -> RetentionService {
        var logger = Logger(label: "retention-test")
        logger.logLevel = .critical
        return RetentionService(
            events: store,
            deliveries: deliveries,
            clock: clock,
            retention: retention,
            batchSize: batchSize,
            logger: logger
        )
    }

    @Test(arguments: DeliveryStoreKind.available)
    func aPassDeletesExactlyWhatIsOlderThanItsSetting(_ kind: DeliveryStoreKind) async throws {
        try await kind.withStore([Subscriber(id: "board", url: "https://board.example/")]) { store in
            // One event, one quarantined request a day for 20 days; every delivery delivered the day it was made.
            for day in 0..<20 {
                let at = Self.days(Int64(day))
                let candidate = StoreSamples.candidate(
                    jobID: "job-\(day)",
                    content: "day \(day)",
                    receivedAt: at,
                    window: .seconds(3600)
                )
                _ = try await store.insertIfNew(candidate)
                try await store.quarantine(StoreSamples.quarantined(id: "q_\(day)", receivedAt: at))
                for due in try await store.claimDueDeliveries(
                    now: at,
                    leaseMargin: .seconds(5),
                    limit: 10,
                    inFlight: [:],
                    paused: []
                ) {
                    try await store.record(
                        DeliveryAttempt(
                            deliveryID: due.delivery.id,
                            at: at,
                            statusCode: 200,
                            error: nil,
                            durationMilliseconds: 1,
                            result: .delivered
                        )
                    )
                }
            }
            // An hour before day 20: events of days 0-9, requests of days 0-14, deliveries of days 0-17 are older
            // than their settings; day 10's event is 9 days 23 hours old and stays.
            let clock = ManualWallClock(
                UTCTimestamp(millisecondsSinceEpoch: Self.days(20).millisecondsSinceEpoch - 3_600_000)
            )
            let report = try await Self.service(store, deliveries: store, clock: clock).pass()
            #expect(report.events == 10)
            #expect(report.quarantinedRequests == 15)
            // Deliveries of the ten deleted events went with them; of the rest, days 10 to 17 are old enough.
            #expect(report.deliveries == 8)
            let events = try await store.events(EventQuery(limit: 100)).items
            #expect(events.map(\.event.receivedAt) == (10..<20).reversed().map { Self.days(Int64($0)) })
            let requests = try await store.quarantinedRequests(QuarantineQuery(limit: 100)).items
            #expect(requests.map(\.id) == (15..<20).reversed().map { "q_\($0)" })
            let delivered = try await store.deliveries(DeliveryQuery(state: .delivered, limit: 100)).items
            #expect(delivered.compactMap(\.deliveredAt) == (18..<20).reversed().map { Self.days(Int64($0)) })
            // A second pass finds nothing more.
            #expect(try await Self.service(store, deliveries: store, clock: clock).pass().isEmpty)
        }
    }

    @Test func theInMemoryStoreIsHeldToTheSameSettings() async throws {
        let store = InMemoryEventStore()
        for day in 0..<12 {
            _ = try await store.insertIfNew(
                StoreSamples.candidate(content: "day \(day)", receivedAt: Self.days(Int64(day)), window: .seconds(60))
            )
        }
        let clock = ManualWallClock(Self.days(12))
        let report = try await Self.service(store, deliveries: nil, clock: clock, batchSize: 500).pass()
        #expect(report.events == 2)
        #expect(report.dedupeKeys == 12)
        #expect(store.eventCount == 10)
    }
}
