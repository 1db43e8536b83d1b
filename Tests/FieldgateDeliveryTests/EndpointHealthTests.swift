import FieldgateCore
import FieldgateDelivery
import FieldgateModel
import FieldgateSQLite
import FieldgateTestSupport
import Logging
import MetricsTestKit
import Testing

/// `delivery.disableAfter` and the backlog gauges, with a virtual clock that runs days of retries in moments.
@Suite("Endpoint health", .serialized)
struct EndpointHealthTests {
    /// Every attempt fails, a day apart: on the attempt five days after the first failure the subscriber is
    /// disabled with a reason, counted and logged, and its delivery waits instead of dying.
    @Test func aSubscriberFailingForDisableAfterIsDisabledWithAReason() async throws {
        let receiver = Receiver { _, _ in (500, []) }
        try await receiver.serve { url in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let harness = try await DeliveryHarness(
                databasePath: directory.path("health.db"),
                subscribers: [
                    Subscriber(id: "broken", url: url, retrySchedule: Array(repeating: .seconds(86_400), count: 20))
                ]
            )
            try await harness.accept(workOrder: "H1", code: 22)
            try await harness.running {
                for _ in 0..<2000 {
                    if try await harness.store.subscriber(id: "broken")?.enabled == false { break }
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
            let subscriber = try #require(try await harness.store.subscriber(id: "broken"))
            #expect(!subscriber.enabled)
            #expect(subscriber.disabledReason?.contains("without a success for 5d (delivery.disableAfter)") == true)
            // Day 0, 1, 2, 3, 4 and 5: the sixth attempt is five days after the first failure.
            #expect(receiver.received.count == 6)
            let delivery = try #require(
                try await harness.store.deliveries(DeliveryQuery(subscriberID: "broken")).items.first
            )
            #expect(delivery.state == .pending)
            #expect(delivery.attempts == 6)
            let attempts = try await harness.store.attempts(deliveryID: delivery.id)
            #expect(subscriber.failingSince == attempts.first?.at)
            let span =
                (attempts.last?.at.millisecondsSinceEpoch ?? 0) - (attempts.first?.at.millisecondsSinceEpoch ?? 0)
            #expect(span >= 5 * 86_400_000)
            let disabled = try harness.metrics.expectCounter(
                "fieldgate_subscribers_disabled_total",
                [("subscriber", "broken"), ("cause", "failing")]
            )
            #expect(disabled.totalValue == 1)
        }
    }

    @Test func theGaugesShowPendingDeadAndTheOldestPendingAge() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteEventStore(path: directory.path("gauges.db"))
        try await store.saveSubscriber(Subscriber(id: "board", url: "https://board.example/"))
        for index in 0..<3 {
            _ = try await store.insertIfNew(StoreSamples.candidate(jobID: "g\(index)", content: "gauge \(index)"))
        }
        let first = try #require(
            try await store.claimDueDeliveries(
                now: StoreSamples.start,
                leaseMargin: .seconds(5),
                limit: 1,
                inFlight: [:],
                paused: []
            ).first
        )
        try await store.record(
            DeliveryAttempt(
                deliveryID: first.delivery.id,
                at: StoreSamples.start,
                statusCode: 500,
                error: "HTTP 500",
                durationMilliseconds: 1,
                result: .dead
            )
        )
        let metrics = TestMetrics()
        let clock = ManualWallClock(
            UTCTimestamp(millisecondsSinceEpoch: StoreSamples.start.millisecondsSinceEpoch + 90_000)
        )
        var logger = Logger(label: "gauges")
        logger.logLevel = .critical
        let gauges = BacklogGauges(store: store, clock: clock, metrics: metrics, logger: logger)
        try await gauges.sample()
        let board = [("subscriber", "board")]
        #expect(try metrics.expectGauge("fieldgate_delivery_pending", board).lastValue == 2)
        #expect(try metrics.expectGauge("fieldgate_delivery_dead", board).lastValue == 1)
        #expect(try metrics.expectGauge("fieldgate_delivery_oldest_pending_seconds", board).lastValue == 90)
        // Deleted with its pending deliveries, and its dead letter gone with its event: the gauges drop to zero.
        _ = try await store.deleteSubscriber(id: "board")
        _ = try await store.deleteEvents(
            receivedBefore: UTCTimestamp(millisecondsSinceEpoch: .max / 2),
            now: UTCTimestamp(millisecondsSinceEpoch: .max / 2),
            limit: 10
        )
        try await gauges.sample()
        #expect(try metrics.expectGauge("fieldgate_delivery_pending", board).lastValue == 0)
        #expect(try metrics.expectGauge("fieldgate_delivery_dead", board).lastValue == 0)
    }
}
