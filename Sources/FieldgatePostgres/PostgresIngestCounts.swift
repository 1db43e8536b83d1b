package import FieldgateCore
package import FieldgateModel
import PostgresNIO

extension PostgresEventStore: IngestCountStore {
    package func addIngestCounts(_ counts: [IngestCount]) async throws {
        guard !counts.isEmpty else { return }
        let logger = self.logger
        // One statement for the whole flush: the rows as arrays, unnested. Several instances add to the same rows.
        let minutes = counts.map(\.minute)
        let vendors = counts.map(\.vendor)
        let tenants = counts.map(\.tenant)
        let outcomes = counts.map(\.outcome.rawValue)
        let values = counts.map { Int64($0.count) }
        try await transactions.run("ingest counts") { connection in
            try await connection.perform(
                """
                INSERT INTO ingest_count (minute, vendor, tenant, outcome, count)
                SELECT * FROM unnest(\(minutes)::bigint[], \(vendors)::text[], \(tenants)::text[], \(outcomes)::text[],
                                     \(values)::bigint[])
                ORDER BY 1, 2, 3, 4
                ON CONFLICT (minute, vendor, tenant, outcome) DO UPDATE SET count = ingest_count.count + excluded.count
                """,
                logger: logger
            )
        }
    }

    package func ingestCounts(sinceMinute minute: Int64) async throws -> [IngestCount] {
        try await read("ingest counts") { connection, logger in
            try await connection.query(
                "SELECT minute, vendor, tenant, outcome, count FROM ingest_count WHERE minute >= \(minute)",
                logger: logger
            ).collect().map { row in
                let (minute, vendor, tenant, outcome, count) = try row.decode(
                    (Int64, String, String, String, Int64).self
                )
                return IngestCount(
                    minute: minute,
                    vendor: vendor,
                    tenant: tenant,
                    outcome: IngestCount.Outcome(rawValue: outcome),
                    count: Int(count)
                )
            }
        }
    }

    package func deleteIngestCounts(beforeMinute minute: Int64) async throws -> Int {
        let logger = self.logger
        return try await transactions.run("delete ingest counts") { connection in
            try await connection.query(
                "DELETE FROM ingest_count WHERE minute < \(minute) RETURNING 1",
                logger: logger
            ).collect().count
        }
    }

    /// One pass over the period's attempts (the `delivery_attempt_at` index), grouped by subscriber, with each
    /// subscriber's latest failure of the period.
    package func deliveryHealth(since: UTCTimestamp) async throws -> [DeliveryHealth] {
        try await read("delivery health") { connection, logger in
            try await connection.query(
                """
                SELECT d.subscriber_id, count(*), count(*) FILTER (WHERE a.result = 'delivered'), max(a.at),
                       (array_agg(a.at ORDER BY a.at DESC, a.serial DESC) FILTER (WHERE a.result <> 'delivered'))[1],
                       (array_agg(a.status_code ORDER BY a.at DESC, a.serial DESC)
                            FILTER (WHERE a.result <> 'delivered'))[1],
                       (array_agg(a.error ORDER BY a.at DESC, a.serial DESC) FILTER (WHERE a.result <> 'delivered'))[1]
                FROM delivery_attempt a JOIN delivery d ON d.id = a.delivery_id
                WHERE a.at >= \(since.millisecondsSinceEpoch)
                GROUP BY d.subscriber_id ORDER BY d.subscriber_id
                """,
                logger: logger
            ).collect().map { row in
                let (id, attempts, delivered, last, failedAt, failedStatus, failedError) = try row.decode(
                    (String, Int64, Int64, Int64?, Int64?, Int32?, String?).self
                )
                return DeliveryHealth(
                    subscriberID: id,
                    attempts: Int(attempts),
                    delivered: Int(delivered),
                    lastAttemptAt: last.map(UTCTimestamp.init(millisecondsSinceEpoch:)),
                    lastFailureAt: failedAt.map(UTCTimestamp.init(millisecondsSinceEpoch:)),
                    lastFailureStatus: failedStatus.map(Int.init),
                    lastFailureError: failedError
                )
            }
        }
    }
}
