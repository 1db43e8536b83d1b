import FieldgateModel
package import Logging
import ServiceLifecycle

/// What one retention pass deleted.
package struct RetentionReport: Sendable, Equatable {
    package var events = 0
    package var quarantinedRequests = 0
    package var deliveries = 0
    package var dedupeKeys = 0

    package init() {}

    package var isEmpty: Bool { self == RetentionReport() }
}

/// Deletes what is older than `retention:` (CONTRACT §5) and purges expired dedupe keys, on an interval.
///
/// Off the ingest path: it runs as a background service, and each deletion is a small batch of its own
/// transaction, so a request waiting to be stored waits at most one batch, not a whole pass. What dedupe still
/// needs is never deleted (the stores keep an event while its key counts), so the windows hold whatever the
/// retention settings say.
package struct RetentionService: Service {
    package let events: any EventStore
    /// The outbox, when the store keeps one: delivered deliveries age out on their own setting.
    package let deliveries: (any DeliveryStore)?
    package let clock: any WallClock
    package let retention: GatewayConfiguration.Retention
    /// Time between passes.
    package let interval: Duration
    /// Rows per transaction.
    package let batchSize: Int
    package let logger: Logger
    /// Called after every pass (metrics).
    package let onPass: @Sendable (RetentionReport) -> Void

    package init(
        events: any EventStore,
        deliveries: (any DeliveryStore)?,
        clock: any WallClock,
        retention: GatewayConfiguration.Retention,
        interval: Duration = .seconds(60),
        batchSize: Int = 500,
        logger: Logger,
        onPass: @escaping @Sendable (RetentionReport) -> Void = { _ in }
    ) {
        self.events = events
        self.deliveries = deliveries
        self.clock = clock
        self.retention = retention
        self.interval = interval
        self.batchSize = batchSize
        self.logger = logger
        self.onPass = onPass
    }

    package func run() async throws {
        repeat {
            do {
                let report = try await pass()
                onPass(report)
                if !report.isEmpty {
                    logger.info(
                        "retention pass",
                        metadata: [
                            "deleted.events": "\(report.events)",
                            "deleted.quarantine": "\(report.quarantinedRequests)",
                            "deleted.deliveries": "\(report.deliveries)",
                            "purged.dedupeKeys": "\(report.dedupeKeys)",
                        ]
                    )
                }
            } catch is CancellationError {
                return
            } catch {
                logger.error("retention pass failed", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        } while !Task.isShuttingDownGracefully && !Task.isCancelled
    }

    /// One pass: batch after batch until nothing older than its setting is left (or the service is stopping).
    package func pass() async throws -> RetentionReport {
        let now = clock.now()
        var report = RetentionReport()
        report.dedupeKeys = try await events.purgeExpiredKeys(before: now)
        report.events = try await batches { limit in
            try await events.deleteEvents(receivedBefore: cutoff(now, retention.events), now: now, limit: limit)
        }
        report.quarantinedRequests = try await batches { limit in
            try await events.deleteQuarantinedRequests(receivedBefore: cutoff(now, retention.quarantine), limit: limit)
        }
        if let deliveries {
            report.deliveries = try await batches { limit in
                try await deliveries.deleteDeliveredDeliveries(
                    deliveredBefore: cutoff(now, retention.deliveries),
                    limit: limit
                )
            }
        }
        return report
    }

    /// Runs `delete` until a batch comes back short, yielding between batches so that ingest goes first.
    private func batches(_ delete: (Int) async throws -> Int) async throws -> Int {
        var total = 0
        while !Task.isShuttingDownGracefully {
            try Task.checkCancellation()
            let deleted = try await delete(batchSize)
            total += deleted
            guard deleted == batchSize else { break }
            await Task.yield()
        }
        return total
    }

    private func cutoff(_ now: UTCTimestamp, _ age: Duration) -> UTCTimestamp {
        UTCTimestamp(millisecondsSinceEpoch: now.millisecondsSinceEpoch - age.milliseconds)
    }
}
