package import CoreMetrics
package import FieldgateCore
import FieldgateModel
package import Logging
import ServiceLifecycle
import Synchronization

/// Samples the outbox for the gauges: `fieldgate_delivery_pending`, `fieldgate_delivery_dead` and
/// `fieldgate_delivery_oldest_pending_seconds`, per subscriber.
///
/// Sampled on an interval rather than at every scrape: counting a large backlog is not free, and a scrape should
/// never queue behind the store. A subscriber that disappears from the outbox is reported as zero once.
package final class BacklogGauges: Service, Sendable {
    let store: any DeliveryStore
    let clock: any WallClock
    let metrics: any MetricsFactory
    let interval: Duration
    let logger: Logger
    private let reported = Mutex<Set<String>>([])

    package init(
        store: any DeliveryStore,
        clock: any WallClock,
        metrics: any MetricsFactory,
        interval: Duration = .seconds(15),
        logger: Logger
    ) {
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.interval = interval
        self.logger = logger
    }

    package func run() async throws {
        repeat {
            do {
                try await sample()
            } catch {
                logger.error("sampling the delivery backlog failed", metadata: ["error": "\(error)"])
            }
            let interval = self.interval
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        } while !Task.isShuttingDownGracefully && !Task.isCancelled
    }

    /// Reads the backlog once and sets every gauge.
    package func sample() async throws {
        let backlog = try await store.deliveryBacklog()
        let now = clock.now()
        let seen = Set(backlog.map(\.subscriberID))
        let gone = reported.withLock { reported -> Set<String> in
            defer { reported = seen }
            return reported.subtracting(seen)
        }
        for entry in backlog {
            let age = entry.oldestPendingSince.map { max(0, now.millisecondsSinceEpoch - $0.millisecondsSinceEpoch) }
            set(entry.subscriberID, pending: entry.pending, dead: entry.dead, oldestMilliseconds: age ?? 0)
        }
        for subscriberID in gone { set(subscriberID, pending: 0, dead: 0, oldestMilliseconds: 0) }
    }

    private func set(_ subscriberID: String, pending: Int, dead: Int, oldestMilliseconds: Int64) {
        let dimensions = [("subscriber", subscriberID)]
        Gauge(label: "fieldgate_delivery_pending", dimensions: dimensions, factory: metrics).record(pending)
        Gauge(label: "fieldgate_delivery_dead", dimensions: dimensions, factory: metrics).record(dead)
        Gauge(label: "fieldgate_delivery_oldest_pending_seconds", dimensions: dimensions, factory: metrics)
            .record(Double(oldestMilliseconds) / 1000)
    }
}
