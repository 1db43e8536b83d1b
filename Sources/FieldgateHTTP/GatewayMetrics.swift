import CoreMetrics
package import FieldgateCore
import Metrics
package import Prometheus

/// The gateway's metrics, on an injected factory so that each application (and each test) has its own registry.
///
/// Label values come only from configuration (known vendors and tenants) or a fixed vocabulary: a tenant named in
/// an unknown URL is counted as `unknown`, so a scanner cannot grow the number of series.
package struct GatewayMetrics: Sendable {
    package let registry: PrometheusCollectorRegistry
    /// For other parts of the gateway (the delivery engine) to record into the same registry.
    package let factory: PrometheusMetricsFactory

    package init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["fieldgate_ingest_duration_seconds"] = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(5),
        ]
        factory.valueHistogramBuckets["fieldgate_store_commit_batch_size"] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
        self.factory = factory
    }

    /// One answered ingest request; `outcome` is `accepted`, `duplicate` or a problem code.
    func countIngest(vendor: String, tenant: String, outcome: String, duration: Duration) {
        Counter(
            label: "fieldgate_ingest_requests_total",
            dimensions: [("vendor", vendor), ("tenant", tenant), ("outcome", outcome)],
            factory: factory
        ).increment()
        Metrics.Timer(label: "fieldgate_ingest_duration_seconds", dimensions: [("vendor", vendor)], factory: factory)
            .recordNanoseconds(Self.nanoseconds(duration))
    }

    /// The number of writes that shared one committed transaction.
    package func recordCommitBatch(size: Int) {
        Recorder(label: "fieldgate_store_commit_batch_size", factory: factory).record(size)
    }

    /// What a retention pass deleted, by kind (`events`, `quarantine`, `deliveries`, `dedupe_keys`).
    package func recordRetention(_ report: RetentionReport) {
        for (kind, count) in [
            ("events", report.events), ("quarantine", report.quarantinedRequests),
            ("deliveries", report.deliveries), ("dedupe_keys", report.dedupeKeys),
        ] {
            Counter(label: "fieldgate_retention_deleted_total", dimensions: [("kind", kind)], factory: factory)
                .increment(by: count)
        }
    }

    func countStoreError(operation: String) {
        Counter(label: "fieldgate_store_errors_total", dimensions: [("operation", operation)], factory: factory)
            .increment()
    }

    /// Prometheus text exposition format.
    func exposition() -> [UInt8] {
        var output: [UInt8] = []
        registry.emit(into: &output)
        return output
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
