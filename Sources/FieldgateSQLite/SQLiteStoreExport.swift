package import FieldgateCore
import FieldgateModel
import GRDB

/// The SQLite store as the source of `fieldgate store copy`: every table in key order, read from a snapshot-free
/// reader (the gateway is stopped while it copies).
extension SQLiteEventStore: StoreExporting {
    package func exportSubscribers() async throws -> [Subscriber] {
        try await subscribers()
    }

    package func exportEvents(after sequence: Int64, limit: Int) async throws -> [ExportedEvent] {
        try await pool.read { database in
            try Row.fetchAll(
                database,
                sql: "SELECT * FROM event WHERE sequence > ? ORDER BY sequence LIMIT ?",
                arguments: [sequence, limit]
            ).map { row in
                ExportedEvent(
                    stored: try Self.storedEvent(row),
                    keyExpiresAt: (row["keyExpiresAt"] as Int64?).map(UTCTimestamp.init(millisecondsSinceEpoch:)),
                    chainExpiresAt: (row["chainExpiresAt"] as Int64?).map(UTCTimestamp.init(millisecondsSinceEpoch:))
                )
            }
        }
    }

    package func exportQuarantine(after sequence: Int64, limit: Int) async throws -> [QuarantinedRequest] {
        try await pool.read { database in
            try Row.fetchAll(
                database,
                sql: "SELECT * FROM quarantine WHERE sequence > ? ORDER BY sequence LIMIT ?",
                arguments: [sequence, limit]
            ).map(Self.quarantinedRequest)
        }
    }

    package func exportDeliveries(after id: Int64, limit: Int) async throws -> [Delivery] {
        try await pool.read { database in
            try Row.fetchAll(
                database,
                sql: "SELECT * FROM delivery WHERE id > ? ORDER BY id LIMIT ?",
                arguments: [id, limit]
            ).map(Self.delivery)
        }
    }

    package func exportAttempts(after position: Int64, limit: Int) async throws -> [ExportedAttempt] {
        try await pool.read { database in
            try Row.fetchAll(
                database,
                sql: "SELECT rowid AS position, * FROM delivery_attempt WHERE rowid > ? ORDER BY rowid LIMIT ?",
                arguments: [position, limit]
            ).map { row in
                ExportedAttempt(
                    position: row["position"],
                    attempt: DeliveryAttempt(
                        deliveryID: row["deliveryID"],
                        at: UTCTimestamp(millisecondsSinceEpoch: row["at"]),
                        statusCode: row["statusCode"],
                        error: row["error"],
                        durationMilliseconds: row["durationMilliseconds"],
                        result: DeliveryAttempt.Result(
                            name: row["result"],
                            retryAt: (row["retryAt"] as Int64?).map(UTCTimestamp.init(millisecondsSinceEpoch:))
                        )
                    )
                )
            }
        }
    }

    package func exportCounts() async throws -> [StoreTable: Int] {
        try await pool.read { database in
            var counts: [StoreTable: Int] = [:]
            for (table, name) in [
                (StoreTable.subscribers, "subscriber"), (.events, "event"), (.quarantine, "quarantine"),
                (.deliveries, "delivery"), (.attempts, "delivery_attempt"),
            ] {
                counts[table] = try Int.fetchOne(database, sql: "SELECT COUNT(*) FROM \(name)") ?? 0
            }
            return counts
        }
    }
}
