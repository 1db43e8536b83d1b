package import FieldgateCore
package import FieldgateModel
import GRDB
import Synchronization

import struct Foundation.Data

/// How much may wait for the SQLite committer (see ``GroupCommit``): 4,096 writes or 64 MiB by default, far more
/// than the disk commits in a second at the measured rates, so only a stalled or overwhelmed disk reaches it.
package struct CommitQueueLimits: Sendable {
    var limits = GroupCommit.Limits()

    package init() {}

    package init(maximumQueued: Int, maximumQueuedBytes: Int = 64 * 1_048_576, retryAfter: Duration = .seconds(1)) {
        limits = GroupCommit.Limits(
            maximumQueued: maximumQueued,
            maximumQueuedBytes: maximumQueuedBytes,
            retryAfter: retryAfter
        )
    }
}

/// The embedded default ``EventStore``: one SQLite file in WAL mode, `synchronous=FULL`, writes group-committed.
///
/// An answer from a write means the row is on disk: SQLite with `synchronous=FULL` fsyncs the WAL at every
/// commit, and ``GroupCommit`` makes concurrent requests share those commits instead of weakening them.
package final class SQLiteEventStore: EventStore, StoreChangeAnnouncing {
    let pool: DatabasePool
    /// Published after this store's commits: nothing else writes to the file.
    package let changes = StoreChanges()
    let commits: GroupCommit
    let checkpointer: WALCheckpointer
    /// Enabled subscribers, read once and kept until a subscriber changes through this store: every insert
    /// matches the event against them to write its deliveries.
    let enabledSubscribers = Mutex<[Subscriber]?>(nil)
    package let path: String

    /// Opens (creating if needed) and migrates the database at `path`.
    ///
    /// - Parameter onCommit: called with the number of writes in each committed batch.
    /// - Parameter commitQueue: how many ingest writes (and bytes) may wait for the committer before more are
    ///   refused with ``StoreOverloaded``.
    package init(
        path: String,
        commitQueue: CommitQueueLimits = CommitQueueLimits(),
        onCommit: @escaping @Sendable (Int) -> Void = { _ in }
    ) throws {
        var configuration = Configuration()
        configuration.label = "fieldgate"
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { database in
            try database.execute(sql: "PRAGMA synchronous = FULL")
            // Checkpoints run on their own connection (WALCheckpointer), never inside a commit.
            try database.execute(sql: "PRAGMA wal_autocheckpoint = 0")
            // When the log restarts after a checkpoint, a file that grew past 64 MiB (a burst, a retention pass)
            // is cut back to that, so the log's size on disk stays bounded too.
            try database.execute(sql: "PRAGMA journal_size_limit = 67108864")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try SQLiteSchema.migrator.migrate(pool)
        checkpointer = try WALCheckpointer(path: path, configuration: configuration)
        commits = GroupCommit(writer: pool, checkpointer: checkpointer, limits: commitQueue.limits, onCommit: onCommit)
        self.path = path
    }

    // MARK: Writes

    package func insertIfNew(_ candidate: EventCandidate) async throws -> InsertOutcome {
        // Everything that does not need the database is prepared here, on the request's task: the committer
        // is one thread for all writers.
        let row = PreparedEvent(
            json: Data(candidate.event.jsonBytes),
            headers: SQLiteSchema.encode(candidate.raw.headers),
            body: Data(candidate.raw.body)
        )
        let outcome = try await commits.write(bytes: row.json.count + row.headers.utf8.count + row.body.count) {
            database in
            let outcome = try Self.insertIfNew(candidate, row: row, in: database)
            if case .inserted(let event) = outcome {
                try self.queueDeliveries(of: event, in: database)
            }
            return outcome
        }
        if case .inserted = outcome { changes.publish(.events) }
        return outcome
    }

    /// An event's columns that are serialised before its transaction.
    struct PreparedEvent: Sendable {
        var json: Data
        var headers: String
        var body: Data
    }

    /// Dedupe without a table of its own: a key's events have the IDs `eventID(occurrence: 1, 2, …)`, and the row
    /// of the latest one carries the key's expiry (`keyExpiresAt`, null once superseded or purged). So the event ID
    /// index answers dedupe too, and a new event dirties one random B-tree page less than with a separate
    /// digest-keyed table — the log bytes per event are what bounds durable ingest here.
    static func insertIfNew(
        _ candidate: EventCandidate,
        row: PreparedEvent,
        in database: Database
    ) throws
        -> InsertOutcome
    {
        let now = candidate.event.receivedAt.millisecondsSinceEpoch
        // Statements on this path are cached per connection: preparing them costs more than running them.
        let probe = try database.cachedStatement(sql: "SELECT keyExpiresAt FROM event WHERE id = ?")
        var occurrence = 1
        var eventID = candidate.key.eventID
        var earlier: [String] = []
        while let record = try Row.fetchOne(probe, arguments: [eventID]) {
            if let expiresAt = record[0] as Int64?, now < expiresAt {
                // A duplicate is answered with the first copy's ID alone: nothing of it is read or decoded.
                return .duplicate(id: eventID)
            }
            earlier.append(eventID)
            occurrence += 1
            eventID = candidate.key.eventID(occurrence: occurrence)
        }
        // A repeat after the window (rare): the earlier acceptances no longer answer duplicates, but the chain of
        // IDs the probe walks must stay whole while this one counts, so retention keeps them until then.
        for id in earlier {
            try database.cachedStatement(sql: "UPDATE event SET keyExpiresAt = NULL, chainExpiresAt = ? WHERE id = ?")
                .execute(arguments: [candidate.keyExpiresAt.millisecondsSinceEpoch, id])
        }
        var event = candidate.event
        event.id = eventID
        let eventJSON = occurrence == 1 ? row.json : Data(event.jsonBytes)
        try database.cachedStatement(
            sql: """
                INSERT INTO event (id, vendor, tenant, type, jobKey, status, time, receivedAt, json,
                                   rawMethod, rawPath, rawHeaders, rawBody, keyExpiresAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                event.id, event.vendor, event.tenant, event.type.rawValue, event.job?.key,
                event.job?.status?.rawValue, event.time.millisecondsSinceEpoch,
                event.receivedAt.millisecondsSinceEpoch, eventJSON, candidate.raw.method, candidate.raw.path,
                row.headers, row.body, candidate.keyExpiresAt.millisecondsSinceEpoch,
            ]
        )
        try SQLiteJobs.record(event, sequence: database.lastInsertedRowID, in: database)
        return .inserted(event)
    }

    package func quarantine(_ request: QuarantinedRequest) async throws {
        try await commits.write(bytes: request.raw.body.count + 1024) { database in
            try database.execute(
                sql: """
                    INSERT INTO quarantine (id, vendor, tenant, routeSuffix, rawMethod, rawPath, rawHeaders, rawBody,
                                            problemCode, problemStatus, problemTitle, problemDetail, receivedAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    request.id, request.vendor, request.tenant, request.routeSuffix, request.raw.method,
                    request.raw.path, SQLiteSchema.encode(request.raw.headers), Data(request.raw.body),
                    request.problem.code.rawValue, request.problem.status, request.problem.title,
                    request.problem.detail,
                    request.receivedAt.millisecondsSinceEpoch,
                ]
            )
        }
    }

    package func insertReplay(
        _ candidate: EventCandidate,
        quarantineID: String,
        at instant: UTCTimestamp
    ) async throws -> ReplayInsertOutcome {
        let row = PreparedEvent(
            json: Data(candidate.event.jsonBytes),
            headers: SQLiteSchema.encode(candidate.raw.headers),
            body: Data(candidate.raw.body)
        )
        return try await commits.write { database in
            guard
                let request = try Row.fetchOne(
                    database,
                    sql: "SELECT replayedAs, replayedAt FROM quarantine WHERE id = ?",
                    arguments: [quarantineID]
                )
            else { return .notFound }
            if let eventID = request["replayedAs"] as String? {
                let at = (request["replayedAt"] as Int64?).map(UTCTimestamp.init(millisecondsSinceEpoch:))
                return .alreadyReplayed(eventID: eventID, at: at)
            }
            let outcome = try Self.insertIfNew(candidate, row: row, in: database)
            if case .inserted(let event) = outcome {
                try self.queueDeliveries(of: event, in: database)
            }
            try database.execute(
                sql: "UPDATE quarantine SET replayedAs = ?, replayedAt = ? WHERE id = ?",
                arguments: [outcome.eventID, instant.millisecondsSinceEpoch, quarantineID]
            )
            return .replayed(outcome)
        }
    }

    // MARK: Retention

    package func deleteEvents(receivedBefore instant: UTCTimestamp, now: UTCTimestamp, limit: Int) async throws -> Int {
        try await commits.write { database in
            let rows = try Row.fetchAll(
                database,
                sql: """
                    SELECT id, jobKey FROM event
                    WHERE receivedAt < ? AND (keyExpiresAt IS NULL OR keyExpiresAt <= ?)
                      AND (chainExpiresAt IS NULL OR chainExpiresAt <= ?)
                    ORDER BY receivedAt LIMIT ?
                    """,
                arguments: [
                    instant.millisecondsSinceEpoch, now.millisecondsSinceEpoch, now.millisecondsSinceEpoch, limit,
                ]
            )
            guard !rows.isEmpty else { return 0 }
            let ids = rows.map { $0["id"] as String }
            let list = SQLiteSchema.placeholders(ids.count)
            let arguments = StatementArguments(ids)
            try database.execute(
                sql:
                    "DELETE FROM delivery_attempt WHERE deliveryID IN (SELECT id FROM delivery WHERE eventID IN \(list))",
                arguments: arguments
            )
            try database.execute(sql: "DELETE FROM delivery WHERE eventID IN \(list)", arguments: arguments)
            try database.execute(sql: "DELETE FROM event WHERE id IN \(list)", arguments: arguments)
            try SQLiteJobs.rebuild(keys: Set(rows.compactMap { $0["jobKey"] as String? }), in: database)
            return ids.count
        }
    }

    package func deleteQuarantinedRequests(receivedBefore instant: UTCTimestamp, limit: Int) async throws -> Int {
        try await commits.write { database in
            try database.execute(
                sql: """
                    DELETE FROM quarantine WHERE sequence IN (
                        SELECT sequence FROM quarantine WHERE receivedAt < ? ORDER BY receivedAt LIMIT ?)
                    """,
                arguments: [instant.millisecondsSinceEpoch, limit]
            )
            return database.changesCount
        }
    }

    package func purgeExpiredKeys(before instant: UTCTimestamp) async throws -> Int {
        try await commits.write { database in
            try database.execute(
                sql: "UPDATE event SET keyExpiresAt = NULL WHERE keyExpiresAt <= ?",
                arguments: [instant.millisecondsSinceEpoch]
            )
            return database.changesCount
        }
    }

    package func checkWritable() async throws {
        try await commits.write { database in
            try database.execute(
                sql: "INSERT OR REPLACE INTO readiness_probe (id, checkedAt) VALUES (1, strftime('%s', 'now'))"
            )
        }
    }

    // MARK: Reads

    package func event(id: String) async throws -> StoredEvent? {
        try await pool.read { database in try Self.fetchEvent(id: id, in: database) }
    }

    package func events(_ query: EventQuery) async throws -> Page<StoredEvent> {
        var filter = SQLFilter()
        filter.add("vendor = ?", query.vendor)
        filter.add("tenant = ?", query.tenant)
        filter.add("type = ?", query.type)
        filter.add("jobKey = ?", query.jobKey)
        filter.add("status = ?", query.status)
        filter.add("receivedAt >= ?", query.since?.millisecondsSinceEpoch)
        filter.add("receivedAt < ?", query.until?.millisecondsSinceEpoch)
        filter.add("sequence < ?", query.before)
        return try await newestFirst(
            from: "event",
            by: "sequence",
            filter,
            limit: query.limit,
            sequence: \.sequence,
            Self.storedEvent
        )
    }

    package func events(after sequence: Int64, limit: Int) async throws -> [StoredEvent] {
        try await pool.read { database in
            try Row.fetchAll(
                database,
                sql: "SELECT * FROM event WHERE sequence > ? ORDER BY sequence LIMIT ?",
                arguments: [sequence, limit]
            ).map(Self.storedEvent)
        }
    }

    package func events(jobKey: String) async throws -> [StoredEvent] {
        try await pool.read { database in
            try Row.fetchAll(
                database,
                sql: "SELECT * FROM event WHERE jobKey = ? ORDER BY sequence",
                arguments: [jobKey]
            ).map(Self.storedEvent)
        }
    }

    package func quarantinedRequests(_ query: QuarantineQuery) async throws -> Page<QuarantinedRequest> {
        var filter = SQLFilter()
        filter.add("vendor = ?", query.vendor)
        filter.add("tenant = ?", query.tenant)
        filter.add("sequence < ?", query.before)
        return try await newestFirst(
            from: "quarantine",
            by: "sequence",
            filter,
            limit: query.limit,
            sequence: \.sequence,
            Self.quarantinedRequest
        )
    }

    /// One page of a newest-first listing: one row more than `limit` is fetched only to know there is a next page.
    func newestFirst<Item: Sendable>(
        from table: String,
        by order: String,
        _ filter: SQLFilter,
        limit: Int,
        sequence: KeyPath<Item, Int64>,
        _ item: @escaping @Sendable (Row) throws -> Item
    ) async throws -> Page<Item> {
        let sql = "SELECT * FROM \(table) \(filter.whereClause) ORDER BY \(order) DESC LIMIT \(limit + 1)"
        let arguments = filter.arguments
        let fetched = try await pool.read { database in
            try Row.fetchAll(database, sql: sql, arguments: arguments).map(item)
        }
        return Page(fetched: fetched, limit: limit, sequence: { $0[keyPath: sequence] })
    }

    package func quarantinedRequest(id: String) async throws -> QuarantinedRequest? {
        try await pool.read { database in
            try Row.fetchOne(database, sql: "SELECT * FROM quarantine WHERE id = ?", arguments: [id])
                .map(Self.quarantinedRequest)
        }
    }

    // MARK: Rows

    static func fetchEvent(id: String, in database: Database) throws -> StoredEvent? {
        try Row.fetchOne(database.cachedStatement(sql: "SELECT * FROM event WHERE id = ?"), arguments: [id])
            .map(storedEvent)
    }

    static func storedEvent(_ row: Row) throws -> StoredEvent {
        let json: [UInt8] = Array(row["json"] as Data)
        return StoredEvent(
            event: try CanonicalEvent(decoding: json),
            raw: try raw(row),
            sequence: row["sequence"]
        )
    }

    static func raw(_ row: Row) throws -> RedactedRequest {
        RedactedRequest(
            method: row["rawMethod"],
            path: row["rawPath"],
            headers: try SQLiteSchema.decodeHeaders(row["rawHeaders"]),
            body: Array(row["rawBody"] as Data)
        )
    }

    static func quarantinedRequest(_ row: Row) throws -> QuarantinedRequest {
        QuarantinedRequest(
            id: row["id"],
            vendor: row["vendor"],
            tenant: row["tenant"],
            routeSuffix: row["routeSuffix"],
            raw: try raw(row),
            problem: Problem(
                storedCode: row["problemCode"],
                status: row["problemStatus"],
                title: row["problemTitle"],
                detail: row["problemDetail"]
            ),
            receivedAt: UTCTimestamp(millisecondsSinceEpoch: row["receivedAt"]),
            replayedAs: row["replayedAs"],
            replayedAt: (row["replayedAt"] as Int64?).map(UTCTimestamp.init(millisecondsSinceEpoch:)),
            sequence: row["sequence"]
        )
    }
}

/// The `WHERE` clause of a listing, built from the filters that are set.
struct SQLFilter {
    private(set) var conditions: [String] = []
    private(set) var arguments: StatementArguments = []

    /// Adds `condition` (with one `?`) when `value` is not nil.
    mutating func add(_ condition: String, _ value: (any DatabaseValueConvertible)?) {
        guard let value else { return }
        conditions.append(condition)
        arguments += [value]
    }

    /// Adds `condition` with one `?` per value.
    mutating func add(_ condition: String, values: [any DatabaseValueConvertible]) {
        conditions.append(condition)
        arguments += StatementArguments(values)
    }

    var whereClause: String {
        conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
    }
}
