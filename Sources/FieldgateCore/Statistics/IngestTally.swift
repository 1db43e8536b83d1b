package import FieldgateModel
import Synchronization

/// What became of ingest requests for one vendor and tenant in one minute: the overview's numbers.
///
/// Accepted events and quarantined requests are stored anyway, but duplicates and 401/413 refusals are not, and
/// counting any of them from the stored rows would scan a day of events per look. So every outcome is counted
/// the same way: in memory per minute (``IngestTally``), added to the store every few seconds
/// (``IngestCountFlush``). Rows from several instances add up, because each adds its own increments.
package struct IngestCount: Sendable, Equatable, Hashable {
    /// Minutes since the Unix epoch, UTC.
    package var minute: Int64
    package var vendor: String
    /// The tenant slug, or ``IngestCount/unknownTenant`` for a tenant that is not configured.
    package var tenant: String
    package var outcome: Outcome
    package var count: Int

    /// Not a tenant slug (slugs are one path segment without `?`), so it can never be confused with one.
    package static let unknownTenant = "?"

    package init(minute: Int64, vendor: String, tenant: String, outcome: Outcome, count: Int) {
        self.minute = minute
        self.vendor = vendor
        self.tenant = tenant
        self.outcome = outcome
        self.count = count
    }

    /// `accepted`, `duplicate`, `quarantined`, or the HTTP status of a refusal (`401`, `413`, `415`, `400`, `422`,
    /// `503`, …). A quarantined request is counted twice: once under its status and once as `quarantined`.
    package struct Outcome: Sendable, Hashable, RawRepresentable, Comparable {
        package var rawValue: String
        package init(rawValue: String) { self.rawValue = rawValue }

        package static let accepted = Outcome(rawValue: "accepted")
        package static let duplicate = Outcome(rawValue: "duplicate")
        package static let quarantined = Outcome(rawValue: "quarantined")
        package static func refused(status: Int) -> Outcome { Outcome(rawValue: String(status)) }

        /// The HTTP status of a refusal; nil for the other outcomes.
        package var refusalStatus: Int? { Int(rawValue) }

        package static func < (lhs: Outcome, rhs: Outcome) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    package static func minute(of instant: UTCTimestamp) -> Int64 {
        let milliseconds = instant.millisecondsSinceEpoch
        return milliseconds >= 0 ? milliseconds / 60_000 : (milliseconds - 59_999) / 60_000
    }
}

/// Where ingest counts are kept, shared by every instance on one store.
package protocol IngestCountStore: Sendable {
    /// Adds each count to what the store has for its minute, vendor, tenant and outcome, in one transaction.
    func addIngestCounts(_ counts: [IngestCount]) async throws
    /// Every count from `minute` on, summed over the instances that added them.
    func ingestCounts(sinceMinute minute: Int64) async throws -> [IngestCount]
    /// Deletes counts of minutes before `minute`; returns how many rows went.
    func deleteIngestCounts(beforeMinute minute: Int64) async throws -> Int
}

/// Ingest outcomes counted in process memory, per minute, vendor, tenant and outcome: one lock and one dictionary
/// increment per request, nothing written on the request's path.
package final class IngestTally: Sendable {
    struct Key: Hashable {
        var minute: Int64
        var vendor: String
        var tenant: String
        var outcome: IngestCount.Outcome
    }

    private let counts = Mutex<[Key: Int]>([:])

    package init() {}

    /// Counts one answered ingest request; `tenant` nil for a tenant that is not configured.
    package func record(
        vendor: String,
        tenant: String?,
        outcome: IngestCount.Outcome,
        quarantined: Bool = false,
        at instant: UTCTimestamp
    ) {
        let minute = IngestCount.minute(of: instant)
        let tenant = tenant ?? IngestCount.unknownTenant
        counts.withLock { counts in
            counts[Key(minute: minute, vendor: vendor, tenant: tenant, outcome: outcome), default: 0] += 1
            if quarantined {
                counts[Key(minute: minute, vendor: vendor, tenant: tenant, outcome: .quarantined), default: 0] += 1
            }
        }
    }

    /// Everything counted since the last drain, and a fresh start.
    package func drain() -> [IngestCount] {
        let drained = counts.withLock { counts in
            let current = counts
            counts.removeAll(keepingCapacity: true)
            return current
        }
        return drained.map {
            IngestCount(
                minute: $0.key.minute,
                vendor: $0.key.vendor,
                tenant: $0.key.tenant,
                outcome: $0.key.outcome,
                count: $0.value
            )
        }
    }

    /// What was counted since the last drain, without draining it: a page adds it to the stored counts, so this
    /// instance's latest requests show at once.
    package func pending() -> [IngestCount] {
        counts.withLock { counts in
            counts.map {
                IngestCount(
                    minute: $0.key.minute,
                    vendor: $0.key.vendor,
                    tenant: $0.key.tenant,
                    outcome: $0.key.outcome,
                    count: $0.value
                )
            }
        }
    }

    /// Puts counts back that could not be stored, so the next flush tries them again.
    package func restore(_ restored: [IngestCount]) {
        counts.withLock { counts in
            for count in restored {
                let key = Key(minute: count.minute, vendor: count.vendor, tenant: count.tenant, outcome: count.outcome)
                counts[key, default: 0] += count.count
            }
        }
    }
}
