package import FieldgateCore
import GRDB

extension SQLiteEventStore: IngestCountStore {
    package func addIngestCounts(_ counts: [IngestCount]) async throws {
        try await commits.write { database in
            let statement = try database.cachedStatement(
                sql: """
                    INSERT INTO ingest_count (minute, vendor, tenant, outcome, count) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (minute, vendor, tenant, outcome) DO UPDATE SET count = count + excluded.count
                    """
            )
            for count in counts {
                try statement.execute(
                    arguments: [count.minute, count.vendor, count.tenant, count.outcome.rawValue, count.count]
                )
            }
        }
    }

    package func ingestCounts(sinceMinute minute: Int64) async throws -> [IngestCount] {
        try await pool.read { database in
            try Row.fetchAll(
                database,
                sql: "SELECT minute, vendor, tenant, outcome, count FROM ingest_count WHERE minute >= ?",
                arguments: [minute]
            ).map { row in
                IngestCount(
                    minute: row["minute"],
                    vendor: row["vendor"],
                    tenant: row["tenant"],
                    outcome: IngestCount.Outcome(rawValue: row["outcome"]),
                    count: row["count"]
                )
            }
        }
    }

    package func deleteIngestCounts(beforeMinute minute: Int64) async throws -> Int {
        try await commits.write { database in
            try database.execute(sql: "DELETE FROM ingest_count WHERE minute < ?", arguments: [minute])
            return database.changesCount
        }
    }
}
