package import FieldgateCore
import FieldgateModel
import GRDB

import struct Foundation.Data

/// The `job` table: one row per job key, written in the transaction of each of the job's events, so that the jobs
/// listing reads one row per job — through an index on its order — and never the events.
enum SQLiteJobs {
    /// Folds one stored event into its job's row: a primary-key read and one write, on the committer's transaction.
    static func record(_ event: CanonicalEvent, sequence: Int64, in database: Database) throws {
        guard let key = event.job?.key else { return }
        let existing = try Row.fetchOne(
            database.cachedStatement(sql: "SELECT * FROM job WHERE key = ?"),
            arguments: [key]
        ).map(summary)
        guard let existing else {
            if let first = JobSummary(first: event, sequence: sequence) { try save(first, in: database) }
            return
        }
        let next = existing.applying(event, sequence: sequence)
        guard next.status == existing.status, next.vendorStatus == existing.vendorStatus,
            next.statusAt == existing.statusAt, next.updatedAt == existing.updatedAt
        else { return try save(next, in: database) }
        // Only the unindexed columns changed: an UPDATE that names no indexed column leaves the indexes alone, so
        // the event's transaction writes one more page, not four.
        try database.cachedStatement(
            sql: "UPDATE job SET lastEventAt = ?, lastEventID = ?, lastSequence = ?, eventCount = ? WHERE key = ?"
        ).execute(
            arguments: [
                next.lastEventAt.millisecondsSinceEpoch, next.lastEventID, next.lastSequence, next.eventCount, key,
            ]
        )
    }

    static func save(_ job: JobSummary, in database: Database) throws {
        try database.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO job (key, vendor, tenant, jobId, status, vendorStatusCode, vendorStatusName,
                                            statusAt, statusSequence, lastEventAt, lastEventID, lastSequence,
                                            eventCount, updatedAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                job.key, job.vendor, job.tenant, job.jobID, job.status?.rawValue, job.vendorStatus?.code,
                job.vendorStatus?.name, job.statusAt?.millisecondsSinceEpoch, job.statusSequence,
                job.lastEventAt.millisecondsSinceEpoch, job.lastEventID, job.lastSequence, job.eventCount,
                job.updatedAt.millisecondsSinceEpoch,
            ]
        )
    }

    /// Rebuilds the rows of these jobs from the events that are left (after retention deleted some).
    static func rebuild(keys: Set<String>, in database: Database) throws {
        for key in keys {
            let events = try Row.fetchAll(
                database,
                sql: "SELECT sequence, json FROM event WHERE jobKey = ? ORDER BY sequence",
                arguments: [key]
            ).map { row in
                (event: try CanonicalEvent(decoding: Array(row["json"] as Data)), sequence: row["sequence"] as Int64)
            }
            if let job = JobSummary(events: events) {
                try save(job, in: database)
            } else {
                try database.execute(sql: "DELETE FROM job WHERE key = ?", arguments: [key])
            }
        }
    }

    /// Fills the table from every stored event (the migration that adds it).
    static func rebuildAll(in database: Database) throws {
        var jobs: [String: JobSummary] = [:]
        let rows = try Row.fetchCursor(
            database,
            sql: "SELECT sequence, json FROM event WHERE jobKey IS NOT NULL ORDER BY sequence"
        )
        while let row = try rows.next() {
            let event = try CanonicalEvent(decoding: Array(row["json"] as Data))
            let sequence: Int64 = row["sequence"]
            guard let key = event.job?.key else { continue }
            jobs[key] = jobs[key]?.applying(event, sequence: sequence) ?? JobSummary(first: event, sequence: sequence)
        }
        for job in jobs.values { try save(job, in: database) }
    }

    static func summary(_ row: Row) -> JobSummary {
        JobSummary(
            key: row["key"],
            vendor: row["vendor"],
            tenant: row["tenant"],
            jobID: row["jobId"],
            status: (row["status"] as String?).flatMap(JobStatus.init(rawValue:)),
            vendorStatus: VendorStatus(code: row["vendorStatusCode"], name: row["vendorStatusName"]),
            statusAt: (row["statusAt"] as Int64?).map(UTCTimestamp.init(millisecondsSinceEpoch:)),
            statusSequence: row["statusSequence"],
            lastEventAt: UTCTimestamp(millisecondsSinceEpoch: row["lastEventAt"]),
            lastEventID: row["lastEventID"],
            lastSequence: row["lastSequence"],
            eventCount: row["eventCount"]
        )
    }
}

extension SQLiteEventStore {
    package func jobs(_ query: JobQuery) async throws -> JobPage {
        var filter = SQLFilter()
        filter.add("vendor = ?", query.vendor)
        filter.add("tenant = ?", query.tenant)
        filter.add("status = ?", query.status?.rawValue)
        filter.add("updatedAt < ?", query.updatedBefore?.millisecondsSinceEpoch)
        if let after = query.after {
            filter.add("(updatedAt, key) < (?, ?)", values: [after.updatedAt.millisecondsSinceEpoch, after.key])
        }
        let sql = """
            SELECT * FROM job \(filter.whereClause) ORDER BY updatedAt DESC, key DESC LIMIT \(query.limit + 1)
            """
        let arguments = filter.arguments
        let fetched = try await pool.read { database in
            try Row.fetchAll(database, sql: sql, arguments: arguments).map(SQLiteJobs.summary)
        }
        return JobPage(fetched: fetched, limit: query.limit)
    }
}
