package import FieldgateCore
package import FieldgateModel
import GRDB

extension SQLiteEventStore {
    /// One pass over the period's attempts (the `delivery_attempt_at` index), grouped by subscriber, and one
    /// lookup of each subscriber's latest failure in that period.
    package func deliveryHealth(since: UTCTimestamp) async throws -> [DeliveryHealth] {
        try await pool.read { database in
            let rows = try Row.fetchAll(
                database,
                sql: """
                    SELECT d.subscriberID AS subscriberID, COUNT(*) AS attempts,
                           SUM(a.result = 'delivered') AS delivered, MAX(a.at) AS lastAttemptAt,
                           MAX(CASE WHEN a.result != 'delivered' THEN a.at END) AS lastFailureAt
                    FROM delivery_attempt a JOIN delivery d ON d.id = a.deliveryID
                    WHERE a.at >= ? GROUP BY d.subscriberID ORDER BY d.subscriberID
                    """,
                arguments: [since.millisecondsSinceEpoch]
            )
            return try rows.map { row in
                var health = DeliveryHealth(
                    subscriberID: row["subscriberID"],
                    attempts: row["attempts"],
                    delivered: row["delivered"],
                    lastAttemptAt: (row["lastAttemptAt"] as Int64?).map(UTCTimestamp.init(millisecondsSinceEpoch:))
                )
                if let failedAt = row["lastFailureAt"] as Int64? {
                    health.lastFailureAt = UTCTimestamp(millisecondsSinceEpoch: failedAt)
                    let failure = try Row.fetchOne(
                        database,
                        sql: """
                            SELECT a.statusCode, a.error FROM delivery_attempt a JOIN delivery d ON d.id = a.deliveryID
                            WHERE a.at = ? AND d.subscriberID = ? AND a.result != 'delivered'
                            ORDER BY a.rowid DESC LIMIT 1
                            """,
                        arguments: [failedAt, health.subscriberID]
                    )
                    health.lastFailureStatus = failure?["statusCode"]
                    health.lastFailureError = failure?["error"]
                }
                return health
            }
        }
    }
}
