package import FieldgateModel
package import Histogram

/// What a replay measured: counts by status and outcome, and latency (from each request's intended start, so an
/// open-loop run does not hide queueing: no coordinated omission).
package struct ReplayReport: Sendable {
    package var sent = 0
    /// Requests that got no HTTP answer (refused, reset, timed out).
    package var failed = 0
    package var statusCounts: [Int: Int] = [:]
    package var accepted = 0
    package var duplicate = 0
    package var rejected = 0
    /// Latency in microseconds, 1 µs to 10 minutes, three significant digits.
    package var latency = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    package var elapsed: Duration = .zero

    package init() {}

    /// Records one answered request; `outcome` is the 202 body's `status` (`accepted` or `duplicate`).
    package mutating func record(status: Int, outcome: String?, latency: Duration) {
        sent += 1
        statusCounts[status, default: 0] += 1
        switch (status, outcome) {
        case (202, "accepted"): accepted += 1
        case (202, "duplicate"): duplicate += 1
        default: rejected += 1
        }
        recordLatency(latency)
    }

    package mutating func recordFailure(latency: Duration) {
        sent += 1
        failed += 1
        recordLatency(latency)
    }

    mutating func recordLatency(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let microseconds = max(1, seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
        _ = latency.record(UInt64(min(microseconds, 600_000_000)))
    }

    package mutating func merge(_ other: ReplayReport) {
        sent += other.sent
        failed += other.failed
        accepted += other.accepted
        duplicate += other.duplicate
        rejected += other.rejected
        for (status, count) in other.statusCounts { statusCounts[status, default: 0] += count }
        latency.add(other.latency)
    }

    /// Answered and failed requests per second of the run.
    package var requestsPerSecond: Double {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return seconds > 0 ? Double(sent) / seconds : 0
    }

    /// Latency at `percentile` (0–100) in milliseconds.
    package func milliseconds(atPercentile percentile: Double) -> Double {
        latency.totalCount == 0 ? 0 : Double(latency.valueAtPercentile(percentile)) / 1000
    }

    package var maximumMilliseconds: Double {
        latency.totalCount == 0 ? 0 : Double(latency.max) / 1000
    }

    package static let percentiles: [(String, Double)] = [
        ("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9),
    ]

    package var json: JSONValue {
        var latencies = JSONObject()
        for (name, percentile) in Self.percentiles {
            latencies.set(name, .number(Self.format(milliseconds(atPercentile: percentile))))
        }
        latencies.set("max", .number(Self.format(maximumMilliseconds)))
        return .object([
            "requests": .integer(sent),
            "seconds": .number(
                Self.format(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            ),
            "requestsPerSecond": .number(Self.format(requestsPerSecond)),
            "status": .object(
                JSONObject(statusCounts.sorted { $0.key < $1.key }.map { (String($0.key), .integer($0.value)) })
            ),
            "failed": .integer(failed),
            "outcomes": .object([
                "accepted": .integer(accepted), "duplicate": .integer(duplicate), "rejected": .integer(rejected),
            ]),
            "latencyMilliseconds": .object(latencies),
        ])
    }

    package var text: String {
        var lines = [
            "requests     \(sent) in \(Self.format(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)) s"
                + " = \(Self.format(requestsPerSecond)) req/s",
            "status       "
                + statusCounts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "  ")
                + (failed > 0 ? "  no answer: \(failed)" : ""),
            "outcomes     accepted: \(accepted)  duplicate: \(duplicate)  rejected: \(rejected)",
        ]
        let latencies = Self.percentiles.map { "\($0.0) \(Self.format(milliseconds(atPercentile: $0.1)))" }
        lines.append("latency ms   " + latencies.joined(separator: "  ") + "  max \(Self.format(maximumMilliseconds))")
        return lines.joined(separator: "\n")
    }

    /// Three decimals at most, no exponent.
    static func format(_ value: Double) -> String {
        let rounded = (value * 1000).rounded() / 1000
        if rounded == rounded.rounded() { return String(Int64(rounded)) }
        var text = String(rounded)
        if text.contains("e") { text = String(Int64(rounded)) }
        return text
    }
}

/// When each request of an open-loop run is meant to start: evenly spaced at `rate` per second.
package struct OpenLoopSchedule: Sendable {
    package var rate: Double

    package init(rate: Double) {
        self.rate = rate
    }

    /// The offset from the run's start of request `index` (from 0).
    package func offset(of index: Int) -> Duration {
        .nanoseconds(Int64((Double(index) * 1e9 / rate).rounded()))
    }

    /// How many requests a run of `duration` sends.
    package func count(in duration: Duration) -> Int {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return Int((seconds * rate).rounded(.down))
    }
}
